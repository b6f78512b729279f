/**
 * The HTTP sink's service: the only code that does I/O towards an upstream.
 * One keep-alive connection pool per bridge; every call resolves with what
 * happened (a response, a timeout or a network error) and never throws, except
 * when the bridge aborts it.
 */
import { Pool } from 'undici'
import type { HttpMessage } from '../cloudevents/index.js'
import type { DeliveryOutcome } from '../retry/index.js'

export interface HttpSinkOptions {
  url: string
  /** Extra request headers (custom headers, authorization). */
  headers?: Readonly<Record<string, string>>
  /** Time allowed for the response headers and then for the body. */
  timeoutMs: number
  connectTimeoutMs: number
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
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])

export class HttpSink {
  private readonly pool: Pool
  private readonly path: string
  private readonly headers: Record<string, string>
  private closing: Promise<void> | undefined

  constructor (opts: HttpSinkOptions) {
    const url = new URL(opts.url)
    this.path = url.pathname + url.search
    this.headers = { ...opts.headers }
    this.pool = new Pool(url.origin, {
      connections: 1,
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
    })
  }

  async send (message: HttpMessage, signal?: AbortSignal): Promise<SendResult> {
    const started = performance.now()
    try {
      const res = await this.pool.request({
        method: 'POST',
        path: this.path,
        headers: { ...this.headers, ...message.headers },
        body: message.body,
        signal
      })
      const body = await readExcerpt(res.body)
      return { outcome: { kind: 'response', status: res.statusCode, headers: res.headers }, body, durationMs: performance.now() - started }
    } catch (error) {
      if (signal?.aborted === true) throw error
      const code = (error as { code?: string }).code ?? ''
      const outcome: DeliveryOutcome = TIMEOUT_CODES.has(code) ? { kind: 'timeout' } : { kind: 'network-error', error }
      return { outcome, body: '', durationMs: performance.now() - started }
    }
  }

  /** Idempotent. */
  async close (): Promise<void> {
    this.closing ??= this.pool.destroy()
    await this.closing
  }
}

async function readExcerpt (body: AsyncIterable<Buffer> & { dump?: () => Promise<void> }): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    if (size < BODY_EXCERPT_BYTES) {
      chunks.push(chunk)
      size += chunk.length
    }
  }
  return Buffer.concat(chunks).subarray(0, BODY_EXCERPT_BYTES).toString('utf8')
}
