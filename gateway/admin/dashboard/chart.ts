/**
 * A rate over the last 15 minutes, drawn by uPlot, with a text summary beside it for those who do
 * not see the chart (and where uPlot failed to load, the summary alone). uPlot comes as a classic
 * script (vendor/uPlot.iife.min.js) that defines the global `uPlot`; tsconfig.json includes its types.
 */
import { formatDuration, formatRate } from './format.js'
import { h, setText } from './dom.js'

const WINDOW_SECONDS = 15 * 60
const HEIGHT = 140

export class RateChart {
  readonly el: HTMLElement
  private readonly plotEl: HTMLElement
  private readonly summary: HTMLElement
  private readonly title: string
  private readonly what: string
  private times: number[] = []
  private values: Array<number | null> = []
  private plot: uPlot | undefined

  /** `what` names the rate: "events received", "events delivered". */
  constructor (title: string, what: string) {
    this.title = title
    this.what = what
    this.plotEl = h('div', { class: 'plot', role: 'img', 'aria-label': `${title}: chart of ${what} per second over the last 15 minutes` })
    this.summary = h('figcaption')
    this.el = h('figure', { class: 'chart' }, this.plotEl, this.summary)
    this.summary.textContent = `${title}: no samples yet`
  }

  /** Adds samples (times in seconds, oldest first) and drops those older than 15 minutes. */
  append (times: number[], values: Array<number | null>): void {
    for (let i = 0; i < times.length; i++) {
      const t = times[i]
      if (t === undefined || (this.times.length > 0 && t <= (this.times[this.times.length - 1] ?? 0))) continue
      this.times.push(t)
      this.values.push(values[i] ?? null)
    }
    const last = this.times[this.times.length - 1]
    if (last !== undefined) {
      const drop = this.times.findIndex(t => t > last - WINDOW_SECONDS)
      if (drop > 0) {
        this.times.splice(0, drop)
        this.values.splice(0, drop)
      }
    }
    this.render()
  }

  /** Fits the chart to the width of its box (call when the window resizes). */
  resize (): void {
    this.plot?.setSize({ width: this.width(), height: HEIGHT })
  }

  private width (): number {
    return Math.max(200, Math.floor(this.el.clientWidth))
  }

  private render (): void {
    const known = this.values.filter((v): v is number => v !== null)
    const now = known[known.length - 1]
    const peak = known.length > 0 ? Math.max(...known) : undefined
    const mean = known.length > 0 ? known.reduce((a, b) => a + b, 0) / known.length : undefined
    setText(this.summary, now === undefined
      ? `${this.title}: no samples yet`
      : `${this.title}: ${formatRate(now)} now; over the last ${formatDuration(this.times.length > 1 ? (this.times[this.times.length - 1] ?? 0) - (this.times[0] ?? 0) : 1)}, ${formatRate(mean ?? 0)} on average and ${formatRate(peak ?? 0)} at most.`)
    if (typeof uPlot === 'undefined') return
    const data: uPlot.AlignedData = [this.times, this.values]
    if (this.plot === undefined) {
      this.plot = new uPlot({
        width: this.width(),
        height: HEIGHT,
        legend: { show: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{ stroke: 'currentColor' }, { stroke: 'currentColor', size: 48 }],
        series: [{}, { label: this.what, stroke: '#2563eb', fill: 'rgba(37, 99, 235, 0.15)', width: 2, spanGaps: false, points: { show: false } }]
      }, data, this.plotEl)
    } else {
      this.plot.setData(data)
    }
  }
}
