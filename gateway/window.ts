/**
 * A delivery window for a metered uplink: opens at each time of a cron schedule
 * and stays open for a duration. Outside it, a bridge's events wait on disk.
 *
 * MUST: the window's state (open now? since when? next opening?) is computed, never
 *       scanned: croner finds the previous and the next run of a schedule field by field,
 *       well under a millisecond for any schedule and duration. (Stepping back one second
 *       at a time through a 7-day duration blocked the event loop for seconds.)
 * MUST: no timer waits longer than MAX_STEP_MS: a long wait (a monthly window, a duration
 *       beyond the 24.8 days a timer can wait) is taken in steps, and the state is computed
 *       again at each step, so a wall clock that jumps (a Pi setting its clock late) is
 *       followed within a step.
 */
import { Cron } from 'croner'

export interface WindowHandlers {
  onOpen: () => void
  onClose: () => void
}

export interface WindowState {
  open: boolean
  /** The opening the window is open since (epoch ms), when open. */
  openedAt?: number | undefined
  /** When it closes unless a later opening keeps it open (epoch ms), when open. */
  closesAt?: number | undefined
  /** The next opening after now (epoch ms); undefined when the schedule has none. */
  nextOpen?: number | undefined
}

const MAX_STEP_MS = 60_000

/** The schedule as croner reads it: 5 fields, or 6 with seconds first; throws on an invalid one. */
export function parseSchedule (schedule: string): Cron {
  return new Cron(schedule, { mode: '5-or-6-parts' })
}

/** Why a window schedule cannot be used, or undefined when it can. */
export function checkWindowSchedule (schedule: string): string | undefined {
  let cron: Cron
  try {
    cron = parseSchedule(schedule)
  } catch (err) {
    return `not a valid cron expression: ${JSON.stringify(schedule)} (${(err as Error).message})`
  }
  return cron.nextRun() === null ? `${JSON.stringify(schedule)} never opens` : undefined
}

/** The state at `now` of the window that opens at each run of `cron` and lasts `durationMs`. Pure. */
export function windowState (cron: Cron, durationMs: number, now: number): WindowState {
  // the latest opening at or before now (croner counts a run earlier in the reference's second)
  const last = cron.previousRuns(1, new Date(now + 1))[0]?.getTime()
  const nextOpen = cron.nextRun(new Date(now))?.getTime()
  if (last !== undefined && last <= now && now < last + durationMs) return { open: true, openedAt: last, closesAt: last + durationMs, nextOpen }
  return { open: false, nextOpen }
}

export class DeliveryWindow {
  private readonly cron: Cron
  private readonly durationMs: number
  private readonly handlers: WindowHandlers
  private readonly now: () => number
  private state: WindowState
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor (schedule: string, durationMs: number, handlers: WindowHandlers, now: () => number = Date.now) {
    this.cron = parseSchedule(schedule)
    this.durationMs = durationMs
    this.handlers = handlers
    this.now = now
    this.state = windowState(this.cron, durationMs, now())
    // a window that opened before we started may still be open
    if (this.state.open) handlers.onOpen()
    this.arm()
  }

  get isOpen (): boolean {
    return this.state.open && this.now() < (this.state.closesAt ?? 0)
  }

  /** When the next window opens (ISO time), for status. */
  nextOpen (): string | undefined {
    return this.state.nextOpen === undefined ? undefined : new Date(this.state.nextOpen).toISOString()
  }

  closesAt (): string | undefined {
    return this.isOpen ? new Date(this.state.closesAt as number).toISOString() : undefined
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
  }

  /** Wakes at the next change (closing or opening), or after MAX_STEP_MS, whichever is first. */
  private arm (): void {
    if (this.closed) return
    const change = this.state.open ? this.state.closesAt : this.state.nextOpen
    const wait = change === undefined ? MAX_STEP_MS : Math.min(Math.max(0, change - this.now()), MAX_STEP_MS)
    this.timer = setTimeout(() => this.tick(), wait)
    this.timer.unref()
  }

  private tick (): void {
    const wasOpen = this.state.open
    this.state = windowState(this.cron, this.durationMs, this.now())
    if (!wasOpen && this.state.open) this.handlers.onOpen()
    else if (wasOpen && !this.state.open) this.handlers.onClose()
    this.arm()
  }
}
