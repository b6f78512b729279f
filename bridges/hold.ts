/**
 * Why a bridge is held and the wait until its next attempt.
 *
 * MUST: one log line when the bridge is held for a new reason and one when it delivers
 *       again, never one per attempt.
 * MUST: while the upstream is unreachable (nothing answers), its return is noticed within
 *       about PROBE_INTERVAL_MS whatever the backoff has grown to: a cheap probe (a TCP
 *       connection, no request) runs at that interval and ends the wait when it succeeds.
 *       5xx, 429 and the like say the upstream is up and wants less: the full backoff is kept.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { BridgeLogger } from './bridge.js'
import type { HoldReason } from './retry/index.js'

export interface Hold {
  reason: HoldReason
  /** What went wrong, for status and logs (`HTTP 401`, `network error ECONNREFUSED`). */
  error: string
  status?: number | undefined
  /** When the next full attempt is due (epoch ms). */
  nextAttemptAt: number
  /** The upstream's return is being watched for (see PROBE_INTERVAL_MS). */
  probing: boolean
}

/** How often an unreachable upstream is probed. */
export const PROBE_INTERVAL_MS = 1000

export class HoldState {
  current: Hold | undefined
  private woken: AbortController | undefined

  constructor (private readonly bridge: string, private readonly logger: BridgeLogger) {}

  /** The bridge is held: logs when the reason is new. */
  enter (hold: Hold): void {
    const changed = this.current?.reason !== hold.reason
    this.current = hold
    if (!changed) return
    this.logger.warn({
      event: 'bridge-retrying',
      bridge: this.bridge,
      reason: hold.reason,
      ...(hold.status !== undefined ? { status: hold.status } : {}),
      error: hold.error,
      nextAttempt: new Date(hold.nextAttemptAt).toISOString(),
      probing: hold.probing
    }, `bridge ${this.bridge}: ${hold.error} (${hold.reason}); events wait on disk, retrying`)
  }

  /** The bridge delivers again: logs once when it was held. */
  release (attempts: number): void {
    const was = this.current
    if (was === undefined) return
    this.current = undefined
    this.logger.info({ event: 'bridge-recovered', bridge: this.bridge, reason: was.reason, attempts }, `bridge ${this.bridge} delivering again`)
  }

  /** Ends the wait in progress now (an operator's resume). */
  wake (): void {
    this.woken?.abort()
  }

  /**
   * Waits `ms`, or less when woken or when `probe` (called every PROBE_INTERVAL_MS) says the
   * upstream answers again. Rejects when `signal` aborts (the bridge is stopping).
   */
  async wait (ms: number, signal: AbortSignal, probe?: (signal: AbortSignal) => Promise<boolean>): Promise<void> {
    const woken = new AbortController()
    this.woken = woken
    const either = AbortSignal.any([signal, woken.signal])
    const until = performance.now() + ms
    try {
      for (;;) {
        const left = until - performance.now()
        if (left <= 0) return
        if (probe === undefined) {
          await sleep(left, undefined, { signal: either })
          return
        }
        await sleep(Math.min(left, PROBE_INTERVAL_MS), undefined, { signal: either })
        if (until - performance.now() <= 0 || await probe(either)) return
      }
    } catch (err) {
      if (signal.aborted) throw err
      // woken: attempt now
    } finally {
      if (this.woken === woken) this.woken = undefined
    }
  }
}
