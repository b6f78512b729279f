/**
 * Admin routes for the operator's side of subscriptions: list, approve (or resume), reject,
 * delete. Each declares the schema of its params, query and body; fastify checks them (bad
 * input: 400 FG_ERR_ADMIN_BAD_REQUEST).
 */
import type { FastifyInstance } from 'fastify'
import { subscriptionView } from '../../bridges/index.js'
import type { SubscriptionManager } from '../subscriptions/manager.js'
import { AdminError, notFound } from './errors.js'

// plain JSON Schema, as in routes.ts
const IdParams = { type: 'object', properties: { id: { type: 'string', minLength: 1, maxLength: 128 } }, required: ['id'] }
const ListQuery = {
  type: 'object',
  properties: { consumer: { type: 'string', minLength: 1 }, state: { enum: ['pending', 'active', 'suspended', 'rejected'] } },
  additionalProperties: false
}
const RejectBody = { anyOf: [{ type: 'object', properties: { reason: { type: 'string', maxLength: 1000 } }, additionalProperties: false }, { type: 'null' }] }

export function registerSubscriptionRoutes (app: FastifyInstance, manager: SubscriptionManager | undefined): void {
  const must = (): SubscriptionManager => {
    if (manager === undefined) throw new AdminError(409, 'FG_ERR_ADMIN_CONFLICT', 'the Subscriptions API is not configured (subscriptions)')
    return manager
  }
  const found = <T>(value: T | undefined, id: string): T => {
    if (value === undefined) throw notFound(`no subscription ${JSON.stringify(id)}`)
    return value
  }
  const view = (m: SubscriptionManager, sub: Parameters<typeof subscriptionView>[0]): Record<string, unknown> => ({ ...subscriptionView(sub), consumer: sub.consumer, bridge: `sub-${sub.id}`, delivery: m.delivery(sub.id) })

  app.get<{ Querystring: { consumer?: string, state?: string } }>('/api/subscriptions', { schema: { querystring: ListQuery } }, async req => {
    const m = must()
    return { subscriptions: m.list(req.query.consumer).filter(s => req.query.state === undefined || s.state === req.query.state).map(s => view(m, s)) }
  })
  app.get<{ Params: { id: string } }>('/api/subscriptions/:id', { schema: { params: IdParams } }, async req => {
    const m = must()
    return view(m, found(m.get(req.params.id), req.params.id))
  })
  app.post<{ Params: { id: string } }>('/api/subscriptions/:id/approve', { schema: { params: IdParams } }, async req => {
    const m = must()
    return view(m, found(await m.approve(req.params.id), req.params.id))
  })
  app.post<{ Params: { id: string }, Body: { reason?: string } | null | undefined }>('/api/subscriptions/:id/reject', { schema: { params: IdParams, body: RejectBody } }, async req => {
    const m = must()
    const reason = req.body?.reason !== undefined && req.body.reason !== '' ? req.body.reason : undefined
    return view(m, found(await m.reject(req.params.id, reason), req.params.id))
  })
  app.delete<{ Params: { id: string } }>('/api/subscriptions/:id', { schema: { params: IdParams } }, async req => {
    const m = must()
    if (!await m.delete(req.params.id)) throw notFound(`no subscription ${JSON.stringify(req.params.id)}`)
    return { deleted: req.params.id }
  })
}
