import type { FastifyInstance } from 'fastify'
import { parseSize, type Config } from '../../config/index.js'
import type { EventLog, LogRecord } from '../../storage/index.js'
import type { BridgeSet } from '../bridges.js'
import type { SubscriptionManager } from '../subscriptions/manager.js'
import { registerSubscriptionRoutes } from './subscription-routes.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { RateHistory } from '../rates.js'
import { badRequest, notFound } from './errors.js'

export interface AdminContext {
  /** gateway.id */
  id?: string
  version: string
  startedAt: number
  log: EventLog
  bridges: BridgeSet
  /** Subscriptions made through the Subscriptions API, when it is configured. */
  subscriptions?: SubscriptionManager | undefined
  metrics: Metrics
  logger: Logger
  clients: () => number
  ready: () => boolean
  /** Whether the stores can write (ok, full, write-failing) and why. */
  storage?: () => unknown
  security?: () => unknown
  /** The running configuration (changes on reload): status reports the log's budget from it. */
  config?: () => Readonly<Config>
  /** Recent ingest and delivery rates (the dashboard's charts). */
  rates?: RateHistory
  /** Aborted when the admin API closes: long polls end at once instead of holding up the stop. */
  closing?: AbortSignal
}

interface NameParams { name: string }

function eventView (r: LogRecord): Record<string, unknown> {
  const utf8 = r.payload.toString('utf8')
  const isText = Buffer.byteLength(utf8) === r.payload.length && !utf8.includes('\uFFFD')
  return {
    seq: r.seq,
    time: new Date(r.time).toISOString(),
    topic: r.topic,
    qos: r.qos,
    retain: r.retain,
    clientId: r.clientId,
    ...(r.username !== undefined ? { username: r.username } : {}),
    payloadEncoding: isText ? 'utf8' : 'base64',
    payload: isText ? utf8 : r.payload.toString('base64')
  }
}

function parseSeq (v: unknown, what: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN
  if (!Number.isSafeInteger(n) || n < 0) throw badRequest(`${what} must be a non-negative integer`)
  return n
}

function parseTime (v: unknown, what: string): number {
  const ms = typeof v === 'string' && /^\d{4}-\d{2}-\d{2}T/.test(v) ? Date.parse(v) : NaN
  if (Number.isNaN(ms)) throw badRequest(`${what} must be an RFC 3339 time`)
  return ms
}

/** A start position from {fromSeq} or {fromTime}: the first sequence number to (re)deliver. */
async function startSeq (log: EventLog, input: Record<string, unknown>): Promise<number> {
  if (input.fromSeq !== undefined && input.fromTime !== undefined) throw badRequest('give fromSeq or fromTime, not both')
  if (input.fromSeq !== undefined) return parseSeq(input.fromSeq, 'fromSeq')
  if (input.fromTime !== undefined) return await log.seekTime(parseTime(input.fromTime, 'fromTime'))
  throw badRequest('fromSeq or fromTime is required')
}

export function registerRoutes (app: FastifyInstance, ctx: AdminContext): void {
  const { log, bridges } = ctx
  const bridgeNamed = (name: string): string => {
    if (!bridges.has(name)) throw notFound(`no bridge named ${JSON.stringify(name)}`)
    return name
  }

  app.get('/healthz', async () => ({ status: 'ok' }))
  app.get('/readyz', async (_req, reply) => {
    const ready = ctx.ready()
    return await reply.code(ready ? 200 : 503).send({ ready })
  })
  app.get('/metrics', async (_req, reply) => await reply.type(ctx.metrics.contentType).send(await ctx.metrics.text()))

  app.get('/api/status', async () => {
    const stats = log.stats()
    const retention = ctx.config?.().storage
    return {
      ...(ctx.id !== undefined ? { id: ctx.id } : {}),
      version: ctx.version,
      uptimeSeconds: Math.round((Date.now() - ctx.startedAt) / 1000),
      clients: ctx.clients(),
      log: stats,
      ...(retention !== undefined ? { retention: { maxBytes: parseSize(retention.retention.maxBytes), maxAge: retention.retention.maxAge, whenFull: retention.whenFull } } : {}),
      ...(ctx.storage !== undefined ? { store: ctx.storage() } : {}),
      ...(ctx.security !== undefined ? { security: ctx.security() } : {}),
      bridges: await bridges.report()
    }
  })

  app.post<{ Params: NameParams }>('/api/bridges/:name/pause', async req => await bridges.pause(bridgeNamed(req.params.name)))
  app.post<{ Params: NameParams }>('/api/bridges/:name/resume', async req => await bridges.resume(bridgeNamed(req.params.name)))
  app.post<{ Params: NameParams, Body: Record<string, unknown> | undefined }>('/api/bridges/:name/replay', async req => {
    const name = bridgeNamed(req.params.name)
    const from = await startSeq(log, req.body ?? {})
    return await bridges.replay(name, from)
  })
  app.get<{ Params: NameParams, Querystring: { afterSeq?: string, limit?: string } }>('/api/bridges/:name/dead-letters', async req => {
    const name = bridgeNamed(req.params.name)
    const limit = req.query.limit === undefined ? 100 : parseSeq(req.query.limit, 'limit')
    const afterSeq = req.query.afterSeq === undefined ? undefined : parseSeq(req.query.afterSeq, 'afterSeq')
    const items = await bridges.deadLetters.list(name, { limit: Math.min(limit, 1000), ...(afterSeq !== undefined ? { afterSeq } : {}) })
    return { bridge: name, count: await bridges.deadLetters.count(name), items }
  })
  app.post<{ Params: NameParams, Body: { seqs?: unknown } | undefined }>('/api/bridges/:name/dead-letters/redrive', async req => {
    const name = bridgeNamed(req.params.name)
    const seqs = req.body?.seqs
    if (seqs !== undefined && (!Array.isArray(seqs) || seqs.some(s => !Number.isSafeInteger(s)))) throw badRequest('seqs must be a list of sequence numbers')
    return await bridges.redrive(name, seqs as number[] | undefined)
  })

  registerSubscriptionRoutes(app, ctx.subscriptions)

  app.get<{ Querystring: { fromSeq?: string, fromTime?: string, limit?: string, waitMs?: string } }>('/api/events', async req => {
    const limit = req.query.limit === undefined ? 100 : parseSeq(req.query.limit, 'limit')
    if (limit > 10_000) throw badRequest('limit must be at most 10000')
    const waitMs = req.query.waitMs === undefined ? 0 : Math.min(parseSeq(req.query.waitMs, 'waitMs'), 60_000)
    const from = req.query.fromSeq === undefined && req.query.fromTime === undefined ? log.firstSeq : await startSeq(log, req.query)
    // long poll (flowgate tail): wait for the first record at or after `from`
    if (waitMs > 0 && from > log.lastSeq) {
      const signals = [AbortSignal.timeout(waitMs), ...(ctx.closing !== undefined ? [ctx.closing] : [])]
      await log.waitFor(from, AbortSignal.any(signals))
    }
    const records = await log.read(from, limit)
    return { firstSeq: log.firstSeq, lastSeq: log.lastSeq, events: records.map(eventView) }
  })

  app.get<{ Querystring: { after?: string } }>('/api/rates', async req => {
    const rates = ctx.rates
    if (rates === undefined) throw notFound('rates are not recorded')
    const after = req.query.after === undefined ? undefined : Number(req.query.after)
    if (after !== undefined && !Number.isFinite(after)) throw badRequest('after must be a time in seconds since the epoch')
    return rates.series(bridges.status().map(b => b.name), after === undefined ? undefined : after * 1000)
  })
}
