/**
 * Keeps refusals from flooding the log under attack: at most `perSecond` lines a
 * second for each kind of event; the next line that gets through says how many
 * were left out. The counters count every refusal regardless.
 */
export class LogThrottle {
  private readonly windows = new Map<string, { start: number, count: number, suppressed: number }>()

  constructor (private readonly perSecond = 20, private readonly now: () => number = Date.now) {}

  /** Undefined: leave this one out. Otherwise the number left out since the last line of this kind. */
  admit (key: string): number | undefined {
    const now = this.now()
    let w = this.windows.get(key)
    if (w === undefined) {
      w = { start: now, count: 0, suppressed: 0 }
      this.windows.set(key, w)
    }
    if (now - w.start >= 1000) {
      w.start = now
      w.count = 0
    }
    if (w.count >= this.perSecond) {
      w.suppressed++
      return undefined
    }
    w.count++
    const suppressed = w.suppressed
    w.suppressed = 0
    return suppressed
  }
}
