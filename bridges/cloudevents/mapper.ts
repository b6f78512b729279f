/**
 * LogRecord -> CloudEvent. `createMapper(options)` compiles the bridge's `event` config once;
 * the returned function is on the hot path: templates are precompiled, the topic pattern is
 * matched without regex, the payload is parsed as JSON at most once.
 */
import { isUtf8 } from 'node:buffer'
import { createHash } from 'node:crypto'
import type { LogRecord } from '../../storage/index.js'
import { ConfigValueError } from '../../config/index.js'
import { CONTENT_TYPE_JSON, SPEC_VERSION, type CloudEvent, type CloudEventData, type ExtensionValue } from './event.js'
import { compileTemplate, type Template, type TemplateContext } from './template.js'
import { compileTopicPattern, type TopicPattern } from './topic-pattern.js'
import { extensionNameProblem, isUriReference, stringProblem } from './validate.js'

export interface MapperOptions {
  /** `gateway.id`: names this gateway in every event (ids, default source). */
  gatewayId: string
  /** `devices/{deviceid}/{kind}`: levels are literals, `+` or `{name}`; names become extensions. */
  topicPattern?: string | undefined
  /** Template for `type`; default DEFAULT_TYPE. */
  type?: string | undefined
  /** Template for `source` (substituted values are percent-encoded as URI path text); default DEFAULT_SOURCE. */
  source?: string | undefined
  /** Template for `subject`; default DEFAULT_SUBJECT (the MQTT topic). */
  subject?: string | undefined
  /** Give every event a `traceparent` (see traceparentOf). */
  traceparent?: boolean | undefined
}

export type RecordMapper = (record: LogRecord) => CloudEvent

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

export const DEFAULT_TYPE = 'flowgate.mqtt.publish'
export const DEFAULT_SOURCE = '/flowgate/{gatewayid}'
export const DEFAULT_SUBJECT = '{topic}'
/** Digits of the `sequence` extension: every safe integer (2^53 - 1) fits, so strings sort numerically. */
export const SEQUENCE_WIDTH = 16
export const CONTENT_TYPE_BINARY = 'application/octet-stream'

/** Extensions the mapper always sets; topic-pattern names cannot take them, nor the built-ins. */
const RESERVED_NAMES = new Set(['sequence', 'clientid', 'topic', 'gatewayid', 'traceparent', 'dssematerial'])

/** [CE sequence extension] the log sequence number as a fixed-width, lexicographically-orderable string. */
export function formatSequence (seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new TypeError(`sequence number must be a non-negative safe integer, got ${seq}`)
  return String(seq).padStart(SEQUENCE_WIDTH, '0')
}

/**
 * [CE distributed tracing] a W3C `traceparent` (version 00, sampled) whose trace id and span id
 * come from the event id's SHA-256: unique per event, uniformly spread, and the same on every
 * resend, so a resent event keeps its trace.
 */
export function traceparentOf (id: string): string {
  const h = createHash('sha256').update(id).digest('hex')
  // an all-zero id is invalid [W3C Trace Context 3.2.2.3]; a digest that starts with 24 zero bytes is not a practical case
  return `00-${h.slice(0, 32)}-${h.slice(32, 48)}-01`
}

/** Event id: unique per gateway (sequence numbers never repeat) and the same on every resend. */
export function eventId (gatewayId: string, seq: number): string {
  return `${gatewayId}-${seq}`
}

const URI_SAFE = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/
const KEEP = /%(?:2F|3A|40|21|24|26|27|28|29|2A|2B|2C|3B|3D)/g

/** Percent-encodes text for a URI path: keeps unreserved, sub-delims, ':', '@' and '/'. */
export function encodeUriPath (value: string): string {
  if (URI_SAFE.test(value)) return value
  return encodeURIComponent(value).replace(KEEP, decodeURIComponent)
}

/**
 * RFC 3339 UTC timestamps with milliseconds, identical to Date#toISOString. Records of the
 * same second share the `YYYY-MM-DDTHH:MM:SS.` prefix, so only the milliseconds are formatted
 * per call (toISOString is one of the most expensive steps of the mapping).
 */
export function createTimeFormatter (): (ms: number) => string {
  let second = NaN
  let prefix = ''
  return function formatTime (ms: number): string {
    if (!Number.isInteger(ms)) return new Date(ms).toISOString()
    const s = Math.floor(ms / 1000)
    if (s !== second) {
      const iso = new Date(s * 1000).toISOString()
      // Extended years (+010000-...) take the slow path.
      if (iso.length !== 24) return new Date(ms).toISOString()
      second = s
      prefix = iso.slice(0, 20)
    }
    const frac = ms - s * 1000
    return prefix + (frac < 10 ? '00' : frac < 100 ? '0' : '') + frac + 'Z'
  }
}

const NOT_JSON = Symbol('not JSON')

/** First byte a JSON text can start with (after whitespace): { [ " - 0-9 t f n. */
function mayStartJson (b: number): boolean {
  return b === 0x7b || b === 0x5b || b === 0x22 || b === 0x2d || (b >= 0x30 && b <= 0x39) || b === 0x74 || b === 0x66 || b === 0x6e
}

/** The payload's JSON value, or NOT_JSON. Cheap rejections first so binary payloads never throw. */
function parseJson (payload: Buffer): CloudEventData | typeof NOT_JSON {
  let i = 0
  while (i < payload.length) {
    const b = payload[i] as number
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break
    i++
  }
  if (i === payload.length || !mayStartJson(payload[i] as number) || !isUtf8(payload)) return NOT_JSON
  try {
    return JSON.parse(payload.toString('utf8')) as CloudEventData
  } catch {
    return NOT_JSON
  }
}

function captureNameProblem (name: string): string | undefined {
  const bad = extensionNameProblem(name)
  if (bad !== undefined) return bad
  if (RESERVED_NAMES.has(name)) return `"${name}" is reserved (flowgate sets it, or it is a built-in placeholder)`
  return undefined
}

function compileAt<T> (key: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    throw err instanceof ConfigValueError ? err.atPath(key) : err
  }
}

/**
 * Compiles the mapping. Throws ConfigValueError whose `path` is the option key (`topicPattern`,
 * `type`, `source`, `subject`, `gatewayId`); the config loader prefixes the bridge's key path.
 *
 * The event: specversion 1.0; id `${gatewayId}-${seq}`; source, type and subject from their
 * templates; time = receive time (RFC 3339, UTC, milliseconds); extensions `sequence`
 * (SEQUENCE_WIDTH digits), `clientid` (omitted when the client id is empty) and one per
 * `{name}` level of a matching topic. Payload: JSON -> `data` as a JSON value with
 * datacontenttype application/json; any other non-empty payload -> `data` as bytes (the
 * record's Buffer, not copied) with application/octet-stream; empty payload -> no data and
 * no datacontenttype. A topic that does not match topicPattern gets no pattern extensions,
 * and each template that refers to a pattern name falls back to its default.
 */
export function createMapper (options: MapperOptions): RecordMapper {
  const gatewayId = options.gatewayId
  if (typeof gatewayId !== 'string' || gatewayId === '') throw new ConfigValueError('gatewayId', 'must be a non-empty string')
  const badId = stringProblem(gatewayId)
  if (badId !== undefined) throw new ConfigValueError('gatewayId', badId)

  const pattern: TopicPattern | undefined = options.topicPattern === undefined
    ? undefined
    : compileAt('topicPattern', () => compileTopicPattern(options.topicPattern as string, captureNameProblem))
  const names = pattern?.names ?? []

  const textScope = { patternNames: names, gatewayId }
  const sourceScope = { patternNames: names, gatewayId, encode: encodeUriPath }
  const sample: TemplateContext = { caps: names.map(() => 'x'), topic: 'x', clientid: 'x' }

  function textTemplate (key: 'type' | 'subject', text: string): Template {
    return compileAt(key, () => {
      const bad = stringProblem(text)
      if (bad !== undefined) throw new ConfigValueError('', `template ${bad}`)
      return compileTemplate(text, textScope)
    })
  }
  function sourceTemplate (text: string): Template {
    return compileAt('source', () => {
      const t = compileTemplate(text, sourceScope)
      if (!isUriReference(t.render(sample))) throw new ConfigValueError('', `template "${text}" does not make a URI-reference (RFC 3986); percent-encode literal characters such as spaces`)
      return t
    })
  }

  const typeT = textTemplate('type', options.type ?? DEFAULT_TYPE)
  const subjectT = textTemplate('subject', options.subject ?? DEFAULT_SUBJECT)
  const sourceT = sourceTemplate(options.source ?? DEFAULT_SOURCE)
  // For topics that do not match the pattern: templates that need pattern names fall back.
  const typeF = typeT.usesPattern ? textTemplate('type', DEFAULT_TYPE) : typeT
  const subjectF = subjectT.usesPattern ? textTemplate('subject', DEFAULT_SUBJECT) : subjectT
  const sourceF = sourceT.usesPattern ? sourceTemplate(DEFAULT_SOURCE) : sourceT
  const idPrefix = gatewayId + '-'
  const formatTime = createTimeFormatter()
  const tracing = options.traceparent === true

  return function mapRecord (record: LogRecord): CloudEvent {
    const caps = pattern?.match(record.topic)
    const ctx: TemplateContext = { caps, topic: record.topic, clientid: record.clientId }
    const extensions: Record<string, ExtensionValue> = { sequence: formatSequence(record.seq) }
    if (record.clientId !== '') extensions.clientid = record.clientId
    if (caps !== undefined) for (let i = 0; i < caps.length; i++) extensions[names[i] as string] = caps[i] as string
    const matched = caps !== undefined
    const event: Mutable<CloudEvent> = {
      specversion: SPEC_VERSION,
      id: idPrefix + record.seq,
      source: (matched ? sourceT : sourceF).render(ctx),
      type: (matched ? typeT : typeF).render(ctx),
      subject: (matched ? subjectT : subjectF).render(ctx),
      time: formatTime(record.time),
      extensions
    }
    if (tracing) extensions.traceparent = traceparentOf(event.id)
    const payload = record.payload
    if (payload.length > 0) {
      const json = parseJson(payload)
      if (json === NOT_JSON) {
        event.datacontenttype = CONTENT_TYPE_BINARY
        event.data = payload
      } else {
        event.datacontenttype = CONTENT_TYPE_JSON
        event.data = json
      }
    }
    return event
  }
}
