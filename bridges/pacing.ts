/**
 * Batch sizes and send times under sink.maxBytesPerSecond (the bucket itself: bandwidth.ts).
 * Without a cap, batches are bounded by batch.maxBytes alone and nothing waits here.
 *
 * SHOULD: under a cap, a batch carries about one bucket (a second of the cap) once
 *         compressed, so requests keep near the cap's pace instead of one large request now
 *         and a long silence after, and grow to use the allowance rather than shrink.
 * MUST: a batch is charged to the bucket when it is handed to a request, so the next batch
 *       sees the bucket as it will be (the request charges the difference, delivery.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { Throttle } from './bandwidth.js'
import type { Compressor } from './compression.js'

/** About the request line and headers of a batch request, for sizing batches under a bandwidth cap. */
const REQUEST_HEAD_BYTES = 256

export class Pacing {
  constructor (
    /** batch.maxBytes */
    private readonly maxBytes: number,
    private readonly throttle: Throttle | undefined,
    private readonly compressor: Compressor,
    /** Aborts when the bridge stops: a wait for the cap ends at once. */
    private readonly signal: AbortSignal
  ) {}

  /** Largest batch body: batch.maxBytes, and under a cap about what one bucket carries once compressed. */
  batchByteLimit (): number {
    if (this.throttle === undefined) return this.maxBytes
    const budget = (this.throttle.bucket.capacity - REQUEST_HEAD_BYTES) * this.compressor.ratio
    return Math.min(this.maxBytes, Math.max(REQUEST_HEAD_BYTES, Math.floor(budget)))
  }

  /** How long the bandwidth cap would hold back a batch of `batchBytes` now (0: it may go). */
  capDelay (batchBytes: number): number {
    return this.throttle === undefined ? 0 : this.throttle.bucket.delayFor(this.requestEstimate(batchBytes))
  }

  /**
   * Waits until the bandwidth cap lets a batch of `batchBytes` go, and charges the bucket with
   * its estimated size at once. Returns the bytes charged (0 without a cap, or once stopped).
   */
  async underCap (batchBytes: number): Promise<number> {
    const throttle = this.throttle
    if (throttle === undefined) return 0
    const estimate = this.requestEstimate(batchBytes)
    for (let wait = throttle.bucket.delayFor(estimate); wait > 0; wait = throttle.bucket.delayFor(estimate)) {
      await sleep(wait, undefined, { signal: this.signal }).catch(() => {})
      if (this.signal.aborted) return 0
    }
    throttle.bucket.take(estimate)
    return estimate
  }

  /** About the bytes a request for a batch of `batchBytes` takes on the wire. */
  private requestEstimate (batchBytes: number): number {
    return REQUEST_HEAD_BYTES + Math.ceil(batchBytes / this.compressor.ratio)
  }
}
