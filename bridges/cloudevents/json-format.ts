/**
 * [CE-JSON] the JSON event format: one event as a JSON object, attributes and extensions as
 * top-level members, `data` (JSON value or text) or `data_base64` (bytes).
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
import { CloudEventError, invalid } from './errors.js'
import { CONTENT_TYPE_JSON, isJsonContentType, SPEC_VERSION, type CloudEvent, type CloudEventData, type ExtensionValue, type JsonValue } from './event.js'
import { attributeNameProblem, extensionNameProblem, extensionValueProblem, validateEvent } from './validate.js'

/** An event in the JSON format, as a plain object ready for JSON.stringify. */
export type JsonFormatEvent = Record<string, JsonValue>

const OPTIONAL = ['subject', 'time', 'datacontenttype', 'dataschema'] as const

/**
 * [CE-JSON 3] the JSON format object of `event`. [CE-JSON 3.1.1] bytes become `data_base64`;
 * other data goes to `data` as a JSON value when datacontenttype is absent or a JSON media
 * type, else it must be a string (text content). Throws CloudEventError (FG_ERR_CE_ENCODE)
 * for data that datacontenttype cannot carry.
 */
export function toJSONFormat (event: CloudEvent): JsonFormatEvent {
  const out: JsonFormatEvent = { specversion: event.specversion, id: event.id, source: event.source, type: event.type }
  for (const name of OPTIONAL) {
    const value = event[name]
    if (value !== undefined) out[name] = value
  }
  const ext = event.extensions
  for (const name in ext) if (Object.hasOwn(ext, name)) out[name] = ext[name] as ExtensionValue
  const data = event.data
  if (data === undefined) return out
  if (Buffer.isBuffer(data)) {
    out.data_base64 = data.toString('base64')
  } else if (event.datacontenttype === undefined || isJsonContentType(event.datacontenttype) || typeof data === 'string') {
    out.data = data
  } else {
    throw new CloudEventError('FG_ERR_CE_ENCODE', `event ${event.id}: data must be a string or bytes when datacontenttype "${event.datacontenttype}" is not a JSON media type`, 'data')
  }
  return out
}

/** One event in the JSON format, UTF-8 encoded: a structured-mode body or one batch element. */
export function encodeEventJSON (event: CloudEvent): Buffer {
  return Buffer.from(JSON.stringify(toJSONFormat(event)), 'utf8')
}

const quote = JSON.stringify

/** Members an EventJSONEncoder writes for every event; it caches the JSON text of all others. */
type PerEvent = 'id' | 'time' | 'datacontenttype' | 'sequence' | 'traceparent' | 'dssematerial'
const PER_EVENT: ReadonlySet<string> = new Set<PerEvent>(['id', 'time', 'datacontenttype', 'sequence', 'traceparent', 'dssematerial'])

/** The JSON text of an event with its per-event members cut out: parts[0] members[0] parts[1] ... (no closing brace). */
interface Layout { parts: string[], members: PerEvent[] }

function perEventValue (event: CloudEvent, member: PerEvent): ExtensionValue | undefined {
  return member === 'id' || member === 'time' || member === 'datacontenttype' ? event[member] : event.extensions[member]
}

function buildLayout (attributes: JsonFormatEvent): Layout {
  const parts: string[] = []
  const members: PerEvent[] = []
  let text = '{'
  let sep = ''
  // Object.keys order is JSON.stringify's order (integer-like names first), so the bytes match.
  for (const name of Object.keys(attributes)) {
    text += sep + quote(name) + ':'
    sep = ','
    if (PER_EVENT.has(name)) {
      parts.push(text)
      members.push(name as PerEvent)
      text = ''
    } else {
      text += quote(attributes[name])
    }
  }
  parts.push(text)
  return { parts, members }
}

export interface EventJSONEncoder {
  /**
   * The bytes of encodeEventJSON(event), made faster for a bridge's events: `key` must name
   * everything but the per-event members (id, time, datacontenttype, the `sequence`
   * extension and data): events with the same key have the same other attributes and
   * extensions. For events of one mapper, topic and client id are such a key. `rawJson`,
   * when given, is the JSON text `event.data` was parsed from (the MQTT payload); it is
   * copied as it is instead of serialising `data` again, so a device's JSON travels unchanged.
   */
  encode (event: CloudEvent, key: string, rawJson?: Buffer): Buffer
}

const DATA_MEMBER = ',"data":'

/**
 * [CE-JSON] encoding for the bridge's hot path: JSON.stringify of every event costs more than
 * mapping it, but most of an event's text repeats from one event of a topic to the next, so
 * that text is cached per key (at most `maxKeys`; the cache starts afresh when full).
 */
export function createEventJSONEncoder (maxKeys = 10_000): EventJSONEncoder {
  // per key, one layout for each combination of present per-event members (bit mask)
  let cache = new Map<string, Array<Layout | undefined>>()
  return {
    encode (event: CloudEvent, key: string, rawJson?: Buffer): Buffer {
      const ext = event.extensions
      const shape = (event.time !== undefined ? 1 : 0) | (event.datacontenttype !== undefined ? 2 : 0) | (Object.hasOwn(ext, 'sequence') ? 4 : 0) |
        (Object.hasOwn(ext, 'traceparent') ? 8 : 0) | (Object.hasOwn(ext, 'dssematerial') ? 16 : 0)
      let layouts = cache.get(key)
      if (layouts === undefined) {
        if (cache.size >= maxKeys) cache = new Map()
        layouts = []
        cache.set(key, layouts)
      }
      let layout = layouts[shape]
      if (layout === undefined) {
        const attributes = toJSONFormat(event.data === undefined ? event : { ...event, data: undefined })
        layout = buildLayout(attributes)
        layouts[shape] = layout
      }
      const { parts, members } = layout
      let text = parts[0] as string
      for (let i = 0; i < members.length; i++) text += quote(perEventValue(event, members[i] as PerEvent)) + (parts[i + 1] as string)
      const data = event.data
      if (data === undefined) return Buffer.from(text + '}', 'utf8')
      if (Buffer.isBuffer(data)) return Buffer.from(text + ',"data_base64":"' + data.toString('base64') + '"}', 'utf8')
      const dct = event.datacontenttype
      if (dct !== undefined && dct !== CONTENT_TYPE_JSON && !isJsonContentType(dct) && typeof data !== 'string') {
        throw new CloudEventError('FG_ERR_CE_ENCODE', `event ${event.id}: data must be a string or bytes when datacontenttype "${dct}" is not a JSON media type`, 'data')
      }
      if (rawJson === undefined) return Buffer.from(text + DATA_MEMBER + quote(data) + '}', 'utf8')
      text += DATA_MEMBER
      const head = Buffer.byteLength(text, 'utf8')
      const out = Buffer.allocUnsafe(head + rawJson.length + 1)
      out.write(text, 0, head, 'utf8')
      rawJson.copy(out, head)
      out[head + rawJson.length] = 0x7d // }
      return out
    }
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

function typeName (v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v
}

function decodeData (obj: Record<string, unknown>, dct: string | undefined, where: string): CloudEventData | undefined {
  const b64 = obj.data_base64
  const hasData = Object.hasOwn(obj, 'data')
  if (b64 !== undefined && b64 !== null) {
    // [CE-JSON 3.1] data and data_base64 are mutually exclusive.
    if (hasData) throw invalid(`${where}both "data" and "data_base64" are present`, 'data')
    if (typeof b64 !== 'string' || !BASE64.test(b64)) throw invalid(`${where}"data_base64" must be a Base64 string (RFC 4648)`, 'data_base64')
    return Buffer.from(b64, 'base64')
  }
  if (!hasData) return undefined
  const data = obj.data as JsonValue
  // [CE-JSON 3.1.2] with a non-JSON datacontenttype, data is an encoded content string.
  if (dct !== undefined && !isJsonContentType(dct) && typeof data !== 'string') {
    throw invalid(`${where}"data" must be a string when datacontenttype "${dct}" is not a JSON media type (got ${typeName(data)})`, 'data')
  }
  return data
}

function stringMember (obj: Record<string, unknown>, name: string, where: string): string | undefined {
  const v = obj[name]
  if (v === undefined || v === null) return undefined // [CE-JSON 2.2] null means unset
  if (typeof v !== 'string') throw invalid(`${where}attribute "${name}" must be a string, got ${typeName(v)}`, name)
  return v
}

const KNOWN_MEMBERS = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64'])

/**
 * [CE-JSON] an event from its JSON format object, validated strictly (validateEvent).
 * `where` prefixes error messages, e.g. `[3]: ` for a batch element. Throws CloudEventError
 * (FG_ERR_CE_INVALID).
 */
export function fromJSONFormat (value: unknown, where = ''): CloudEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalid(`${where}a JSON-format event must be a JSON object, got ${typeName(value)}`)
  }
  const obj = value as Record<string, unknown>
  const specversion = obj.specversion
  if (specversion === undefined || specversion === null) throw invalid(`${where}required attribute "specversion" is missing`, 'specversion')
  if (specversion !== SPEC_VERSION) throw invalid(`${where}unsupported specversion ${JSON.stringify(specversion)}; only "1.0" is supported`, 'specversion')
  const event: { -readonly [K in keyof CloudEvent]: CloudEvent[K] } = {
    specversion: SPEC_VERSION,
    id: stringMember(obj, 'id', where) as string,
    source: stringMember(obj, 'source', where) as string,
    type: stringMember(obj, 'type', where) as string,
    extensions: {}
  }
  for (const name of OPTIONAL) {
    const v = stringMember(obj, name, where)
    if (v !== undefined) event[name] = v
  }
  const extensions: Record<string, ExtensionValue> = {}
  for (const name of Object.keys(obj)) {
    if (KNOWN_MEMBERS.has(name)) continue
    const v = obj[name]
    if (v === null) continue
    const badName = attributeNameProblem(name) ?? extensionNameProblem(name)
    if (badName !== undefined) throw invalid(`${where}member ${badName}`, name)
    const badValue = extensionValueProblem(v)
    if (badValue !== undefined) throw invalid(`${where}extension "${name}" ${badValue}`, name)
    extensions[name] = v as ExtensionValue
  }
  event.extensions = extensions
  const data = decodeData(obj, event.datacontenttype, where)
  if (data !== undefined) event.data = data
  try {
    validateEvent(event)
  } catch (err) {
    if (err instanceof CloudEventError && where !== '') throw invalid(where + err.message, err.attribute, err)
    throw err
  }
  return event
}
