/**
 * [CE-JSON] the JSON event format: one event as a JSON object, attributes and extensions as
 * top-level members, `data` (JSON value or text) or `data_base64` (bytes).
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/formats/json-format.md
 */
import { CloudEventError, invalid } from './errors.js'
import { isJsonContentType, SPEC_VERSION, type CloudEvent, type CloudEventData, type ExtensionValue, type JsonValue } from './event.js'
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
