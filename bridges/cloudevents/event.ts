/**
 * The CloudEvent value that flows through a bridge: context attributes, extensions, data.
 * [CE 1.0.2] https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/spec.md
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue }

/** [CE Type System] the types an extension value can have at runtime: String (and URI,
 * URI-reference, Timestamp, Binary as their canonical strings), Integer, Boolean. */
export type ExtensionValue = string | number | boolean

/**
 * Event data. A Buffer is the CloudEvents `Binary` runtime type (raw body in binary mode,
 * `data_base64` in JSON formats). Anything else is a JSON value; when `datacontenttype`
 * is not a JSON media type the only allowed JSON value is a string (text content).
 * `undefined` means the event has no data; `null` is JSON null (an explicit null payload).
 */
export type CloudEventData = Buffer | JsonValue

export const SPEC_VERSION = '1.0'

/** The JSON media type: a mapped JSON payload's datacontenttype, and binary mode's Content-Type for JSON data. */
export const CONTENT_TYPE_JSON = 'application/json'

export interface CloudEvent {
  readonly specversion: typeof SPEC_VERSION
  readonly id: string
  /** URI-reference. */
  readonly source: string
  readonly type: string
  readonly subject?: string | undefined
  /** RFC 3339 timestamp, kept as the string that was set or received. */
  readonly time?: string | undefined
  /** RFC 2046 media type of `data`. */
  readonly datacontenttype?: string | undefined
  /** Absolute URI. */
  readonly dataschema?: string | undefined
  /** Extension attributes by name; names never collide with the context attributes above.
   * Look names up with `Object.hasOwn` (or `attributeString`): `constructor` is a valid name. */
  readonly extensions: Readonly<Record<string, ExtensionValue>>
  readonly data?: CloudEventData | undefined
}

/** Context attributes defined by the core specification, in the order encoders write them. */
export const CORE_ATTRIBUTES = ['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema'] as const
export type CoreAttribute = typeof CORE_ATTRIBUTES[number]

const CORE_SET: ReadonlySet<string> = new Set(CORE_ATTRIBUTES)

export function isCoreAttribute (name: string): name is CoreAttribute {
  return CORE_SET.has(name)
}

/** [CE Type System] canonical string encoding of an extension value. */
export function canonicalString (value: ExtensionValue): string {
  return typeof value === 'string' ? value : String(value)
}

export type AttributeGetter = (event: CloudEvent) => string | undefined

function extensionGetter (name: string): AttributeGetter {
  return event => {
    const ext = event.extensions
    if (!Object.hasOwn(ext, name)) return undefined
    const value = ext[name]
    return value === undefined ? undefined : canonicalString(value)
  }
}

const CORE_GETTERS: Record<CoreAttribute, AttributeGetter> = {
  specversion: e => e.specversion,
  id: e => e.id,
  source: e => e.source,
  type: e => e.type,
  subject: e => e.subject,
  time: e => e.time,
  datacontenttype: e => e.datacontenttype,
  dataschema: e => e.dataschema
}

/**
 * A getter for one attribute (context attribute or extension) as its canonical string, or
 * undefined when the event does not have it. Resolve once, call per event.
 */
export function attributeGetter (name: string): AttributeGetter {
  return isCoreAttribute(name) ? CORE_GETTERS[name] : extensionGetter(name)
}

/** The attribute `name` of `event` as its canonical string, or undefined when absent. */
export function attributeString (event: CloudEvent, name: string): string | undefined {
  return attributeGetter(name)(event)
}

/**
 * [CE-JSON 3.1] a media type declares JSON-formatted content when, stripped of parameters,
 * its subtype is `json` or ends with `+json` (`application/json`, `application/ld+json`),
 * compared case-insensitively.
 */
export function isJsonContentType (contentType: string): boolean {
  const semi = contentType.indexOf(';')
  const essence = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase()
  const slash = essence.indexOf('/')
  if (slash <= 0) return false
  const subtype = essence.slice(slash + 1)
  return subtype === 'json' || subtype.endsWith('+json')
}

/**
 * The event's context attributes and extensions as one flat object, without data: the shape
 * attribute-based evaluators such as CESQL read (`{ specversion, id, ..., deviceid }`).
 */
export function contextAttributes (event: CloudEvent): Record<string, ExtensionValue> {
  const out: Record<string, ExtensionValue> = { specversion: event.specversion, id: event.id, source: event.source, type: event.type }
  if (event.subject !== undefined) out.subject = event.subject
  if (event.time !== undefined) out.time = event.time
  if (event.datacontenttype !== undefined) out.datacontenttype = event.datacontenttype
  if (event.dataschema !== undefined) out.dataschema = event.dataschema
  const ext = event.extensions
  for (const name in ext) if (Object.hasOwn(ext, name)) out[name] = ext[name] as ExtensionValue
  return out
}
