/**
 * Replay, confirmed: the dialog says what will happen (which events go upstream again) before the
 * operator presses "Replay"; Escape or "Cancel" leaves the bridge as it was.
 */
import { ApiError, api, bridgePath } from './api.js'
import { byId, setText } from './dom.js'
import { formatCount } from './format.js'
import type { BridgeStatus } from './types.js'

export class ReplayDialog {
  private readonly dialog = byId('replay-dialog', HTMLDialogElement)
  private readonly form = byId('replay-form', HTMLFormElement)
  private readonly bridgeName = byId('replay-bridge', HTMLElement)
  private readonly bySeq = byId('replay-by-seq', HTMLInputElement)
  private readonly byTime = byId('replay-by-time', HTMLInputElement)
  private readonly seq = byId('replay-seq', HTMLInputElement)
  private readonly time = byId('replay-time', HTMLInputElement)
  private readonly seqField = byId('replay-seq-field', HTMLElement)
  private readonly timeField = byId('replay-time-field', HTMLElement)
  private readonly consequence = byId('replay-consequence', HTMLElement)
  private readonly error = byId('replay-error', HTMLElement)
  private readonly submit = byId('replay-submit', HTMLButtonElement)
  private bridge: BridgeStatus | undefined
  private lastSeq = 0
  private done: (bridge: string, text: string) => void = () => {}

  constructor () {
    for (const input of [this.bySeq, this.byTime, this.seq, this.time]) input.addEventListener('input', () => this.explain())
    byId('replay-cancel', HTMLButtonElement).addEventListener('click', () => this.dialog.close())
    this.form.addEventListener('submit', e => {
      e.preventDefault()
      void this.replay()
    })
  }

  /** Opens the dialog for `bridge`; the log holds sequence numbers `firstSeq` to `lastSeq`. */
  open (bridge: BridgeStatus, log: { firstSeq: number, lastSeq: number }, done: (bridge: string, text: string) => void): void {
    this.bridge = bridge
    this.lastSeq = log.lastSeq
    this.done = done
    setText(this.bridgeName, bridge.name)
    setText(this.error, '')
    this.seq.min = String(log.firstSeq)
    this.seq.max = String(log.lastSeq + 1)
    this.seq.placeholder = `${log.firstSeq} to ${log.lastSeq}`
    this.explain()
    this.dialog.showModal()
    ;(this.bySeq.checked ? this.seq : this.time).focus()
  }

  /** The start position as the API takes it, or why there is none. */
  private position (): { body: { fromSeq: number } | { fromTime: string }, text: string } | string {
    if (this.bySeq.checked) {
      const n = Number(this.seq.value)
      if (this.seq.value === '' || !Number.isSafeInteger(n) || n < 0) return 'Enter a sequence number (0 or more).'
      const count = Math.max(0, this.lastSeq - n + 1)
      return { body: { fromSeq: n }, text: `Events from sequence ${formatCount(n)} on (up to ${formatCount(count)} events, as far as retention still holds them) are sent upstream again, in order, with the ids they had; new events follow them.` }
    }
    const ms = Date.parse(this.time.value)
    if (this.time.value === '' || Number.isNaN(ms)) return 'Enter a date and time.'
    const when = new Date(ms)
    return { body: { fromTime: when.toISOString() }, text: `Events received from ${when.toLocaleString()} on are sent upstream again, in order, with the ids they had; new events follow them.` }
  }

  private explain (): void {
    this.seqField.hidden = !this.bySeq.checked
    this.timeField.hidden = this.bySeq.checked
    const p = this.position()
    setText(this.consequence, typeof p === 'string' ? p : p.text)
    this.submit.disabled = typeof p === 'string'
  }

  private async replay (): Promise<void> {
    const bridge = this.bridge
    const p = this.position()
    if (bridge === undefined || typeof p === 'string') return
    this.submit.disabled = true
    try {
      const r = await api.post<{ fromSeq: number, previousCursor: number }>(bridgePath(bridge.name, 'replay'), p.body)
      this.dialog.close()
      this.done(bridge.name, `Replaying ${bridge.name} from sequence ${formatCount(r.fromSeq)} (it had delivered up to ${formatCount(r.previousCursor)}).`)
    } catch (err) {
      setText(this.error, `✕ ${err instanceof ApiError ? err.describe() : String(err)}`)
    } finally {
      this.submit.disabled = false
    }
  }
}
