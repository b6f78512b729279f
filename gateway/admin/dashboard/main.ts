/**
 * The dashboard. It polls `/api/status` and `/api/rates` once a second while the page is visible
 * (a status is a snapshot: a missed poll loses nothing, and each poll carries the bearer header,
 * which an EventSource cannot), and long-polls `/api/events` for the live tail.
 */
import { ApiError, api, forgetToken, storedToken, storeToken } from './api.js'
import { BridgesView } from './bridges-view.js'
import { RateChart } from './chart.js'
import { DeadLettersView } from './dead-letters-view.js'
import { byId, setText } from './dom.js'
import { formatTime } from './format.js'
import { GatewayView } from './gateway-view.js'
import { ReplayDialog } from './replay-dialog.js'
import { TailView } from './tail-view.js'
import type { Rates, Status } from './types.js'

const POLL_MS = 1000

const connection = byId('connection', HTMLElement)
const updated = byId('updated', HTMLElement)
const announcer = byId('announce', HTMLElement)
const login = byId('login', HTMLElement)
const loginForm = byId('login-form', HTMLFormElement)
const tokenInput = byId('token', HTMLInputElement)
const loginError = byId('login-error', HTMLElement)
const signOut = byId('sign-out', HTMLButtonElement)
const content = byId('content', HTMLElement)

const announce = (text: string): void => {
  // a polite live region: cleared first so the same words are read again
  announcer.textContent = ''
  requestAnimationFrame(() => { announcer.textContent = text })
}

let status: Status | undefined
let ratesAfter: number | undefined
let timer: ReturnType<typeof setTimeout> | undefined
let polling = false
/** Polls are numbered: an answer older than one already shown (a poll overtaken by an action's) is dropped. */
let polls = 0
let shown = 0
let connected: boolean | undefined

const gateway = new GatewayView(byId('gateway-facts', HTMLElement), byId('gw-id', HTMLElement))
const ingest = new RateChart('Received', 'events received')
byId('ingest-chart', HTMLElement).append(ingest.el)
const replay = new ReplayDialog()
const deadLetters = new DeadLettersView(() => pollSoon())
const tail = new TailView()
const bridges = new BridgesView(byId('bridge-cards', HTMLElement), {
  replay: b => replay.open(b, status?.log ?? { firstSeq: 1, lastSeq: b.cursor }, (name, text) => {
    bridges.message(name, text, false)
    announce(text)
    pollSoon()
  }),
  deadLetters: name => { void deadLetters.show(name) },
  changed: () => pollSoon(),
  announce
})

function setConnected (ok: boolean, text: string): void {
  if (connected !== ok || connection.textContent !== text) setText(connection, text)
  connected = ok
  connection.dataset.ok = String(ok)
}

function showLogin (message: string): void {
  polling = false
  tail.stop()
  content.hidden = true
  login.hidden = false
  setText(loginError, message)
  setConnected(false, 'Signed out: the admin API needs its token.')
  tokenInput.focus()
}

async function poll (): Promise<void> {
  timer = undefined
  if (!polling) return
  const mine = ++polls
  try {
    const after = ratesAfter === undefined ? '' : `?after=${ratesAfter}`
    const [s, r] = await Promise.all([api.get<Status>('/api/status'), api.get<Rates>(`/api/rates${after}`).catch(() => undefined)])
    if (mine < shown) return
    shown = mine
    status = s
    gateway.update(s)
    bridges.update(s.bridges)
    if (r !== undefined) {
      ingest.append(r.times, r.ingest)
      bridges.rates(r)
      ratesAfter = r.times[r.times.length - 1] ?? ratesAfter
    }
    document.title = `${s.id ?? 'flowgate'} · flowgate`
    setConnected(true, '● Live')
    setText(updated, `updated ${formatTime(Date.now())}`)
    signOut.hidden = storedToken() === null
    tail.start(s.log)
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      showLogin(storedToken() === null ? '' : 'The gateway refused that token.')
      return
    }
    setConnected(false, `✕ Not connected: ${err instanceof ApiError ? err.describe() : String(err)}. Retrying.`)
  }
  schedule(POLL_MS)
}

function schedule (ms: number): void {
  if (!polling || timer !== undefined || document.hidden) return
  timer = setTimeout(() => { void poll() }, ms)
}

function pollSoon (): void {
  if (timer !== undefined) clearTimeout(timer)
  timer = undefined
  schedule(0)
}

function start (): void {
  login.hidden = true
  content.hidden = false
  polling = true
  tail.run()
  pollSoon()
}

loginForm.addEventListener('submit', e => {
  e.preventDefault()
  const token = tokenInput.value.trim()
  if (token === '') return
  storeToken(token)
  tokenInput.value = ''
  start()
})

signOut.addEventListener('click', () => {
  forgetToken()
  showLogin('')
})

document.addEventListener('visibilitychange', () => {
  // a phone in a pocket: no requests while nobody looks
  if (document.hidden) {
    if (timer !== undefined) clearTimeout(timer)
    timer = undefined
    tail.stop()
  } else if (polling) {
    tail.run()
    pollSoon()
  }
})

let resizing: ReturnType<typeof setTimeout> | undefined
window.addEventListener('resize', () => {
  if (resizing !== undefined) clearTimeout(resizing)
  resizing = setTimeout(() => {
    ingest.resize()
    bridges.resize()
  }, 100)
})

start()
