/** What the admin API answers, as the dashboard reads it. Fields added by newer gateways are optional. */

export type StoreState = 'ok' | 'full' | 'write-failing'

export interface StoreStatus {
  state: StoreState
  reason?: string
  code?: string
  message?: string
  since: string
  pendingBytes: number
  backpressure: boolean
}

export interface LogStatus {
  firstSeq: number
  lastSeq: number
  records: number
  bytes: number
  drops: Record<string, number>
}

export interface BridgeStatus {
  name: string
  state: string
  /** Why a bridge is retrying (unauthorized, throttled, network…). */
  reason?: string
  /** When the next attempt is due, while retrying (RFC 3339). */
  nextAttemptAt?: string
  cursor: number
  lag: number
  oldestUndeliveredAgeSeconds: number
  delivered: number
  filtered: number
  retries: number
  deadLettered: number
  deadLetters: number
  missed?: number
  /** Request bytes sent upstream as on the wire, and the same before compression. */
  bytesSent?: number
  bytesBeforeCompression?: number
  lastError?: string
  nextWindowOpens?: string
  windowClosesAt?: string
}

export interface Status {
  id?: string
  version: string
  uptimeSeconds: number
  clients: number
  log: LogStatus
  retention?: { maxBytes: number, maxAge: string, whenFull: string }
  store?: StoreStatus
  bridges: BridgeStatus[]
}

export interface Rates {
  intervalSeconds: number
  times: number[]
  ingest: number[]
  bridges: Record<string, Array<number | null>>
}

export interface LogEvent {
  seq: number
  time: string
  topic: string
  qos: number
  retain: boolean
  clientId: string
  username?: string
  payloadEncoding: 'utf8' | 'base64'
  payload: string
}

export interface EventsPage {
  firstSeq: number
  lastSeq: number
  events: LogEvent[]
}

export interface DeadLetter {
  seq: number
  time: number
  event: Record<string, unknown>
  status: number
  body: string
  reason?: string
}

export interface DeadLetterPage {
  bridge: string
  count: number
  items: DeadLetter[]
}

export interface RedriveResult {
  bridge: string
  redriven: number
  failed: Array<{ seq: number, status?: number, error?: string }>
}
