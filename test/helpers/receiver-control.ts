/**
 * A controllable CloudEvents HTTP receiver for bridge tests: a real node:http
 * server on port 0 whose answer to each request is decided by a policy (a
 * status, a hang, a connection reset). Every request is decoded strictly with
 * our decodeHttp and, when asked, independently with the official `cloudevents`
 * SDK. Tests wait on its promises (`until`), never on time.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { HTTP, type CloudEventV1 } from 'cloudevents'
import { decodeHttp, type CloudEvent, type DecodedMode } from '../../bridges/cloudevents/index.js'
import { decompressBody } from '../../bridges/index.js'
import type { Gateway } from '../../gateway/index.js'
import type { TestContext } from './gateway.js'

export type SdkEvent = CloudEventV1<unknown>

/** What the receiver does with a request, once it has read the body. */
export type Action =
  | { kind: 'respond', status: number, headers?: Record<string, string>, body?: string }
  /** Never answer (the client's timeout fires, or the connection is dropped at close). */
  | { kind: 'hang' }
  /** Destroy the connection without an answer. */
  | { kind: 'reset' }
  /** Send the status and headers, then one byte of body every `everyMs`, never ending. */
  | { kind: 'trickle', status: number, everyMs: number }

export interface ReceivedRequest {
  /** 0-based, in arrival order over the receiver's whole life. */
  index: number
  method: string
  path: string
  headers: IncomingHttpHeaders
  /** The body with its Content-Encoding (gzip, br) undone. */
  body: Buffer
  /** The body's length as it came over the wire (compressed, when it was). */
  wireBytes: number
  /** The request line and headers as they came over the wire. */
  headBytes: number
  /** When its body had arrived (performance.now()). */
  arrivedAt: number
  /** Our strict decode; empty when the request is invalid. */
  events: CloudEvent[]
  mode: DecodedMode | undefined
  /** Why decodeHttp rejected the request (the receiver answers 400). */
  invalid: string | undefined
  /** The SDK's reading of the same request (when `sdk` is on), or its error. */
  sdk: SdkEvent[] | undefined
  sdkError: string | undefined
  action: Action
  /** The events count as arrived: the receiver answered 2xx, or took them and the answer was lost (hang, reset, trickle). */
  took: boolean
  /** When the receiver answered (performance.now()), and when the client closed the connection of a hung or trickled answer. */
  answeredAt: number
  closedAt?: number
}

export interface Arrival {
  event: CloudEvent
  path: string
  request: number
}

export type Policy = (req: Omit<ReceivedRequest, 'action' | 'took' | 'answeredAt'>) => Action | Promise<Action>

export interface ControlOptions {
  /** Parse every request with the cloudevents SDK too. */
  sdk?: boolean
  policy?: Policy
}

export const OK: Action = { kind: 'respond', status: 204 }

/** The SDK, fed as documented in test/unit/ce-codec.test.ts: lower-cased Content-Type, text bodies as strings. */
export function sdkDecode (headers: IncomingHttpHeaders, body: Buffer): SdkEvent[] {
  const h: Record<string, string> = {}
  for (const [k, v] of Object.entries(headers)) if (typeof v === 'string') h[k] = v
  const ct = h['content-type']
  if (ct !== undefined) h['content-type'] = ct.toLowerCase()
  const structured = ct !== undefined && ct.toLowerCase().startsWith('application/cloudevents')
  const textual = structured || (ct !== undefined && !ct.includes('octet-stream'))
  const out = HTTP.toEvent({ headers: h, body: textual ? body.toString('utf8') : body })
  return Array.isArray(out) ? out : [out]
}

export class ControlledReceiver {
  readonly requests: ReceivedRequest[] = []
  readonly arrivals: Arrival[] = []
  policy: Policy
  private readonly sdk: boolean
  private server: Server | undefined
  private portNo = 0
  private readonly sockets = new Set<Socket>()
  private readonly hung = new Set<ServerResponse>()
  private waiters: Array<{ test: () => boolean, resolve: () => void }> = []
  private nextIndex = 0

  private constructor (opts: ControlOptions) {
    this.sdk = opts.sdk ?? false
    this.policy = opts.policy ?? (() => OK)
  }

  /** Starts listening on a free port; closed at teardown. */
  static async start (t: TestContext, opts: ControlOptions = {}): Promise<ControlledReceiver> {
    const r = new ControlledReceiver(opts)
    await r.listen()
    t.teardown(async () => await r.close())
    return r
  }

  /**
   * A receiver that is not listening yet: it holds a port that was free a moment ago (so
   * connections are refused) and listens on it when `listen()` is called.
   */
  static async reserve (t: TestContext, opts: ControlOptions = {}): Promise<ControlledReceiver> {
    const r = await ControlledReceiver.start(t, opts)
    await r.stop()
    return r
  }

  get port (): number { return this.portNo }
  get listening (): boolean { return this.server !== undefined }

  url (path = '/'): string {
    return `http://127.0.0.1:${this.portNo}${path}`
  }

  /** Listens (again) on the receiver's port, or a free one the first time. */
  async listen (): Promise<void> {
    if (this.server !== undefined) return
    const server = createServer((req, res) => { this.handle(req, res) })
    server.keepAliveTimeout = 60_000
    server.on('connection', socket => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.portNo, '127.0.0.1', () => resolve())
    })
    this.portNo = (server.address() as AddressInfo).port
    this.server = server
  }

  /** Stops listening and drops every connection (also those with a request in progress). Idempotent. */
  async stop (): Promise<void> {
    const server = this.server
    if (server === undefined) return
    this.server = undefined
    const closed = new Promise<void>(resolve => server.close(() => resolve()))
    for (const res of this.hung) res.destroy()
    this.hung.clear()
    for (const s of this.sockets) s.destroy()
    server.closeAllConnections()
    await closed
  }

  async close (): Promise<void> {
    await this.stop()
  }

  /** Resolves once `test()` holds; checked now and after every request. */
  async until (test: () => boolean): Promise<void> {
    if (test()) return
    await new Promise<void>(resolve => this.waiters.push({ test, resolve }))
  }

  /** Resolves once `n` distinct event ids have arrived on `path` (any path when undefined). */
  async untilDistinct (n: number, path?: string): Promise<void> {
    await this.until(() => this.distinctIds(path).size >= n)
  }

  arrivalsOn (path?: string): Arrival[] {
    return path === undefined ? this.arrivals : this.arrivals.filter(a => a.path === path)
  }

  distinctIds (path?: string): Set<string> {
    return new Set(this.arrivalsOn(path).map(a => a.event.id))
  }

  /** Events by their first arrival, duplicates removed. */
  firstArrivals (path?: string): CloudEvent[] {
    const seen = new Set<string>()
    const out: CloudEvent[] = []
    for (const a of this.arrivalsOn(path)) {
      if (seen.has(a.event.id)) continue
      seen.add(a.event.id)
      out.push(a.event)
    }
    return out
  }

  requestsOn (path: string): ReceivedRequest[] {
    return this.requests.filter(r => r.path === path)
  }

  invalid (): ReceivedRequest[] {
    return this.requests.filter(r => r.invalid !== undefined)
  }

  private check (): void {
    if (this.waiters.length === 0) return
    const ready = this.waiters.filter(w => w.test())
    if (ready.length === 0) return
    this.waiters = this.waiters.filter(w => !ready.includes(w))
    for (const w of ready) w.resolve()
  }

  private handle (req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('error', () => {})
    req.on('end', () => {
      const arrivedAt = performance.now()
      const index = this.nextIndex++
      const wire = Buffer.concat(chunks)
      decompressBody(wire, req.headers['content-encoding'], 64 * 1024 * 1024).then(body => ({ body, problem: undefined }), (err: Error) => ({ body: wire, problem: err.message })).then(({ body, problem }) => {
        this.received(index, arrivedAt, req, res, wire.length, body, problem)
      }, () => { res.destroy() })
    })
  }

  private received (index: number, arrivedAt: number, req: IncomingMessage, res: ServerResponse, wireBytes: number, body: Buffer, problem: string | undefined): void {
    const base: Omit<ReceivedRequest, 'action' | 'took' | 'answeredAt'> = {
      index,
      method: req.method ?? '',
      path: req.url ?? '/',
      headers: req.headers,
      body,
      wireBytes,
      headBytes: headBytes(req),
      arrivedAt,
      events: [],
      mode: undefined,
      invalid: undefined,
      sdk: undefined,
      sdkError: undefined
    }
    try {
      if (problem !== undefined) throw new Error(problem)
      const decoded = decodeHttp(req.headers, body)
      base.events = decoded.events
      base.mode = decoded.mode
    } catch (err) {
      base.invalid = (err as Error).message
    }
    if (this.sdk) {
      try {
        base.sdk = sdkDecode(req.headers, body)
      } catch (err) {
        base.sdkError = (err as Error).message
      }
    }
    // An invalid request is answered 400 whatever the policy says; tests assert there are none.
    const decided = base.invalid !== undefined ? { kind: 'respond', status: 400, body: base.invalid } as const : this.policy(base)
    void Promise.resolve(decided).then(action => { this.finish(base, action, req, res) })
  }

  private finish (base: Omit<ReceivedRequest, 'action' | 'took' | 'answeredAt'>, action: Action, req: IncomingMessage, res: ServerResponse): void {
    const took = action.kind !== 'respond' || (action.status >= 200 && action.status <= 299)
    const entry: ReceivedRequest = { ...base, action, took, answeredAt: performance.now() }
    this.requests.push(entry)
    if (took) for (const event of entry.events) this.arrivals.push({ event, path: entry.path, request: entry.index })
    if (action.kind === 'respond') {
      res.writeHead(action.status, action.headers).end(action.body)
    } else if (action.kind === 'reset') {
      req.socket.destroy()
    } else {
      this.hung.add(res)
      let timer: NodeJS.Timeout | undefined
      if (action.kind === 'trickle') {
        res.writeHead(action.status, { 'content-type': 'text/plain', 'content-length': '1000000' })
        res.flushHeaders() // the headers go now, not with the first byte
        timer = setInterval(() => res.write('.'), action.everyMs)
      }
      res.once('close', () => {
        clearInterval(timer)
        entry.closedAt = performance.now()
        this.hung.delete(res)
        this.check()
      })
    }
    this.check()
  }
}

/** Bytes of a request's line and headers on the wire: `POST /path HTTP/1.1`, each `name: value`, and the blank line. */
export function headBytes (req: IncomingMessage): number {
  let n = `${req.method ?? ''} ${req.url ?? ''} HTTP/${req.httpVersion}\r\n\r\n`.length
  for (let i = 0; i < req.rawHeaders.length; i += 2) n += (req.rawHeaders[i] as string).length + (req.rawHeaders[i + 1] as string).length + 4
  return n
}

/** The `sequence` extension as a number. */
export function seqOf (event: CloudEvent): number {
  return Number(event.extensions.sequence)
}

/** Deterministic PRNG (mulberry32) for chaos tests. */
export function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * Resolves once bridge `name` has settled (delivered, filtered out or dead-lettered) every
 * record up to `seq`: checked now and after every LevelDB write (a cursor moves by a write).
 */
export async function untilCursor (gw: Gateway, name: string, seq: number): Promise<void> {
  const settled = (): boolean => (gw.bridges.get(name)?.status().cursor ?? -1) >= seq
  if (settled()) return
  await new Promise<void>(resolve => {
    const onWrite = (): void => {
      if (!settled()) return
      gw.store.db.off('write', onWrite)
      resolve()
    }
    gw.store.db.on('write', onWrite)
  })
}
