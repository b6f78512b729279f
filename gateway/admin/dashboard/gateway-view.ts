/** The gateway section: identity, clients, the store's state, the log against its budget, drops by reason. */
import { Facts, h, setText } from './dom.js'
import { formatBytes, formatCount, formatDuration, formatTime } from './format.js'
import type { Status, StoreStatus } from './types.js'

/** Why records leave the log or never enter it, in the order shown. */
const DROP_REASONS: Array<[string, string]> = [
  ['maxAge', 'older than storage.retention.maxAge'],
  ['maxBytes', 'removed to stay within storage.retention.maxBytes'],
  ['reserveFreeBytes', 'removed to keep storage.reserveFreeBytes free on the disk'],
  ['rejected', 'publishes refused because the log was full (reject-new)'],
  ['corrupt', 'lost to damage on disk']
]

/** A symbol and a word, so the state never rests on colour alone. */
export function storeText (store: StoreStatus): string {
  const since = `since ${formatTime(store.since)}`
  if (store.state === 'ok') return '✓ ok: writes succeed'
  const why = [store.reason, store.code].filter(v => v !== undefined && v !== '').join(', ')
  if (store.state === 'full') return `⚠ full${why !== '' ? ` (${why})` : ''} ${since}: publishes wait or the oldest records go, as storage.whenFull says`
  return `✕ write-failing${why !== '' ? ` (${why})` : ''} ${since}: retrying; publishes are not acknowledged meanwhile`
}

export class GatewayView {
  private readonly facts = new Facts()
  private readonly meter: HTMLMeterElement
  private readonly sizeText: HTMLElement
  private readonly drops = new Facts('facts drops')
  private readonly dropsTotal: HTMLElement
  private readonly idEl: HTMLElement

  constructor (root: HTMLElement, idEl: HTMLElement) {
    this.idEl = idEl
    this.meter = h('meter', { min: 0, value: 0, 'aria-label': 'log size against its budget' })
    this.sizeText = h('span')
    this.dropsTotal = h('p', { class: 'drops-total' })
    // the order they are shown in
    for (const label of ['Gateway', 'Version', 'Uptime', 'Connected clients', 'Store', 'Pending writes', 'Log records']) this.facts.cell(label)
    const size = this.facts.cell('Log size')
    size.append(this.meter, ' ', this.sizeText)
    for (const [reason, why] of DROP_REASONS) this.drops.cell(reason).title = why
    root.append(this.facts.el, h('h3', {}, 'Records dropped, by reason'), this.dropsTotal, this.drops.el)
  }

  update (s: Status): void {
    setText(this.idEl, s.id ?? '')
    this.facts.set('Gateway', s.id ?? '(no id reported)')
    this.facts.set('Version', s.version)
    this.facts.set('Uptime', formatDuration(s.uptimeSeconds))
    this.facts.set('Connected clients', formatCount(s.clients))
    const store = this.facts.cell('Store')
    if (s.store !== undefined) {
      setText(store, storeText(s.store))
      store.dataset.state = s.store.state
      const pending = `${formatBytes(s.store.pendingBytes)} waiting to be stored${s.store.backpressure ? '; reading from clients paused until commits catch up' : ''}`
      this.facts.set('Pending writes', pending)
    } else {
      setText(store, 'not reported by this gateway')
    }
    const log = s.log
    this.facts.set('Log records', log.records === 0 ? 'empty' : `${formatCount(log.records)} (sequence ${formatCount(log.firstSeq)} to ${formatCount(log.lastSeq)})`)
    const budget = s.retention?.maxBytes ?? 0
    if (budget > 0) {
      this.meter.max = budget
      this.meter.value = Math.min(log.bytes, budget)
      this.meter.hidden = false
      setText(this.sizeText, `${formatBytes(log.bytes)} of ${formatBytes(budget)} (${Math.round((log.bytes / budget) * 1000) / 10}%)`)
    } else {
      this.meter.hidden = true
      setText(this.sizeText, `${formatBytes(log.bytes)}${s.retention !== undefined ? ' (no byte budget)' : ''}`)
    }
    if (s.retention !== undefined) this.facts.set('Retention', `${s.retention.maxAge}; when full: ${s.retention.whenFull}`)
    let total = 0
    const reasons = new Set([...DROP_REASONS.map(([r]) => r), ...Object.keys(log.drops)])
    for (const reason of reasons) {
      const n = log.drops[reason] ?? 0
      total += n
      this.drops.set(reason, formatCount(n))
    }
    setText(this.dropsTotal, total === 0 ? 'None dropped.' : `⚠ ${formatCount(total)} records dropped since the log was created.`)
  }
}
