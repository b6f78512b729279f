/**
 * Keeps a bridge's delivery loop running: whenever the loop fails (a log read the store
 * refuses, a record that cannot be prepared), it is restarted with backoff from the last
 * settled event.
 *
 * MUST: an error never leaves the bridge stopped: the loop is restarted until the bridge stops.
 * MUST: meanwhile the bridge shows `retrying` (reason `store`) with the error and when the next
 *       attempt is due; an operator's resume (HoldState.wake) cuts the wait short.
 * MUST: the hold ends once the restarted loop gets going again (it reads the log or catches up).
 */
import { errorText, STORE_RETRY } from './delivery.js'
import type { HoldState } from './hold.js'
import { nextDelay } from './retry/index.js'

export interface SupervisorDeps {
  holds: HoldState
  /** Aborts when the bridge stops: the supervisor returns and restarts nothing. */
  signal: AbortSignal
  now: () => number
  random: () => number
}

export class Supervisor {
  /** The delivery loop failed and was restarted; the hold it set ends once the loop gets going again. */
  private recovering = false

  constructor (private readonly deps: SupervisorDeps) {}

  /** Runs `loop` until it returns or the bridge stops, restarting it with backoff when it fails. */
  async keep (loop: () => Promise<void>): Promise<void> {
    const { holds, signal } = this.deps
    let attempts = 0
    let previousMs: number | undefined
    while (!signal.aborted) {
      try {
        await loop()
        return
      } catch (err) {
        if (signal.aborted) return
        attempts++
        const delay = nextDelay(attempts, { ...STORE_RETRY, random: this.deps.random, jitter: 'decorrelated', previousMs })
        previousMs = delay
        holds.enter({ reason: 'store', error: `delivery failed: ${errorText(err)}`, nextAttemptAt: this.deps.now() + delay, probing: false })
        this.recovering = true
        try {
          await holds.wait(delay, signal)
        } catch {
          return
        }
      }
    }
  }

  /** The delivery loop runs again after a failure: end the hold the failure set. */
  recovered (): void {
    if (!this.recovering) return
    this.recovering = false
    if (this.deps.holds.current?.reason === 'store') this.deps.holds.release(0)
  }
}
