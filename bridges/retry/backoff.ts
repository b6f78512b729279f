/**
 * Delay before the next attempt: capped exponential backoff with jitter, at least what the
 * upstream asked for in Retry-After (itself capped). Randomness and the clock are passed in.
 */
import { parseRetryAfter } from './retry-after.js'

export type Jitter = 'full' | 'decorrelated'

export interface BackoffOptions {
  /** First backoff step in ms (> 0). */
  baseMs: number
  /** Largest backoff in ms (>= baseMs). */
  maxMs: number
  /** Uniform random number in [0, 1), e.g. Math.random. */
  random: () => number
  /**
   * `full` (default): uniform in [0, min(maxMs, baseMs * 2^(attempt-1))).
   * `decorrelated`: uniform in [baseMs, previousMs * 3), capped at maxMs.
   */
  jitter?: Jitter | undefined
  /** The previous delay, for decorrelated jitter; baseMs when absent (first retry). */
  previousMs?: number | undefined
  /** Raw Retry-After header of the failed attempt (RetryDecision.retryAfter). */
  retryAfter?: string | undefined
  /** Current time in epoch ms; needed when retryAfter is an HTTP-date. */
  now?: number | undefined
  /** Cap on the Retry-After wait in ms; default maxMs. */
  maxRetryAfterMs?: number | undefined
}

/**
 * Milliseconds to wait before retry number `attempt` (1 for the first retry), an integer.
 * Throws TypeError for invalid options (programmer errors).
 */
export function nextDelay (attempt: number, options: BackoffOptions): number {
  const { baseMs, maxMs, random } = options
  if (!Number.isInteger(attempt) || attempt < 1) throw new TypeError(`attempt must be an integer >= 1, got ${attempt}`)
  if (!(baseMs > 0) || !(maxMs >= baseMs)) throw new TypeError(`need 0 < baseMs <= maxMs, got baseMs ${baseMs}, maxMs ${maxMs}`)
  let delay: number
  if ((options.jitter ?? 'full') === 'full') {
    // 2 ** 1100 is Infinity, which min() turns into maxMs.
    const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1))
    delay = Math.floor(random() * ceiling)
  } else {
    const previous = Math.max(baseMs, options.previousMs ?? baseMs)
    delay = Math.min(maxMs, Math.floor(baseMs + random() * (previous * 3 - baseMs)))
  }
  if (options.retryAfter !== undefined) {
    if (options.now === undefined && !/^\s*\d+\s*$/.test(options.retryAfter)) {
      throw new TypeError('nextDelay: options.now is required to honour a Retry-After HTTP-date')
    }
    const wanted = parseRetryAfter(options.retryAfter, options.now ?? 0)
    if (wanted !== undefined) delay = Math.max(delay, Math.min(wanted, options.maxRetryAfterMs ?? maxMs))
  }
  return delay
}
