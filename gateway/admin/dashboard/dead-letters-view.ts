/** A bridge's dead letters: why each was refused, what the upstream said, the event; redrive one or all. */
import { ApiError, api, bridgePath } from './api.js'
import { byId, h, setText } from './dom.js'
import { excerpt, formatCount, formatTime } from './format.js'
import type { DeadLetter, DeadLetterPage, RedriveResult } from './types.js'

const PAGE = 100

export class DeadLettersView {
  private readonly section = byId('dead-letters', HTMLElement)
  private readonly heading = byId('dead-letters-h', HTMLElement)
  private readonly summary = byId('dead-letters-summary', HTMLElement)
  private readonly list = byId('dead-letters-list', HTMLOListElement)
  private readonly message = byId('dead-letters-message', HTMLElement)
  private readonly redriveAll = byId('dead-letters-redrive-all', HTMLButtonElement)
  private bridge: string | undefined
  private readonly changed: () => void

  constructor (changed: () => void) {
    this.changed = changed
    this.redriveAll.addEventListener('click', () => { void this.redrive(undefined) })
    byId('dead-letters-refresh', HTMLButtonElement).addEventListener('click', () => { void this.load() })
    byId('dead-letters-close', HTMLButtonElement).addEventListener('click', () => {
      this.section.hidden = true
      this.bridge = undefined
    })
  }

  async show (bridge: string): Promise<void> {
    this.bridge = bridge
    this.section.hidden = false
    setText(this.heading, `Dead letters of ${bridge}`)
    setText(this.message, '')
    await this.load()
    this.heading.focus()
  }

  private async load (): Promise<void> {
    const bridge = this.bridge
    if (bridge === undefined) return
    try {
      const page = await api.get<DeadLetterPage>(`${bridgePath(bridge, 'dead-letters')}?limit=${PAGE}`)
      this.list.replaceChildren(...page.items.map(l => this.item(l)))
      setText(this.summary, page.count === 0
        ? 'None: every event this bridge read was delivered or filtered out.'
        : `${formatCount(page.count)} kept${page.count > page.items.length ? `; the oldest ${formatCount(page.items.length)} shown` : ''}. Redrive sends them again; those the upstream takes leave this list.`)
      this.redriveAll.disabled = page.count === 0
    } catch (err) {
      this.showError(`Could not read the dead letters: ${err instanceof ApiError ? err.describe() : String(err)}`)
    }
  }

  private item (l: DeadLetter): HTMLLIElement {
    const button = h('button', { type: 'button', 'aria-label': `Redrive dead letter ${l.seq}` }, 'Redrive')
    button.addEventListener('click', () => { void this.redrive([l.seq]) })
    const event = JSON.stringify(l.event, null, 2)
    return h('li', { class: 'letter' },
      h('p', { class: 'letter-head' },
        h('strong', {}, `#${l.seq}`), ` refused with HTTP ${l.status}${l.reason !== undefined ? ` (${l.reason})` : ''} at ${formatTime(l.time)} `, button),
      h('p', {}, 'Response: ', h('code', {}, l.body === '' ? '(empty body)' : excerpt(l.body, 300))),
      h('details', {}, h('summary', {}, `Event ${typeof l.event.id === 'string' ? l.event.id : ''} (subject ${typeof l.event.subject === 'string' ? l.event.subject : '–'})`), h('pre', {}, excerpt(event, 4000))))
  }

  private async redrive (seqs: number[] | undefined): Promise<void> {
    const bridge = this.bridge
    if (bridge === undefined) return
    setText(this.message, seqs === undefined ? 'Sending all of them again…' : `Sending #${seqs.join(', #')} again…`)
    this.message.classList.remove('error')
    try {
      const r = await api.post<RedriveResult>(bridgePath(bridge, 'dead-letters/redrive'), seqs === undefined ? {} : { seqs })
      const failed = r.failed.map(f => `#${f.seq} ${f.status !== undefined ? `HTTP ${f.status}` : (f.error ?? 'failed')}`)
      setText(this.message, `${formatCount(r.redriven)} delivered${failed.length > 0 ? `; ${failed.length} refused again: ${failed.slice(0, 10).join(', ')}${failed.length > 10 ? '…' : ''}` : ''}.`)
      this.changed()
      await this.load()
    } catch (err) {
      this.showError(`Redrive failed: ${err instanceof ApiError ? err.describe() : String(err)}`)
    }
  }

  private showError (text: string): void {
    this.message.classList.add('error')
    setText(this.message, `✕ ${text}`)
  }
}
