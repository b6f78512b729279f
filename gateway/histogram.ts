/**
 * A Prometheus histogram kept in this process until the metrics library is
 * loaded (metrics.ts loads it with the first scrape): bucket counts, sum and
 * count per label set. The library's registry writes it out as it does its own
 * histograms: cumulative `_bucket` series with `le`, then `_sum` and `_count`.
 */
import type { Metric, Registry } from 'prom-client'

interface Series {
  labels: Record<string, string>
  /** Observations per bucket, not cumulative: counts[i] for values in (bounds[i-1], bounds[i]]. */
  counts: number[]
  sum: number
  count: number
}

interface Value {
  metricName: string
  labels: Record<string, string | number>
  value: number
}

export class LiveHistogram {
  readonly type = 'histogram'
  private readonly series = new Map<string, Series>()

  /** `bounds` ascending; `labelNames` in the order `observe` takes their values. */
  constructor (readonly name: string, readonly help: string, private readonly bounds: readonly number[], private readonly labelNames: readonly string[] = []) {
    // a histogram without labels shows its zeros before the first observation, as the library's do
    if (labelNames.length === 0) this.seriesOf([])
  }

  observe (value: number, ...labelValues: string[]): void {
    const s = this.seriesOf(labelValues)
    const i = this.bounds.findIndex(b => value <= b)
    if (i !== -1) s.counts[i] = (s.counts[i] as number) + 1
    s.sum += value
    s.count++
  }

  /** What the registry reads (the shape of the library's own metrics). */
  get (): { name: string, help: string, type: 'histogram', values: Value[] } {
    const values: Value[] = []
    for (const s of this.series.values()) {
      let total = 0
      this.bounds.forEach((le, i) => {
        total += s.counts[i] as number
        values.push({ metricName: `${this.name}_bucket`, labels: { le, ...s.labels }, value: total })
      })
      values.push({ metricName: `${this.name}_bucket`, labels: { le: '+Inf', ...s.labels }, value: s.count })
      values.push({ metricName: `${this.name}_sum`, labels: s.labels, value: s.sum })
      values.push({ metricName: `${this.name}_count`, labels: s.labels, value: s.count })
    }
    return { name: this.name, help: this.help, type: this.type, values }
  }

  /** Adds it to a registry, which reads only `name` and `get()`. */
  registerIn (registry: Registry): void {
    registry.registerMetric(this as unknown as Metric)
  }

  private seriesOf (labelValues: readonly string[]): Series {
    const key = labelValues.join('\u0000')
    let s = this.series.get(key)
    if (s === undefined) {
      s = { labels: Object.fromEntries(this.labelNames.map((n, i) => [n, labelValues[i] ?? ''])), counts: this.bounds.map(() => 0), sum: 0, count: 0 }
      this.series.set(key, s)
    }
    return s
  }
}
