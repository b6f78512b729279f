/**
 * The Subscriptions API and discovery on their own listener, for consumers (not operators):
 * [CE-SUBSCRIPTIONS 3.2.5] /subscriptions (create, query, retrieve, update, delete, OPTIONS)
 * and [xRegistry HTTP] /registry, read-only. Every request names its consumer by bearer token
 * or client certificate; errors are {"error":{"code","message"}} as on the admin API.
 */
import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import type { TLSSocket } from 'node:tls'
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import { parseSubscriptionRequest, RegistryRequestError, registryView, RequestError, subscriptionView, type Subscription } from '../../bridges/index.js'
import type { ConsumerConfig, SubscriptionsConfig } from '../../config/index.js'
import { lazySchemaController } from '../admin/lazy-schemas.js'
import { FlowgateError } from '../errors.js'
import type { Logger } from '../logger.js'
import type { SubscriptionManager } from './manager.js'

type Code = 'FG_ERR_SUBSCRIPTION_INVALID' | 'FG_ERR_SUBSCRIPTION_UNAUTHORIZED' | 'FG_ERR_SUBSCRIPTION_FORBIDDEN' | 'FG_ERR_SUBSCRIPTION_NOT_FOUND'

class ApiError extends FlowgateError {
  constructor (readonly status: number, code: Code, message: string) {
    super(code, message)
  }
}

export interface SubscriptionsServer {
  readonly port: number
  readonly url: string
  close (): Promise<void>
}

export interface SubscriptionsContext {
  manager: SubscriptionManager
  logger: Logger
  /** The registry document with every collection inlined, for a base URL. */
  registry: (base: string) => Promise<Record<string, unknown>>
}

declare module 'fastify' {
  interface FastifyRequest { consumer?: ConsumerConfig }
}

const ALLOW_COLLECTION = 'GET, POST, OPTIONS'
const ALLOW_ITEM = 'GET, PUT, DELETE, OPTIONS'

export function buildSubscriptionsApi (cfg: SubscriptionsConfig, ctx: SubscriptionsContext): FastifyInstance {
  const tls = cfg.tls
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    schemaController: lazySchemaController,
    ...(tls !== undefined
      ? {
          https: {
            cert: readFileSync(tls.cert),
            key: readFileSync(tls.key),
            ...(tls.ca !== undefined ? { ca: readFileSync(tls.ca) } : {}),
            requestCert: tls.clientCert !== 'none',
            rejectUnauthorized: tls.clientCert === 'required'
          }
        }
      : {})
  }) as unknown as FastifyInstance
  const { manager } = ctx

  const base = (req: FastifyRequest): string => cfg.publicUrl?.replace(/\/+$/, '') ?? `${tls !== undefined ? 'https' : 'http'}://${req.headers.host ?? `${cfg.host}:${cfg.port}`}`

  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    const caller = await manager.consumers.identify(req.headers.authorization, tls !== undefined ? req.raw.socket as TLSSocket : undefined)
    if (!caller.ok) {
      void reply.header('www-authenticate', 'Bearer')
      throw new ApiError(401, 'FG_ERR_SUBSCRIPTION_UNAUTHORIZED', caller.reason)
    }
    req.consumer = caller.consumer
  })
  app.setErrorHandler((err: Error & { statusCode?: number }, _req: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) return reply.code(err.status).send({ error: { code: err.code, message: err.message } })
    if (err instanceof RequestError) {
      return reply.code(err.status).send({ error: { code: err.status === 403 ? 'FG_ERR_SUBSCRIPTION_FORBIDDEN' : 'FG_ERR_SUBSCRIPTION_INVALID', message: err.message } })
    }
    if (err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500) {
      return reply.code(400).send({ error: { code: 'FG_ERR_SUBSCRIPTION_INVALID', message: err.message } })
    }
    ctx.logger.error({ err }, 'Subscriptions API request failed')
    return reply.code(500).send({ error: { code: 'FG_ERR_ADMIN_INTERNAL', message: 'internal error' } })
  })
  app.setNotFoundHandler((req: FastifyRequest, reply: FastifyReply) => {
    void reply.code(404).send({ error: { code: 'FG_ERR_SUBSCRIPTION_NOT_FOUND', message: `no route ${req.method} ${req.url.split('?')[0] ?? ''}` } })
  })

  const consumerOf = (req: FastifyRequest): ConsumerConfig => req.consumer as ConsumerConfig
  /** A subscription of the caller's; another consumer's is as unknown as a missing one. */
  const own = (req: FastifyRequest<{ Params: { id: string } }>): Subscription => {
    const sub = manager.get(req.params.id)
    if (sub === undefined || sub.consumer !== consumerOf(req).name) throw new ApiError(404, 'FG_ERR_SUBSCRIPTION_NOT_FOUND', `no subscription ${JSON.stringify(req.params.id)}`)
    return sub
  }
  const view = (sub: Subscription): Record<string, unknown> => {
    const delivery = manager.delivery(sub.id) as { state?: string, delivered?: number, deadLettered?: number, lastError?: string } | undefined
    return {
      ...subscriptionView(sub),
      ...(delivery !== undefined ? { delivery: { state: delivery.state, delivered: delivery.delivered, deadLettered: delivery.deadLettered, ...(delivery.lastError !== undefined ? { lastError: delivery.lastError } : {}) } } : {})
    }
  }
  const methodNotAllowed = (allow: string) => async (req: FastifyRequest, reply: FastifyReply) => {
    await reply.code(405).header('allow', allow).send({ error: { code: 'FG_ERR_SUBSCRIPTION_NOT_FOUND', message: `${req.method} is not allowed here (${allow})` } })
  }

  app.options('/subscriptions', async (_req, reply) => await reply.code(200).header('allow', ALLOW_COLLECTION).send())
  app.options('/subscriptions/:id', async (_req, reply) => await reply.code(200).header('allow', ALLOW_ITEM).send())
  app.get('/subscriptions', async req => manager.list(consumerOf(req).name).map(view))
  app.post('/subscriptions', async (req, reply) => {
    const sub = await manager.create(consumerOf(req), parseSubscriptionRequest(req.body))
    // [CE-SUBSCRIPTIONS] 201 Created once running; 202 Accepted while it waits for the operator
    return await reply.code(sub.state === 'pending' ? 202 : 201).header('location', `${base(req)}/subscriptions/${sub.id}`).send(view(sub))
  })
  app.get<{ Params: { id: string } }>('/subscriptions/:id', async req => view(own(req)))
  app.put<{ Params: { id: string } }>('/subscriptions/:id', async req => {
    own(req)
    const sub = await manager.update(consumerOf(req), req.params.id, parseSubscriptionRequest(req.body))
    if (sub === undefined) throw new ApiError(404, 'FG_ERR_SUBSCRIPTION_NOT_FOUND', `no subscription ${JSON.stringify(req.params.id)}`)
    return view(sub)
  })
  app.delete<{ Params: { id: string } }>('/subscriptions/:id', async req => {
    const sub = own(req)
    await manager.delete(sub.id)
    return view({ ...sub })
  })
  for (const method of ['PUT', 'DELETE', 'PATCH'] as const) app.route({ method, url: '/subscriptions', handler: methodNotAllowed(ALLOW_COLLECTION) })
  for (const method of ['POST', 'PATCH'] as const) app.route({ method, url: '/subscriptions/:id', handler: methodNotAllowed(ALLOW_ITEM) })

  // [xRegistry HTTP] read-only: GET (and HEAD) only; ?inline names what nested collections to include
  const registry = async (req: FastifyRequest<{ Querystring: { inline?: string | string[] } }>, reply: FastifyReply, path: string): Promise<void> => {
    const root = `${base(req)}/registry`
    void reply.header('link', `<${root}>;rel=xregistry-root`)
    let entity: Record<string, unknown>
    try {
      entity = registryView(await ctx.registry(root), path, req.query.inline)
    } catch (err) {
      if (!(err instanceof RegistryRequestError)) throw err
      // [xRegistry HTTP "Error Processing"] problem details, with the error shape of this API beside them
      const notFound = err.status === 404
      await reply.code(err.status).type('application/json; charset=utf-8').send({
        type: `https://github.com/xregistry/spec/blob/main/core/spec.md#${notFound ? 'not_found' : 'inline_noninlineable'}`,
        title: err.message,
        subject: `/${path}`,
        error: { code: notFound ? 'FG_ERR_SUBSCRIPTION_NOT_FOUND' : 'FG_ERR_SUBSCRIPTION_INVALID', message: err.message }
      })
      return
    }
    await reply.type('application/json; charset=utf-8').send(entity)
  }
  app.get<{ Querystring: { inline?: string | string[] } }>('/registry', async (req, reply) => { await registry(req, reply, '') })
  app.get<{ Querystring: { inline?: string | string[] }, Params: { '*': string } }>('/registry/*', async (req, reply) => { await registry(req, reply, req.params['*']) })
  for (const method of ['POST', 'PUT', 'PATCH', 'DELETE'] as const) {
    app.route({ method, url: '/registry', handler: methodNotAllowed('GET, HEAD') })
    app.route({ method, url: '/registry/*', handler: methodNotAllowed('GET, HEAD') })
  }
  return app
}

export async function startSubscriptionsApi (cfg: SubscriptionsConfig, ctx: SubscriptionsContext): Promise<SubscriptionsServer> {
  const app = buildSubscriptionsApi(cfg, ctx)
  await app.listen({ host: cfg.host, port: cfg.port })
  const { port } = app.server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    port,
    url: `${cfg.tls !== undefined ? 'https' : 'http'}://${cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host}:${port}`,
    async close () {
      closing ??= app.close()
      await closing
    }
  }
}
