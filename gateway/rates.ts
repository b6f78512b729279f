/**
 * Recent rates for the dashboard's charts: ingest per second and each bridge's deliveries per
 * second, one sample a second over the last 15 minutes. Kept in memory only and bounded: a fixed
 * number of samples, the oldest replaced by the newest. Pure: the caller passes the time and the
 * counters; the gateway samples on a timer.
 */

export interface RateCounters {
  /** Records accepted into the log since start. */
  ingested: number
  /** Events delivered upstream since start, by bridge. */
  delivered: Record<string, number>
}

export interface RateSeries {
  /** Seconds between samples. */
  intervalSeconds: number
  /** End of each sample's interval, in seconds since the epoch, oldest first. */
  times: number[]
  /** Records accepted per second. */
  ingest: number[]
  /** Events delivered per second by bridge; null where the bridge did not exist. */
  bridges: Record<string, Array<number | null>>
}

interface Sample { t: number, ingest: number, delivered: Map<string, number> }

export class RateHistory {
  readonly intervalMs: number
  readonly capacity: number
  private readonly samples: Sample[] = []
  private next = 0
  private last: { t: number, counters: RateCounters } | undefined

  /** One sample every `intervalMs` (the caller's timer), kept for `windowMs`: 900 samples by default. */
  constructor (intervalMs = 1000, windowMs = 15 * 60_000) {
    if (!(intervalMs > 0) || !(windowMs >= intervalMs)) throw new TypeError('intervalMs must be positive and at most windowMs')
    this.intervalMs = intervalMs
    this.capacity = Math.ceil(windowMs / intervalMs)
  }

  /** Records the counters as of `nowMs`; the rates are the change since the previous call. */
  sample (nowMs: number, counters: RateCounters): void {
    const prev = this.last
    this.last = { t: nowMs, counters: { ingested: counters.ingested, delivered: { ...counters.delivered } } }
    if (prev === undefined || nowMs <= prev.t) return
    const seconds = (nowMs - prev.t) / 1000
    // a counter that went down belongs to a bridge that was removed and added again: count from zero
    const rate = (now: number, before: number | undefined): number => Math.max(0, now - (before !== undefined && before <= now ? before : 0)) / seconds
    const delivered = new Map<string, number>()
    for (const [name, n] of Object.entries(counters.delivered)) delivered.set(name, rate(n, prev.counters.delivered[name]))
    const s: Sample = { t: nowMs, ingest: rate(counters.ingested, prev.counters.ingested), delivered }
    if (this.samples.length < this.capacity) this.samples.push(s)
    else this.samples[this.next] = s
    this.next = (this.next + 1) % this.capacity
  }

  /** The samples taken after `afterMs` (all of them without it), oldest first, for the bridges named. */
  series (bridges: readonly string[], afterMs = -Infinity): RateSeries {
    const ordered = this.samples.length < this.capacity ? this.samples : [...this.samples.slice(this.next), ...this.samples.slice(0, this.next)]
    const kept = ordered.filter(s => s.t > afterMs)
    const round = (n: number): number => Math.round(n * 100) / 100
    return {
      intervalSeconds: this.intervalMs / 1000,
      times: kept.map(s => Math.round(s.t) / 1000),
      ingest: kept.map(s => round(s.ingest)),
      bridges: Object.fromEntries(bridges.map(name => [name, kept.map(s => {
        const r = s.delivered.get(name)
        return r === undefined ? null : round(r)
      })]))
    }
  }
}
