/**
 * A bridge's config compiled once into the pure stages it runs per record:
 * topic match, CloudEvent mapping, filters. Errors are ConfigValueErrors whose path
 * is relative to the bridge (`filters[1].sql`), for the loader to prefix.
 */
import type { BridgeConfig } from '../config/index.js'
import { ConfigValueError, parseDuration, parseSize } from '../config/index.js'
import { compile as compileCesql } from './cesql/index.js'
import { contextAttributes, createMapper, type RecordMapper } from './cloudevents/index.js'
import type { Compression } from './compression.js'
import { compileFilters, type EventPredicate } from './filters/index.js'
import { statusSet, StatusListError, type StatusSet } from './retry/index.js'
import { compileTopicFilters, type TopicMatcher } from './topic-filter.js'
import type { EventSigner } from './signing/index.js'

export type StartPosition = { kind: 'end' } | { kind: 'earliest' } | { kind: 'time', ms: number } | { kind: 'seq', seq: number }

export interface CompiledBridge {
  name: string
  gatewayId: string
  /** This bridge carries the gateway's heartbeat events. */
  heartbeat: boolean
  matchesTopic: TopicMatcher
  map: RecordMapper
  filter: EventPredicate
  start: StartPosition
  mode: 'binary' | 'structured' | 'batch'
  /** Most requests outstanding at once (sink.maxInFlight). */
  maxInFlight: number
  compression: Compression
  /** The bandwidth cap (sink.maxBytesPerSecond), in bytes per second; undefined: none. */
  maxBytesPerSecond: number | undefined
  maxEvents: number
  maxBytes: number
  lingerMs: number
  retryBaseMs: number
  retryMaxMs: number
  /** Statuses that dead-letter an event the upstream rejects (retry.deadLetterStatuses). */
  deadLetter: StatusSet
  /** Signs each event (`gateway.signing`), when set. */
  signer?: EventSigner | undefined
}

/** Longest backoff: 24 days, within the 2^31 - 1 ms a Node.js timer can wait. */
export const MAX_RETRY_DELAY_MS = 24 * 86_400_000

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i

/** The `sql` dialect: CESQL compiled once; an event passes only on Boolean true without error. */
export function compileSqlFilter (expression: string): EventPredicate {
  const compiled = compileCesql(expression)
  if (!compiled.ok) {
    const { line, column } = compiled.position
    throw new ConfigValueError('', `invalid CESQL expression ${JSON.stringify(expression)} at line ${line}, column ${column}: ${compiled.message}`)
  }
  return event => compiled.matches(contextAttributes(event))
}

export function parseStart (start: string | number): StartPosition {
  if (typeof start === 'number') {
    if (!Number.isSafeInteger(start) || start < 0) throw new ConfigValueError('start', 'a sequence number must be a non-negative integer')
    return { kind: 'seq', seq: start }
  }
  if (start === 'end' || start === 'earliest') return { kind: start }
  if (/^\d+$/.test(start)) return { kind: 'seq', seq: Number(start) }
  if (RFC3339.test(start) && !Number.isNaN(Date.parse(start))) return { kind: 'time', ms: Date.parse(start) }
  throw new ConfigValueError('start', `must be end, earliest, an RFC 3339 time or a sequence number, got ${JSON.stringify(start)}`)
}

function compileStatuses (list: ReadonlyArray<number | string>): StatusSet {
  try {
    return statusSet(list)
  } catch (err) {
    if (!(err instanceof StatusListError)) throw err
    throw new ConfigValueError(`retry.deadLetterStatuses[${err.index}]`, err.message)
  }
}

function within (prefix: string, fn: () => void): void {
  try {
    fn()
  } catch (err) {
    if (err instanceof ConfigValueError) throw err.atPath(prefix)
    throw err
  }
}

export function compileBridge (cfg: BridgeConfig, gatewayId: string, opts: { heartbeat?: boolean, signer?: EventSigner | undefined } = {}): CompiledBridge {
  let matchesTopic: TopicMatcher = () => false
  let map: RecordMapper | undefined
  let filter: EventPredicate = () => true
  within('topics', () => { matchesTopic = compileTopicFilters(cfg.topics) })
  within('event', () => {
    map = createMapper({ gatewayId, topicPattern: cfg.event.topicPattern, type: cfg.event.type, source: cfg.event.source, subject: cfg.event.subject, traceparent: cfg.event.traceparent })
  })
  within('filters', () => { filter = compileFilters(cfg.filters, { sql: compileSqlFilter }) })
  const start = parseStart(cfg.start)
  const initial = parseDuration(cfg.retry.initialDelay)
  const max = parseDuration(cfg.retry.maxDelay)
  if (initial <= 0) throw new ConfigValueError('retry.initialDelay', 'must be more than 0')
  if (max < initial) throw new ConfigValueError('retry.maxDelay', 'must not be less than retry.initialDelay')
  if (max > MAX_RETRY_DELAY_MS) throw new ConfigValueError('retry.maxDelay', 'must be at most 24d')
  const deadLetter = compileStatuses(cfg.retry.deadLetterStatuses)
  const maxBytesPerSecond = cfg.sink.maxBytesPerSecond === undefined ? undefined : parseSize(cfg.sink.maxBytesPerSecond)
  if (maxBytesPerSecond !== undefined && maxBytesPerSecond < 1) throw new ConfigValueError('sink.maxBytesPerSecond', 'must be at least 1B; leave it out for no cap')
  return {
    name: cfg.name,
    gatewayId,
    heartbeat: opts.heartbeat === true,
    matchesTopic,
    map: map as RecordMapper,
    filter,
    start,
    mode: cfg.sink.mode,
    maxInFlight: cfg.sink.maxInFlight,
    compression: cfg.sink.compression,
    maxBytesPerSecond,
    maxEvents: cfg.sink.mode === 'batch' ? cfg.batch.maxEvents : 1,
    maxBytes: parseSize(cfg.batch.maxBytes),
    lingerMs: cfg.sink.mode === 'batch' ? cfg.batch.lingerMs : 0,
    retryBaseMs: initial,
    retryMaxMs: max,
    deadLetter,
    signer: opts.signer
  }
}
