/**
 * A delivery window for a metered uplink: opens at each time of a cron schedule
 * and stays open for a duration. Outside it, a bridge's events wait on disk.
 */
import cron, { type ScheduledTask } from 'node-cron'

export interface WindowHandlers {
  onOpen: () => void
  onClose: () => void
}

export class DeliveryWindow {
  private readonly task: ScheduledTask
  private readonly durationMs: number
  private readonly now: () => number
  private closeTimer: NodeJS.Timeout | undefined
  private openUntil = 0

  constructor (schedule: string, durationMs: number, handlers: WindowHandlers, now: () => number = Date.now) {
    this.durationMs = durationMs
    this.now = now
    this.task = cron.schedule(schedule, () => this.open(handlers), { name: 'delivery-window', unref: true })
    // a window that opened before we started may still be open
    const since = this.lastOpeningWithin(schedule, durationMs)
    if (since !== undefined) this.open(handlers, since)
  }

  get isOpen (): boolean {
    return this.now() < this.openUntil
  }

  /** When the next window opens (ISO time), for status. */
  nextOpen (): string | undefined {
    return this.task.getNextRun()?.toISOString()
  }

  closesAt (): string | undefined {
    return this.isOpen ? new Date(this.openUntil).toISOString() : undefined
  }

  private open (handlers: WindowHandlers, openedAt = this.now()): void {
    const wasOpen = this.isOpen
    this.openUntil = Math.max(this.openUntil, openedAt + this.durationMs)
    clearTimeout(this.closeTimer)
    this.closeTimer = setTimeout(() => {
      this.closeTimer = undefined
      handlers.onClose()
    }, this.openUntil - this.now())
    this.closeTimer.unref()
    if (!wasOpen) handlers.onOpen()
  }

  /** The most recent scheduled opening within the last `durationMs`, if any (checked per second). */
  private lastOpeningWithin (schedule: string, durationMs: number): number | undefined {
    const now = Math.floor(this.now() / 1000) * 1000
    const limit = Math.min(durationMs, 7 * 86_400_000)
    const step = schedule.trim().split(/\s+/).length === 6 ? 1000 : 60_000
    const start = step === 60_000 ? Math.floor(now / 60_000) * 60_000 : now
    for (let t = start; t > now - limit; t -= step) {
      if (this.task.match(new Date(t))) return t
    }
    return undefined
  }

  async close (): Promise<void> {
    clearTimeout(this.closeTimer)
    await this.task.destroy()
  }
}
