/**
 * LineBudget: at most `burst` log lines of one kind per period, so an upstream that rejects every
 * event (a schema change, a wrong content type) does not write one line per event for hours. The
 * lines held back are counted and said in one line when the period ends.
 */
export class LineBudget {
  private periodStart = -Infinity
  private used = 0
  private held = 0
  private timer: NodeJS.Timeout | undefined

  /**
   * `summary(n)` is called once at the end of a period in which `n` lines were held back;
   * `now` is a monotonic clock in ms.
   */
  constructor (private readonly burst: number, private readonly periodMs: number, private readonly summary: (held: number) => void, private readonly now: () => number = () => performance.now()) {}

  /** Whether this line may be written; when it may not, it is counted for the summary. */
  take (): boolean {
    const t = this.now()
    if (t - this.periodStart >= this.periodMs) {
      this.sayHeld()
      this.periodStart = t
      this.used = 0
    }
    if (this.used < this.burst) {
      this.used++
      return true
    }
    if (this.held++ === 0) {
      this.timer = setTimeout(() => { this.sayHeld() }, Math.max(0, this.periodStart + this.periodMs - t))
      this.timer.unref()
    }
    return false
  }

  /** Says how many lines were held back, if any (end of a period, or the bridge stops). */
  sayHeld (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    if (this.held === 0) return
    const n = this.held
    this.held = 0
    this.summary(n)
  }
}
