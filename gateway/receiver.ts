/**
 * A CloudEvents HTTP receiver for trying things out and for tests: accepts
 * binary, structured and batched requests, compressed or not (Content-Encoding
 * gzip, br, deflate), validates them strictly, answers 204 (or 400 with the
 * reason; 415 for a content coding it does not know), and hands each event to
 * `onEvent`.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ACCEPTED_CODINGS, ContentCodingError, decodeHttp, decompressBody, type CloudEvent, type DecodedMode } from '../bridges/index.js'

export interface ReceiverOptions {
  host: string
  port: number
  onEvent: (event: CloudEvent, mode: DecodedMode) => void
  onInvalid?: (reason: string) => void
  /** Largest request body accepted, in bytes (compressed as it came, and again once decoded). */
  maxBodyBytes?: number
}

export interface Receiver {
  readonly port: number
  readonly url: string
  close (): Promise<void>
}

async function readBody (req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > max) return undefined
    chunks.push(chunk as Buffer)
  }
  return Buffer.concat(chunks, size)
}

export async function startReceiver (opts: ReceiverOptions): Promise<Receiver> {
  const max = opts.maxBodyBytes ?? 64 * 1024 * 1024
  const server: Server = createServer((req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(405, { allow: 'POST' }).end()
      return
    }
    readBody(req, max).then(async wire => {
      if (wire === undefined) {
        res.writeHead(413).end('request body too large\n')
        return
      }
      let body: Buffer
      try {
        body = await decompressBody(wire, req.headers['content-encoding'], max)
      } catch (err) {
        if (!(err instanceof ContentCodingError)) throw err
        opts.onInvalid?.(err.message)
        res.writeHead(err.status, { 'content-type': 'text/plain; charset=utf-8', ...(err.status === 415 ? { 'accept-encoding': ACCEPTED_CODINGS } : {}) }).end(err.message + '\n')
        return
      }
      let decoded
      try {
        decoded = decodeHttp(req.headers, body)
      } catch (err) {
        const reason = (err as Error).message
        opts.onInvalid?.(reason)
        res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(reason + '\n')
        return
      }
      for (const event of decoded.events) opts.onEvent(event, decoded.mode)
      res.writeHead(204).end()
    }, () => { res.destroy() })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(opts.port, opts.host, () => resolve())
  })
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    port,
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}/`,
    async close () {
      closing ??= new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
      await closing
    }
  }
}
