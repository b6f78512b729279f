/** Bounded condition waits for tests: a deadline, and a failure that says what never happened. */

export interface EventuallyOptions {
  /** Give up after this long. Generous: it must hold on a loaded 2-core machine. */
  timeoutMs?: number
  /** How often the condition is checked. */
  everyMs?: number
  /** What the failure shows of the state when it gives up, e.g. `() => bridge.status()`. */
  seen?: () => unknown
}

/**
 * Resolves once `condition` holds, checking it every few milliseconds (a condition wait, not a
 * fixed sleep). Rejects after `timeoutMs` with `timed out after … waiting for <what>`.
 */
export async function eventually (what: string, condition: () => boolean | Promise<boolean>, opts: EventuallyOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 60_000
  const everyMs = opts.everyMs ?? 10
  const deadline = performance.now() + timeoutMs
  while (!(await condition())) {
    if (performance.now() >= deadline) {
      const seen = opts.seen === undefined ? '' : `; last seen: ${JSON.stringify(opts.seen())}`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${seen}`)
    }
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
}

/** Resolves with `promise`, or rejects naming `what` after `ms` (a deadline, not a sleep). */
export async function within<T> (ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms) })
  try {
    return await Promise.race([promise, deadline])
  } finally {
    clearTimeout(timer)
  }
}
