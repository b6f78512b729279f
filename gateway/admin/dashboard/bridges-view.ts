/** One card per bridge: state and reason, lag, counts, its delivery rate, and the buttons that steer it. */
import { ApiError, api, bridgePath } from './api.js'
import { RateChart } from './chart.js'
import { Facts, h, setText } from './dom.js'
import { formatAmount, formatBytes, formatCount, formatDuration, formatTime } from './format.js'
import type { BridgeStatus, Rates } from './types.js'

export interface BridgeActions {
  replay (bridge: BridgeStatus): void
  deadLetters (bridge: string): void
  /** Called after an action changed the gateway: fetch the status again now. */
  changed (): void
  announce (text: string): void
}

const SYMBOLS: Record<string, string> = {
  running: '▶',
  paused: '‖',
  retrying: '↻',
  'outside window': '◷',
  starting: '…',
  stopped: '■'
}

/** The state in words, with the reason and the time that goes with it. */
export function stateText (b: BridgeStatus): string {
  const symbol = SYMBOLS[b.state] ?? '•'
  let text = `${symbol} ${b.state}`
  if (b.reason !== undefined && b.reason !== '') text += ` (${b.reason})`
  if (b.state === 'retrying' && b.nextAttemptAt !== undefined) text += `, next attempt ${formatTime(b.nextAttemptAt)}`
  if (b.state === 'outside window' && b.nextWindowOpens !== undefined) text += `, window opens ${formatTime(b.nextWindowOpens)}`
  return text
}

class BridgeCard {
  readonly el: HTMLElement
  private readonly name: string
  private readonly state: HTMLElement
  private readonly facts = new Facts()
  private readonly toggle: HTMLButtonElement
  private readonly lettersButton: HTMLButtonElement
  private readonly message: HTMLElement
  readonly chart: RateChart
  private current: BridgeStatus
  private busy = false

  constructor (b: BridgeStatus, actions: BridgeActions) {
    this.name = b.name
    this.current = b
    const headingId = `bridge-${encodeURIComponent(b.name).replace(/%/g, '_')}`
    this.state = h('p', { class: 'state' })
    this.toggle = h('button', { type: 'button' }, 'Pause')
    const replay = h('button', { type: 'button' }, 'Replay…')
    this.lettersButton = h('button', { type: 'button' }, 'Dead letters')
    this.message = h('p', { class: 'message', role: 'status' })
    this.chart = new RateChart(`Delivered by ${b.name}`, 'events delivered')
    this.el = h('article', { class: 'bridge', 'aria-labelledby': headingId, 'data-bridge': b.name },
      h('h3', { id: headingId }, b.name),
      this.state,
      this.facts.el,
      this.chart.el,
      h('div', { class: 'actions' }, this.toggle, replay, this.lettersButton),
      this.message)
    this.toggle.addEventListener('click', () => { void this.pauseOrResume(actions) })
    replay.addEventListener('click', () => actions.replay(this.current))
    this.lettersButton.addEventListener('click', () => actions.deadLetters(this.name))
  }

  update (b: BridgeStatus): void {
    this.current = b
    setText(this.state, stateText(b))
    this.el.dataset.state = b.state
    const lagAge = b.lag > 0 ? `; oldest undelivered received ${formatDuration(b.oldestUndeliveredAgeSeconds)} ago` : ''
    this.facts.set('Lag', b.lag === 0 ? 'caught up (0 events)' : `${formatAmount(b.lag, 'event')}${lagAge}`)
    this.facts.set('Cursor', `sequence ${formatCount(b.cursor)}`)
    this.facts.set('Delivered', formatCount(b.delivered))
    this.facts.set('Filtered out', formatCount(b.filtered))
    this.facts.set('Retried', formatCount(b.retries))
    this.facts.set('Dead-lettered', `${formatCount(b.deadLettered)} (${formatCount(b.deadLetters)} kept)`)
    if (b.missed !== undefined) this.facts.set('Missed (removed by retention first)', formatCount(b.missed))
    if (b.bytesSent !== undefined && b.bytesBeforeCompression !== undefined) {
      const saved = b.bytesSent > 0 && b.bytesBeforeCompression > b.bytesSent ? ` (${formatBytes(b.bytesBeforeCompression)} before compression)` : ''
      this.facts.set('Sent', `${formatBytes(b.bytesSent)}${saved}`)
    }
    this.facts.set('Last error', b.lastError ?? 'none')
    this.facts.set('Next window', b.nextWindowOpens !== undefined
      ? `opens ${formatTime(b.nextWindowOpens)}${b.windowClosesAt !== undefined ? `, open until ${formatTime(b.windowClosesAt)}` : ''}`
      : b.windowClosesAt !== undefined ? `open until ${formatTime(b.windowClosesAt)}` : 'always open (no window)')
    setText(this.toggle, b.state === 'paused' ? 'Resume' : 'Pause')
    this.toggle.setAttribute('aria-label', `${b.state === 'paused' ? 'Resume' : 'Pause'} bridge ${b.name}`)
    setText(this.lettersButton, `Dead letters (${formatCount(b.deadLetters)})`)
    this.lettersButton.setAttribute('aria-label', `Dead letters of bridge ${b.name}: ${b.deadLetters}`)
  }

  private async pauseOrResume (actions: BridgeActions): Promise<void> {
    if (this.busy) return
    const action = this.current.state === 'paused' ? 'resume' : 'pause'
    this.busy = true
    this.toggle.setAttribute('aria-busy', 'true')
    try {
      const report = await api.post<BridgeStatus>(bridgePath(this.name, action))
      if (report?.name === this.name) this.update({ ...this.current, ...report })
      this.showMessage(`Bridge ${this.name} ${action === 'pause' ? 'paused: events wait on disk' : 'resumed'}.`, false)
      actions.announce(`Bridge ${this.name} ${action === 'pause' ? 'paused' : 'resumed'}`)
      actions.changed()
    } catch (err) {
      this.showMessage(`Could not ${action} ${this.name}: ${err instanceof ApiError ? err.describe() : String(err)}`, true)
    } finally {
      this.busy = false
      this.toggle.removeAttribute('aria-busy')
    }
  }

  showMessage (text: string, isError: boolean): void {
    this.message.classList.toggle('error', isError)
    setText(this.message, isError ? `✕ ${text}` : text)
  }
}

export class BridgesView {
  private readonly list: HTMLElement
  private readonly empty: HTMLElement
  private readonly cards = new Map<string, BridgeCard>()
  private readonly actions: BridgeActions

  constructor (root: HTMLElement, actions: BridgeActions) {
    this.actions = actions
    this.empty = h('p', {}, 'No bridges are configured: events stay in the log.')
    this.list = h('div', { class: 'bridge-list' })
    root.append(this.empty, this.list)
  }

  update (bridges: BridgeStatus[]): void {
    const names = new Set(bridges.map(b => b.name))
    for (const [name, card] of this.cards) {
      if (!names.has(name)) {
        card.el.remove()
        this.cards.delete(name)
      }
    }
    for (const b of bridges) {
      let card = this.cards.get(b.name)
      if (card === undefined) {
        card = new BridgeCard(b, this.actions)
        this.cards.set(b.name, card)
        this.list.append(card.el)
      }
      card.update(b)
    }
    this.empty.hidden = bridges.length > 0
  }

  rates (r: Rates): void {
    for (const [name, card] of this.cards) {
      const values = r.bridges[name]
      if (values !== undefined) card.chart.append(r.times, values)
    }
  }

  resize (): void {
    for (const card of this.cards.values()) card.chart.resize()
  }

  message (bridge: string, text: string, isError: boolean): void {
    this.cards.get(bridge)?.showMessage(text, isError)
  }
}
