/**
 * Stores a bridge's cursor in the background: delivery does not wait for it.
 *
 * MUST: one write at a time, the newest value next, at most one per WRITE_INTERVAL_MS.
 * MUST: a failed write is retried with backoff until it succeeds or the bridge stops;
 *       a failure never stops delivery by itself (the bridge only waits, through
 *       `flushed()`, when the stored cursor trails too far).
 * SHOULD: one report when writes start failing and one when they succeed again.
 *
 * A LevelDB write queues behind the log's fsynced group commits, so waiting for it before
 * every request would cost milliseconds per request while devices publish, and a write per
 * event costs CPU in binary mode. A stored cursor a little behind after a crash only means
 * those events are resent, with their ids.
 */
import { nextDelay } from './retry/index.js'

export interface CursorSink {
  set: (bridge: string, seq: number) => Promise<void>
}

export interface CursorWriterOptions {
  /** Called once when writes start failing, with the error. */
  onFailing: (err: Error) => void
  /** Called once when a write succeeds after failures. */
  onRecovered: () => void
  random?: () => number
}

/** Cursor writes are at least this far apart; a crash resends at most about this much more. */
const WRITE_INTERVAL_MS = 10
/** Backoff between attempts while writes fail (a store that is full or failing). */
const RETRY_BASE_MS = 100
const RETRY_MAX_MS = 5_000

export class CursorWriter {
  /** How many delivered events the stored cursor covers (see RunLoop.maxUnstored, run-loop.ts). */
  sentStored = 0
  private stored: number
  private wanted: number
  private wantedSent = 0
  private writing: Promise<void> | undefined
  private timer: NodeJS.Timeout | undefined
  private lastWrite = -Infinity
  private failure: Error | undefined
  /** While writes fail: when the next attempt is due (performance.now()). */
  private retryAt = 0
  private attempts = 0
  private previousDelay: number | undefined
  private closed = false
  private waiters: Array<() => void> = []

  constructor (private readonly bridge: string, private readonly cursors: CursorSink, stored: number, private readonly opts: CursorWriterOptions) {
    this.stored = stored
    this.wanted = stored
  }

  /** The error writes are failing with, while they fail. */
  get failing (): Error | undefined {
    return this.failure
  }

  /** Records the newest cursor and how many delivered events it covers; stored in the background. */
  set (seq: number, sent: number): void {
    this.wanted = seq
    this.wantedSent = sent
    this.kick()
  }

  /** Resolves once the newest cursor is stored (however many attempts that takes), or the writer is closed. */
  async flushed (): Promise<void> {
    while (!this.closed && this.stored !== this.wanted) {
      if (this.timer !== undefined && this.failure === undefined) {
        // a write held back by WRITE_INTERVAL_MS: go now, someone is waiting for it
        clearTimeout(this.timer)
        this.timer = undefined
        this.lastWrite = -Infinity
        this.kick()
      }
      await new Promise<void>(resolve => this.waiters.push(resolve))
    }
  }

  /** Stops retrying and makes one last attempt to store the newest cursor; false when it could not. Idempotent. */
  async close (): Promise<boolean> {
    this.closed = true
    clearTimeout(this.timer)
    this.timer = undefined
    this.wake()
    await this.writing
    if (this.stored === this.wanted) return true
    try {
      await this.cursors.set(this.bridge, this.wanted)
      this.stored = this.wanted
      return true
    } catch {
      return false
    }
  }

  private wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  private kick (): void {
    if (this.closed || this.writing !== undefined || this.timer !== undefined || this.stored === this.wanted) return
    const wait = (this.failure !== undefined ? this.retryAt : this.lastWrite + WRITE_INTERVAL_MS) - performance.now()
    if (wait > 0) {
      this.timer = setTimeout(() => {
        this.timer = undefined
        this.kick()
      }, wait)
      return
    }
    this.lastWrite = performance.now()
    const seq = this.wanted
    const sent = this.wantedSent
    this.writing = this.cursors.set(this.bridge, seq).then(() => {
      this.writing = undefined
      this.stored = seq
      this.sentStored = sent
      if (this.failure !== undefined) {
        this.failure = undefined
        this.attempts = 0
        this.previousDelay = undefined
        this.opts.onRecovered()
      }
      this.wake()
      this.kick()
    }, (err: unknown) => {
      this.writing = undefined
      const first = this.failure === undefined
      this.failure = err instanceof Error ? err : new Error(String(err))
      this.retryAt = performance.now() + this.retryDelay()
      if (first) this.opts.onFailing(this.failure)
      this.kick()
    })
  }

  private retryDelay (): number {
    const delay = nextDelay(++this.attempts, { baseMs: RETRY_BASE_MS, maxMs: RETRY_MAX_MS, random: this.opts.random ?? Math.random, jitter: 'decorrelated', previousMs: this.previousDelay })
    this.previousDelay = delay
    return delay
  }
}
