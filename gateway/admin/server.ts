/**
 * The admin HTTP API: status, bridge control, dead letters, log inspection,
 * metrics and health. JSON everywhere; errors are {"error":{"code","message"}}.
 */
import { timingSafeEqual } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Config } from '../../config/index.js'
import { AdminError } from './errors.js'
import { refuseCrossOrigin } from './origin.js'
import { registerRoutes, type AdminContext } from './routes.js'
import { DASHBOARD_PREFIX, registerWeb } from './web.js'

export type { AdminContext } from './routes.js'

export interface AdminServer {
  readonly port: number
  readonly url: string
  close (): Promise<void>
}

/** Health checks, and the dashboard's page and files (the page asks for the token itself). */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/'])
const isOpen = (path: string): boolean => OPEN_PATHS.has(path) || path.startsWith(DASHBOARD_PREFIX)

function tokenMatches (header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice(7))
  const want = Buffer.from(token)
  return given.length === want.length && timingSafeEqual(given, want)
}

export function buildAdmin (cfg: Config['admin'], ctx: AdminContext): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 })
  const closing = new AbortController()
  app.addHook('preClose', async () => closing.abort())
  app.addHook('onRequest', refuseCrossOrigin)
  const token = cfg.token
  if (token !== undefined) {
    app.addHook('onRequest', async (req: FastifyRequest) => {
      if (isOpen(req.url.split('?')[0] ?? '')) return
      if (!tokenMatches(req.headers.authorization, token)) throw new AdminError(401, 'FG_ERR_ADMIN_UNAUTHORIZED', 'a valid bearer token is required')
    })
  }
  app.setErrorHandler((err: Error & { statusCode?: number, validation?: unknown }, _req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AdminError) return reply.code(err.status).send({ error: { code: err.code, message: err.message } })
    if (err.validation !== undefined || (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500)) {
      return reply.code(400).send({ error: { code: 'FG_ERR_ADMIN_BAD_REQUEST', message: err.message } })
    }
    ctx.logger.error({ err }, 'admin API request failed')
    return reply.code(500).send({ error: { code: 'FG_ERR_ADMIN_INTERNAL', message: 'internal error' } })
  })
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    void reply.code(404).send({ error: { code: 'FG_ERR_ADMIN_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } })
  })
  registerWeb(app)
  registerRoutes(app, { ...ctx, closing: closing.signal })
  return app
}

export async function startAdmin (cfg: Config['admin'], ctx: AdminContext): Promise<AdminServer> {
  const app = buildAdmin(cfg, ctx)
  await app.listen({ host: cfg.host, port: cfg.port })
  const { port } = app.server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    port,
    url: `http://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}`,
    async close () {
      closing ??= app.close()
      await closing
    }
  }
}
