/**
 * A live tail of the log: new events as they are stored, filtered by an MQTT topic filter, payloads
 * as text or base64. It long-polls `/api/events` (the same request `flowgate tail` makes); when the
 * log runs far ahead of the page it skips to the newest events and says how many it skipped.
 */
import { ApiError, api } from './api.js'
import { byId, h, setText } from './dom.js'
import { excerpt, formatCount, formatTime, textToBase64 } from './format.js'
import { filterProblem, topicMatches } from './topic.js'
import type { EventsPage, LogEvent } from './types.js'

/** Events kept in the page (the filter applies to these), and how many of the matches are shown. */
const KEEP = 500
const SHOW = 100
/** Further behind the log than this, the tail jumps ahead. */
const MAX_BEHIND = 2000
const WAIT_MS = 20_000

export class TailView {
  private readonly filter = byId('tail-filter', HTMLInputElement)
  private readonly filterError = byId('tail-filter-error', HTMLElement)
  private readonly encoding = byId('tail-encoding', HTMLSelectElement)
  private readonly toggle = byId('tail-toggle', HTMLButtonElement)
  private readonly list = byId('tail-list', HTMLOListElement)
  private readonly summary = byId('tail-summary', HTMLElement)
  private readonly events: LogEvent[] = []
  private from = 0
  private skipped = 0
  private running = false
  /** Each loop runs while this is its own number: a stopped loop never clobbers the next one. */
  private loopId = 0
  private wanted = true
  private abort: AbortController | undefined
  private started = false

  constructor () {
    this.filter.addEventListener('input', () => this.render())
    this.encoding.addEventListener('change', () => this.render())
    this.toggle.addEventListener('click', () => {
      this.wanted = !this.wanted
      setText(this.toggle, this.wanted ? 'Pause tail' : 'Resume tail')
      if (this.wanted) this.run()
      else this.stop()
      this.render()
    })
    byId('tail-form', HTMLFormElement).addEventListener('submit', e => e.preventDefault())
  }

  /** Starts following the log (once), beginning with its last few events. */
  start (log: { firstSeq: number, lastSeq: number }): void {
    if (this.started) return
    this.started = true
    this.from = Math.max(log.firstSeq, log.lastSeq - 49, 1)
    this.run()
  }

  /** Stops the long poll (the page is hidden, or the token was refused); `run` picks up where it was. */
  stop (): void {
    this.loopId++
    this.running = false
    this.abort?.abort()
  }

  run (): void {
    if (this.running || !this.wanted || !this.started) return
    this.running = true
    void this.loop(++this.loopId)
  }

  private async loop (id: number): Promise<void> {
    while (this.loopId === id) {
      const abort = new AbortController()
      this.abort = abort
      try {
        const page = await api.get<EventsPage>(`/api/events?fromSeq=${this.from}&limit=200&waitMs=${WAIT_MS}`, abort.signal)
        const last = page.events[page.events.length - 1]
        if (last !== undefined) this.from = last.seq + 1
        else if (this.from < page.firstSeq) this.from = page.firstSeq
        this.events.push(...page.events)
        if (this.events.length > KEEP) this.events.splice(0, this.events.length - KEEP)
        if (page.lastSeq - this.from > MAX_BEHIND) {
          const next = page.lastSeq - SHOW + 1
          this.skipped += next - this.from
          this.from = next
        }
        this.render()
      } catch (err) {
        if (abort.signal.aborted) break
        if (err instanceof ApiError && err.status === 401) break
        setText(this.summary, `✕ The tail stopped: ${err instanceof ApiError ? err.describe() : String(err)}. Trying again.`)
        await new Promise(resolve => setTimeout(resolve, 2000))
      }
    }
    if (this.loopId === id) this.running = false
  }

  private render (): void {
    const filter = this.filter.value.trim() === '' ? '#' : this.filter.value.trim()
    const problem = filterProblem(filter)
    this.filter.setCustomValidity(problem ?? '')
    this.filter.setAttribute('aria-invalid', problem === undefined ? 'false' : 'true')
    setText(this.filterError, problem ?? '')
    if (problem !== undefined) return
    const asBase64 = this.encoding.value === 'base64'
    const matching = this.events.filter(e => topicMatches(filter, e.topic))
    const shown = matching.slice(-SHOW).reverse()
    this.list.replaceChildren(...shown.map(e => {
      const binary = e.payloadEncoding === 'base64'
      const payload = asBase64 && !binary ? textToBase64(e.payload) : e.payload
      const label = binary || asBase64 ? 'base64' : 'text'
      return h('li', { 'data-seq': e.seq },
        h('p', { class: 'event-head' },
          h('strong', {}, `#${e.seq}`), ` ${formatTime(e.time)} `, h('span', { class: 'topic' }, e.topic),
          ` QoS ${e.qos}${e.retain ? ', retained' : ''}${e.clientId !== '' ? `, from ${e.clientId}` : ''}`),
        h('p', { class: 'payload' }, h('span', { class: 'badge' }, label), ' ', h('code', {}, payload === '' ? '(empty)' : excerpt(payload, 1000))))
    }))
    const state = !this.wanted ? 'Paused. ' : ''
    const skipped = this.skipped > 0 ? ` ${formatCount(this.skipped)} events skipped to keep up with the log.` : ''
    setText(this.summary, `${state}${formatCount(matching.length)} of the last ${formatCount(this.events.length)} events match ${filter}; newest first.${skipped}`)
  }
}
