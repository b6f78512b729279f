/**
 * sink.maxBytesPerSecond: a token bucket on request bytes as sent (request line, headers and
 * the body after compression), retries included.
 *
 * MUST: over any stretch of time T, a bridge sends at most about rate x T + capacity bytes
 *       (capacity: one second of the rate), so a meter over 20 s sees at most 5% above the cap.
 * MUST: a request larger than the bucket still goes (once the bucket is full) and is paid off
 *       before the next one: a large event is never stuck.
 * SHOULD: the bridge sizes batches to about one bucket (pacing.ts), so that under the cap
 *         requests grow to use the allowance rather than shrink into many small ones.
 */
import { setTimeout as sleep } from 'node:timers/promises'

/** The bucket holds one second of the rate: enough for a batch a second, little burst above the cap. */
const BURST_SECONDS = 1

/** Pure: the clock is passed in (milliseconds, monotonic). */
export class TokenBucket {
  readonly capacity: number
  private tokens: number
  private at: number

  constructor (readonly bytesPerSecond: number, private readonly now: () => number) {
    if (!(bytesPerSecond > 0)) throw new TypeError(`bytesPerSecond must be > 0, got ${bytesPerSecond}`)
    this.capacity = Math.max(1, Math.floor(bytesPerSecond * BURST_SECONDS))
    this.tokens = this.capacity
    this.at = now()
  }

  /** Milliseconds until a request of `bytes` may go (0: now). */
  delayFor (bytes: number): number {
    this.refill()
    const need = Math.min(bytes, this.capacity)
    return this.tokens >= need ? 0 : Math.ceil((need - this.tokens) * 1000 / this.bytesPerSecond)
  }

  /** A request of `bytes` goes now (the bucket may go below zero: a large request is paid off after). */
  take (bytes: number): void {
    this.refill()
    this.tokens -= bytes
  }

  private refill (): void {
    const now = this.now()
    this.tokens = Math.min(this.capacity, this.tokens + (now - this.at) * this.bytesPerSecond / 1000)
    this.at = now
  }
}

/** Requests take their bytes from the bucket in the order they ask, each waiting for its turn. */
export class Throttle {
  readonly bucket: TokenBucket
  private turn: Promise<void> = Promise.resolve()

  constructor (bytesPerSecond: number, now: () => number = () => performance.now()) {
    this.bucket = new TokenBucket(bytesPerSecond, now)
  }

  /** Resolves when a request of `bytes` may go; rejects when `signal` aborts (the bridge stops). */
  async acquire (bytes: number, signal: AbortSignal): Promise<void> {
    const mine = this.turn.then(async () => {
      for (let wait = this.bucket.delayFor(bytes); wait > 0; wait = this.bucket.delayFor(bytes)) {
        await sleep(wait, undefined, { signal })
      }
      this.bucket.take(bytes)
    })
    this.turn = mine.catch(() => {})
    await mine
  }
}
