/**
 * The admin API's HTTP server. It answers the health checks itself, so that
 * `/readyz` answers as soon as the gateway is up and a gateway nobody asks
 * anything else never loads the HTTP framework (about 0.2 s of one core of a
 * shared x86 machine, and some 10 MiB). Any other request loads the API
 * (app.ts) the first time and is handed to it, as is every request after.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Config } from '../../config/index.js'
import { AdminError, errorBody, fromFramework } from './errors.js'
import { SECURITY_HEADERS } from './headers.js'
import { healthAnswer } from './health.js'
import { hostProblem } from './host.js'
import type { AdminContext } from './routes.js'

export type { AdminContext } from './routes.js'

export interface AdminServer {
  readonly port: number
  readonly url: string
  close (): Promise<void>
}

/** What Node's HTTP parser refuses (a URL or headers over 16 KiB, a garbled request), answered in our shape. */
function onClientError (err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400
  const body = errorBody(fromFramework({ statusCode: status, message: status === 408 ? 'the request took too long to arrive' : 'the request is not valid HTTP' }) as AdminError)
  if (socket.writable) socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  socket.destroy()
}

/** JSON, with the headers the API's own answers carry. */
function sendJson (res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'cache-control': 'no-store', 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

export async function startAdmin (cfg: Config['admin'], ctx: AdminContext): Promise<AdminServer> {
  const hosts = { listen: cfg.host, allowed: cfg.allowedHosts }
  let app: Promise<FastifyInstance> | undefined
  // one load for the requests that arrive meanwhile; after a failure the next request tries again
  const loadApp = async (): Promise<FastifyInstance> => await (app ??= import('./app.js').then(async ({ buildAdmin }) => {
    const built = buildAdmin(cfg, ctx)
    await built.ready()
    return built
  }).catch((err: unknown) => {
    app = undefined
    throw err
  }))

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    // a health check from anyone who may ask (its Host is one of ours); anything else, a refusal included, is the API's
    if (req.method === 'GET' && hostProblem(req.headers.host, hosts) === undefined) {
      const answer = healthAnswer((req.url ?? '').split('?')[0] ?? '', ctx.ready)
      if (answer !== undefined) return sendJson(res, answer.status, JSON.stringify(answer.body))
    }
    loadApp().then(api => api.routing(req, res), (err: unknown) => {
      ctx.logger.error({ err }, 'admin API failed to load')
      sendJson(res, 500, errorBody(new AdminError(500, 'FG_ERR_ADMIN_INTERNAL', 'internal error')))
    })
  })
  // as the HTTP framework has them: connections kept open 72 s between requests, no limit on a request's time
  server.keepAliveTimeout = 72_000
  server.requestTimeout = 0
  server.on('clientError', onClientError)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host: cfg.host, port: cfg.port }, () => { server.off('error', reject); resolve() })
  })
  const { port } = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    port,
    url: `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}`,
    async close () {
      closing ??= (async () => {
        const stopped = new Promise<void>(resolve => server.close(() => resolve()))
        // the API ends its long polls and answers 503 from here on; idle connections are closed now
        await app?.then(async api => await api.close(), () => {})
        server.closeIdleConnections()
        await stopped
      })()
      await closing
    }
  }
}
