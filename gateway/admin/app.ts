/**
 * The admin HTTP API's routes on the HTTP framework: status, bridge control,
 * dead letters, log inspection, metrics and health, and the dashboard's page.
 * JSON everywhere, request bodies included; every error, the framework's too,
 * is {"error":{"code":"FG_ERR_…","message":"…"}}. Requests a browser could be
 * made to send for a page of another site are refused first (host.ts,
 * origin.ts). server.ts serves it, and loads it with the first request it
 * does not answer itself.
 */
import { timingSafeEqual } from 'node:crypto'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Config } from '../../config/index.js'
import { isFlowgateError } from '../errors.js'
import { AdminError, errorBody, forbidden, fromFramework } from './errors.js'
import { hostProblem } from './host.js'
import { lazySchemaController } from './lazy-schemas.js'
import { refuseCrossOrigin } from './origin.js'
import { registerRoutes, type AdminContext } from './routes.js'
import { DASHBOARD_PREFIX, registerWeb } from './web.js'

/** Health checks, and the dashboard's page and files (the page asks for the token itself). */
const OPEN_PATHS = new Set(['/healthz', '/readyz', '/'])
const isOpen = (path: string): boolean => OPEN_PATHS.has(path) || path.startsWith(DASHBOARD_PREFIX)
/** Request bodies are small JSON objects (a replay position, a list of sequence numbers). */
const BODY_LIMIT = 64 * 1024

function tokenMatches (header: string | undefined, token: string): boolean {
  if (header === undefined || !header.startsWith('Bearer ')) return false
  const given = Buffer.from(header.slice(7))
  const want = Buffer.from(token)
  return given.length === want.length && timingSafeEqual(given, want)
}

function send (reply: FastifyReply, err: AdminError): FastifyReply {
  return reply.code(err.status).type('application/json; charset=utf-8').send(errorBody(err))
}

export function buildAdmin (cfg: Config['admin'], ctx: AdminContext): FastifyInstance {
  const app = Fastify({
    logger: false,
    bodyLimit: BODY_LIMIT,
    schemaController: lazySchemaController,
    // a URL that is not validly percent-encoded, a path segment over the router's length limit
    frameworkErrors: (err, _req, reply) => { void send(reply, fromFramework(err) ?? new AdminError(400, 'FG_ERR_ADMIN_BAD_REQUEST', err.message)) }
  })
  // JSON is the only body the API takes; a form or text/plain body (what a page may send across
  // origins without asking first) is refused with 415
  app.removeContentTypeParser('text/plain')
  const closing = new AbortController()
  app.addHook('preClose', async () => closing.abort())
  const hosts = { listen: cfg.host, allowed: cfg.allowedHosts }
  app.addHook('onRequest', async (req: FastifyRequest) => {
    const badHost = hostProblem(req.headers.host, hosts)
    if (badHost !== undefined) throw forbidden(badHost)
  })
  app.addHook('onRequest', refuseCrossOrigin)
  const token = cfg.token
  if (token !== undefined) {
    app.addHook('onRequest', async (req: FastifyRequest) => {
      if (isOpen(req.url.split('?')[0] ?? '')) return
      if (!tokenMatches(req.headers.authorization, token)) throw new AdminError(401, 'FG_ERR_ADMIN_UNAUTHORIZED', 'a valid bearer token is required')
    })
  }
  app.setErrorHandler((err: Error & { statusCode?: number, code?: string, validation?: unknown }, _req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof AdminError) return send(reply, err)
    const known = fromFramework(err)
    if (known !== undefined) return send(reply, known)
    if (isFlowgateError(err, 'FG_ERR_STORE_UNAVAILABLE')) return send(reply, new AdminError(503, 'FG_ERR_ADMIN_UNAVAILABLE', err.message))
    ctx.logger.error({ err }, 'admin API request failed')
    return send(reply, new AdminError(500, 'FG_ERR_ADMIN_INTERNAL', 'internal error'))
  })
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    void send(reply, new AdminError(404, 'FG_ERR_ADMIN_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0] ?? ''}`))
  })
  registerWeb(app)
  registerRoutes(app, { ...ctx, closing: closing.signal })
  return app
}
