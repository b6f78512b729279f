/**
 * The HTTP sink's service: the only code that does I/O towards an upstream.
 * One keep-alive connection pool per bridge (a connection for each request in
 * flight, HTTP/1.1: see README "Requests in flight"); every call resolves with what
 * happened (a response, a timeout or a network error) and never throws, except
 * when the bridge aborts it.
 *
 * MUST: `timeoutMs` bounds the wait for the response headers and, separately, the
 *       whole response body (undici's bodyTimeout only bounds the gap between two
 *       chunks, so an upstream that trickles a byte a second would hold the bridge).
 */
import { connect } from 'node:net'
import type { Dispatcher, Pool } from 'undici'
import type { HttpMessage } from '../cloudevents/index.js'
import type { DeliveryOutcome, ResponseHeaders } from '../retry/index.js'

export interface HttpSinkOptions {
  url: string
  /** Extra request headers (custom headers, authorization). */
  headers?: Readonly<Record<string, string>>
  /** Time allowed for the response headers and then for the body. */
  timeoutMs: number
  connectTimeoutMs: number
  /** Keep-alive connections to open at most: one for each request in flight (default 1). */
  connections?: number | undefined
  tls?: {
    ca?: string | Buffer | undefined
    cert?: string | Buffer | undefined
    key?: string | Buffer | undefined
    rejectUnauthorized?: boolean | undefined
  } | undefined
}

export interface SendResult {
  outcome: DeliveryOutcome
  /** The start of the response body (for dead letters and logs). */
  body: string
  durationMs: number
}

const BODY_EXCERPT_BYTES = 1024

let poolClass: Promise<typeof Pool> | undefined
/**
 * undici's connection pool, loaded once: not on the way to ready, but when the first device
 * connects (gateway.ts), so that the first delivery does not stall the event loop while it loads.
 * The pool's module alone: undici's index also loads fetch, WebSocket and cookies, and through
 * the Headers global Node's own copy of undici, which took 0.2 s of a slow core instead of
 * 0.08 s, and 20 MiB of RSS instead of 12 MiB, for nothing a sink uses.
 */
export const loadPool = async (): Promise<typeof Pool> => await (poolClass ??= import('undici/lib/dispatcher/pool.js').then(m => m.default))

/** The whole response body did not arrive within timeoutMs. */
class BodyTimeoutError extends Error {
  readonly code = 'FG_BODY_TIMEOUT'
}

export class HttpSink {
  /** Made with the first request. */
  private pool: Pool | undefined
  private readonly poolOptions: Pool.Options
  private readonly origin: string
  private readonly path: string
  private readonly headers: Record<string, string>
  private readonly timeoutMs: number
  private readonly connectTimeoutMs: number
  private readonly host: string
  private readonly port: number
  /** Bytes of the request line and the headers every request has (see requestBytes). */
  private readonly headBase: number
  private closing: Promise<void> | undefined

  constructor (opts: HttpSinkOptions) {
    const url = new URL(opts.url)
    this.path = url.pathname + url.search
    this.headers = { ...opts.headers }
    this.timeoutMs = opts.timeoutMs
    this.connectTimeoutMs = opts.connectTimeoutMs
    this.host = url.hostname.replace(/^\[|\]$/g, '')
    this.port = url.port !== '' ? Number(url.port) : url.protocol === 'https:' ? 443 : 80
    // as undici writes them: `POST <path> HTTP/1.1`, `host: <host[:port]>`, `connection: keep-alive`
    this.headBase = `POST ${this.path} HTTP/1.1\r\nhost: ${url.host}\r\nconnection: keep-alive\r\n`.length
    this.origin = url.origin
    this.poolOptions = {
      // HTTP/1.1, one request per connection at a time (no pipelining: a slow answer must not
      // hold up the requests queued behind it on the same connection)
      connections: opts.connections ?? 1,
      pipelining: 1,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      keepAliveTimeout: 30_000,
      connect: {
        timeout: opts.connectTimeoutMs,
        ...(opts.tls?.ca !== undefined ? { ca: opts.tls.ca } : {}),
        ...(opts.tls?.cert !== undefined ? { cert: opts.tls.cert } : {}),
        ...(opts.tls?.key !== undefined ? { key: opts.tls.key } : {}),
        ...(opts.tls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {})
      }
    }
  }

  private async openPool (): Promise<Pool> {
    const Pool = await loadPool()
    if (this.pool !== undefined) return this.pool
    const pool = new Pool(this.origin, this.poolOptions)
    this.pool = pool
    // closed while undici loaded: the request fails as one on a closed pool does
    if (this.closing !== undefined) await pool.destroy()
    return pool
  }

  /**
   * One request through the pool's dispatcher. A response body is kept (its first KiB) only
   * when the status is not 2xx: dead letters and logs need it, a success does not. Going
   * below `pool.request` spares every request a response stream and its async iteration,
   * which binary mode (one event a request) pays per event.
   */
  async send (message: HttpMessage, signal?: AbortSignal): Promise<SendResult> {
    const pool = this.pool ?? await this.openPool()
    const started = performance.now()
    const timeoutMs = this.timeoutMs
    return await new Promise<SendResult>((resolve, reject) => {
      let controller: Dispatcher.DispatchController | undefined
      let status = 0
      let headers: ResponseHeaders | undefined
      const chunks: Buffer[] = []
      let kept = 0
      let bodyTimer: NodeJS.Timeout | undefined
      const onAbort = (): void => { controller?.abort(signal?.reason) }
      signal?.addEventListener('abort', onAbort, { once: true })
      const done = (): number => {
        signal?.removeEventListener('abort', onAbort)
        clearTimeout(bodyTimer)
        return performance.now() - started
      }
      pool.dispatch({
        method: 'POST',
        path: this.path,
        headers: { ...this.headers, ...message.headers },
        body: message.body
      }, {
        onRequestStart (c) {
          controller = c
          if (signal?.aborted === true) c.abort(signal.reason)
        },
        onResponseStart (c, statusCode, responseHeaders) {
          if (statusCode < 200) return // informational: the final response follows
          status = statusCode
          headers = responseHeaders as ResponseHeaders
          // the whole body within timeoutMs of the headers, however it is spread out
          bodyTimer = setTimeout(() => c.abort(new BodyTimeoutError(`response body not complete within ${timeoutMs} ms`)), timeoutMs)
        },
        onResponseData (_c, chunk) {
          if ((status < 200 || status > 299) && kept < BODY_EXCERPT_BYTES) {
            chunks.push(chunk)
            kept += chunk.length
          }
        },
        onResponseEnd () {
          const durationMs = done()
          const body = chunks.length === 0 ? '' : Buffer.concat(chunks).subarray(0, BODY_EXCERPT_BYTES).toString('utf8')
          resolve({ outcome: { kind: 'response', status, headers }, body, durationMs })
        },
        onResponseError (_c, error) {
          const durationMs = done()
          if (signal?.aborted === true) {
            reject(error)
            return
          }
          resolve({ outcome: outcomeOf(error, timeoutMs), body: '', durationMs })
        }
      })
    })
  }

  /**
   * The bytes a request for `message` takes on the wire (request line, headers, body), as undici
   * writes it over HTTP/1.1: what the bandwidth cap and the byte counters count.
   */
  requestBytes (message: HttpMessage): number {
    let n = this.headBase
    for (const [name, value] of Object.entries({ ...this.headers, ...message.headers })) n += name.length + value.length + 4
    const length = message.body.length
    return n + 'content-length: \r\n\r\n'.length + String(length).length + length
  }

  /**
   * True when the upstream's host accepts a TCP connection (no request is sent): a cheap check,
   * while it is unreachable, that it is back.
   */
  async probe (signal: AbortSignal): Promise<boolean> {
    if (signal.aborted) return false
    return await new Promise<boolean>(resolve => {
      const socket = connect({ host: this.host, port: this.port, timeout: this.connectTimeoutMs, signal })
      const finish = (ok: boolean): void => {
        socket.destroy()
        resolve(ok)
      }
      socket.once('connect', () => finish(true))
      socket.once('timeout', () => finish(false))
      socket.once('error', () => finish(false))
    })
  }

  /** Idempotent. */
  async close (): Promise<void> {
    this.closing ??= this.pool?.destroy() ?? Promise.resolve()
    await this.closing
  }
}

/** What a failed request amounts to: a timeout (headers or body) or a network error with its code. */
function outcomeOf (error: Error, timeoutMs: number): DeliveryOutcome {
  const code = (error as { code?: unknown }).code
  if (error instanceof BodyTimeoutError || code === 'UND_ERR_BODY_TIMEOUT') return { kind: 'timeout', phase: 'body', limitMs: timeoutMs }
  if (code === 'UND_ERR_HEADERS_TIMEOUT') return { kind: 'timeout', phase: 'headers', limitMs: timeoutMs }
  // a TLS verification failure may come wrapped; its code is on the cause
  const cause = (error as { cause?: { code?: unknown } }).cause
  const own = typeof code === 'string' && code !== 'UND_ERR_SOCKET' ? code : undefined
  const inner = typeof cause?.code === 'string' ? cause.code : undefined
  return { kind: 'network-error', code: own ?? inner ?? (typeof code === 'string' ? code : undefined), error }
}
