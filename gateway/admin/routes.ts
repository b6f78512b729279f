/**
 * The admin API's routes. Each declares the schema of its params, query and
 * body; fastify validates them (bad input: 400 FG_ERR_ADMIN_BAD_REQUEST) and
 * the handlers get typed values. Responses that return events are bounded in
 * bytes (pages.ts) and say where to continue.
 */
import type { FastifyInstance } from 'fastify'
import { parseSize, type Config } from '../../config/index.js'
import type { DeadLetter, EventLog, LogRecord } from '../../storage/index.js'
import type { BridgeSet } from '../bridge-set.js'
import type { SubscriptionManager } from '../subscriptions/manager.js'
import { registerSubscriptionRoutes } from './subscription-routes.js'
import type { Logger } from '../logger.js'
import type { Metrics } from '../metrics.js'
import type { RateHistory } from '../rates.js'
import { badRequest, notFound } from './errors.js'
import { eventJson } from './event-json.js'
import { healthAnswer, type HealthAnswer } from './health.js'
import { pageJson, readPage } from './pages.js'

export interface AdminContext {
  /** gateway.id */
  id?: string
  version: string
  /** performance.now() when the gateway started: uptime does not follow a change of the system time. */
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

/** Bytes of events (or dead letters) one response returns by default, and at most. */
export const DEFAULT_PAGE_BYTES = 4 * 1024 * 1024
export const MAX_PAGE_BYTES = 16 * 1024 * 1024
/** Kept for the response's own fields, around the items. */
const ENVELOPE_BYTES = 512

// Request schemas are plain JSON Schema (TypeBox would cost the start-up time config/validator.ts
// speaks of), each beside the type the handler sees.
const Seq = { type: 'integer', minimum: 0 }
const Time = { type: 'string', format: 'date-time', description: 'RFC 3339' }
const MaxBytes = { type: 'integer', minimum: 1024, maximum: MAX_PAGE_BYTES, default: DEFAULT_PAGE_BYTES }
const closed = (properties: Record<string, object>, required: string[] = []): object => ({ type: 'object', properties, required, additionalProperties: false })
const BridgeParams = { type: 'object', properties: { name: { type: 'string', minLength: 1 } }, required: ['name'] }
interface BridgeParams { name: string }
const From = { fromSeq: Seq, fromTime: Time }
interface From { fromSeq?: number, fromTime?: string }
const ReplayBody = closed(From)
const RedriveBody = closed({ seqs: { type: 'array', items: Seq, maxItems: 10_000 } })
interface RedriveBody { seqs?: number[] }
const DeadLetterQuery = closed({ afterSeq: Seq, limit: { type: 'integer', minimum: 0, maximum: 1000, default: 100 }, maxBytes: MaxBytes }, ['limit', 'maxBytes'])
interface DeadLetterQuery { afterSeq?: number, limit: number, maxBytes: number }
const EventsQuery = closed({
  ...From,
  limit: { type: 'integer', minimum: 0, maximum: 10_000, default: 100 },
  /** Long poll (flowgate tail): wait up to this long for the first event; at most a minute. */
  waitMs: { type: 'integer', minimum: 0, default: 0 },
  maxBytes: MaxBytes
}, ['limit', 'waitMs', 'maxBytes'])
interface EventsQuery extends From { limit: number, waitMs: number, maxBytes: number }
/** Rates after this time, in seconds since the epoch. */
const RatesQuery = closed({ after: { type: 'number', minimum: 0 } })
interface RatesQuery { after?: number }

/** A start position from {fromSeq} or {fromTime}: the first sequence number to (re)deliver. */
async function startSeq (log: EventLog, input: { fromSeq?: number | undefined, fromTime?: string | undefined }): Promise<number> {
  if (input.fromSeq !== undefined && input.fromTime !== undefined) throw badRequest('give fromSeq or fromTime, not both')
  if (input.fromSeq !== undefined) return input.fromSeq
  if (input.fromTime !== undefined) return await log.seekTime(Date.parse(input.fromTime))
  throw badRequest('fromSeq or fromTime is required')
}

export function registerRoutes (app: FastifyInstance, ctx: AdminContext): void {
  const { log, bridges } = ctx
  const bridgeNamed = (name: string): string => {
    if (!bridges.has(name)) throw notFound(`no bridge named ${JSON.stringify(name)}`)
    return name
  }

  // server.ts answers GET for these without the framework; HEAD comes here
  for (const path of ['/healthz', '/readyz']) {
    app.get(path, async (_req, reply) => {
      const answer = healthAnswer(path, ctx.ready) as HealthAnswer
      return await reply.code(answer.status).send(answer.body)
    })
  }
  app.get('/metrics', async (_req, reply) => await reply.type(ctx.metrics.contentType).send(await ctx.metrics.text()))

  app.get('/api/status', async () => {
    const stats = log.stats()
    const retention = ctx.config?.().storage
    return {
      ...(ctx.id !== undefined ? { id: ctx.id } : {}),
      version: ctx.version,
      uptimeSeconds: Math.round((performance.now() - ctx.startedAt) / 1000),
      clients: ctx.clients(),
      log: stats,
      clock: log.clockState(),
      ...(retention !== undefined ? { retention: { maxBytes: parseSize(retention.retention.maxBytes), maxAge: retention.retention.maxAge, whenFull: retention.whenFull } } : {}),
      ...(ctx.storage !== undefined ? { store: ctx.storage() } : {}),
      ...(ctx.security !== undefined ? { security: ctx.security() } : {}),
      bridges: await bridges.report()
    }
  })

  const params = { params: BridgeParams }
  app.post<{ Params: BridgeParams }>('/api/bridges/:name/pause', { schema: params }, async req => await bridges.pause(bridgeNamed(req.params.name)))
  app.post<{ Params: BridgeParams }>('/api/bridges/:name/resume', { schema: params }, async req => await bridges.resume(bridgeNamed(req.params.name)))
  app.post<{ Params: BridgeParams, Body: From }>('/api/bridges/:name/replay', { schema: { ...params, body: ReplayBody } }, async req => {
    const name = bridgeNamed(req.params.name)
    return await bridges.replay(name, await startSeq(log, req.body))
  })
  app.get<{ Params: BridgeParams, Querystring: DeadLetterQuery }>('/api/bridges/:name/dead-letters', { schema: { ...params, querystring: DeadLetterQuery } }, async (req, reply) => {
    const name = bridgeNamed(req.params.name)
    let after = req.query.afterSeq
    const page = await readPage<DeadLetter>(async n => {
      const items = await bridges.deadLetters.list(name, { limit: n, ...(after !== undefined ? { afterSeq: after } : {}) })
      after = items[items.length - 1]?.seq ?? after
      return items
    }, item => [Buffer.from(JSON.stringify(item))], { limit: req.query.limit, maxBytes: req.query.maxBytes - ENVELOPE_BYTES })
    // where to continue (afterSeq), unless this page reached the end
    const next = page.exhausted || page.last === undefined ? {} : { nextAfterSeq: page.last.seq }
    return await reply.type('application/json; charset=utf-8').send(pageJson({ bridge: name, count: await bridges.deadLetters.count(name), ...next, truncated: page.truncated }, 'items', page))
  })
  // an empty body means "all of them"
  app.post<{ Params: BridgeParams, Body: RedriveBody }>('/api/bridges/:name/dead-letters/redrive', {
    schema: { ...params, body: RedriveBody },
    preValidation: async req => { req.body ??= {} }
  }, async req => {
    const name = bridgeNamed(req.params.name)
    return await bridges.redrive(name, req.body.seqs)
  })

  registerSubscriptionRoutes(app, ctx.subscriptions)

  app.get<{ Querystring: EventsQuery }>('/api/events', { schema: { querystring: EventsQuery } }, async (req, reply) => {
    const q = req.query
    const waitMs = Math.min(q.waitMs, 60_000)
    const from = q.fromSeq === undefined && q.fromTime === undefined ? log.firstSeq : await startSeq(log, q)
    // long poll (flowgate tail): wait for the first record at or after `from`
    if (waitMs > 0 && from > log.lastSeq) {
      const signals = [AbortSignal.timeout(waitMs), ...(ctx.closing !== undefined ? [ctx.closing] : [])]
      await log.waitFor(from, AbortSignal.any(signals))
    }
    let next = from
    const page = await readPage<LogRecord>(async n => {
      const records = await log.read(next, n)
      next = (records[records.length - 1]?.seq ?? next - 1) + 1
      return records
    }, eventJson, { limit: q.limit, maxBytes: q.maxBytes - ENVELOPE_BYTES })
    // where to continue: after the last event returned (the page may have read further)
    const nextSeq = page.last === undefined ? Math.max(from, log.firstSeq) : page.last.seq + 1
    return await reply.type('application/json; charset=utf-8').send(pageJson({ firstSeq: log.firstSeq, lastSeq: log.lastSeq, nextSeq, truncated: page.truncated }, 'events', page))
  })

  app.get<{ Querystring: RatesQuery }>('/api/rates', { schema: { querystring: RatesQuery } }, async req => {
    const rates = ctx.rates
    if (rates === undefined) throw notFound('rates are not recorded')
    const after = req.query.after
    return rates.series(bridges.status().map(b => b.name), after === undefined ? undefined : after * 1000)
  })
}
