/**
 * Attribute validation per [CE 1.0.2] (naming convention, type system, REQUIRED attributes).
 * Checks return a problem description (or undefined) so that callers can word the error for
 * their context (a config key, a header, a JSON member); `validateEvent` throws.
 */
import { invalid } from './errors.js'
import { isCoreAttribute, isJsonContentType, SPEC_VERSION, type CloudEvent, type ExtensionValue } from './event.js'

/** [CE Attribute Naming Convention] lower-case ASCII letters and digits only. */
const NAME = /^[a-z0-9]+$/
/** [CE Attribute Naming Convention] names SHOULD NOT exceed 20 characters (not enforced). */
export const RECOMMENDED_NAME_LENGTH = 20

/** Problem with `name` as an attribute name, or undefined when it is valid. */
export function attributeNameProblem (name: string): string | undefined {
  if (!NAME.test(name)) return `"${name}" is not a valid attribute name: CloudEvents attribute names consist of lower-case letters a-z and digits 0-9 only`
  return undefined
}

/** Problem with `name` as an extension attribute name, or undefined when it is valid. */
export function extensionNameProblem (name: string): string | undefined {
  const bad = attributeNameProblem(name)
  if (bad !== undefined) return bad
  if (isCoreAttribute(name)) return `"${name}" is a core context attribute, not an extension`
  // [CE 1.0.3-wip] `data` is reserved for event formats (it is the JSON format's data member).
  if (name === 'data') return '"data" is reserved and cannot name an extension'
  return undefined
}

function hex (c: number): string {
  return c.toString(16).toUpperCase().padStart(4, '0')
}

/**
 * [CE Type System, String] control characters U+0000-U+001F and U+007F-U+009F, Unicode
 * noncharacters and unpaired surrogates are not allowed. Returns the problem or undefined.
 */
export function stringProblem (s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `contains control character U+${hex(c)}`
    if (c < 0xd800) continue
    if (c <= 0xdbff) {
      const d = s.charCodeAt(i + 1)
      if (!(d >= 0xdc00 && d <= 0xdfff)) return 'contains an unpaired surrogate'
      const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000
      if ((cp & 0xfffe) === 0xfffe) return `contains noncharacter U+${hex(cp)}`
      i++
      continue
    }
    if (c <= 0xdfff) return 'contains an unpaired surrogate'
    if ((c >= 0xfdd0 && c <= 0xfdef) || c >= 0xfffe) return `contains noncharacter U+${hex(c)}`
  }
  return undefined
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:[Zz]|[+-](\d{2}):(\d{2}))$/

function daysInMonth (year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31
}

/** [CE Type System, Timestamp] RFC 3339 `date-time`, field ranges included (second 60 is a leap second). */
export function isTimestamp (s: string): boolean {
  const m = RFC3339.exec(s)
  if (m === null) return false
  const [, y, mo, d, h, mi, se, oh, om] = m.map(Number) as number[]
  if (y === undefined || mo === undefined || d === undefined || h === undefined || mi === undefined || se === undefined) return false
  if (mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo)) return false
  if (h > 23 || mi > 59 || se > 60) return false
  if (oh !== undefined && !Number.isNaN(oh) && (oh > 23 || (om ?? 0) > 59)) return false
  return true
}

/** RFC 3986 characters: unreserved, reserved (gen-delims and sub-delims) and pct-encoded triplets. */
const URI_CHARS = /^(?:[A-Za-z0-9\-._~:/?#[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})*$/
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/

/** Scheme of an RFC 3986 reference, '' when it has none, undefined when the first segment is malformed. */
function schemeOf (s: string): string | undefined {
  const colon = s.indexOf(':')
  if (colon === -1) return ''
  const end = firstOf(s, '/?#')
  if (end !== -1 && end < colon) return ''
  const scheme = s.slice(0, colon)
  // RFC 3986 4.2: a relative reference cannot have ':' in its first path segment.
  return SCHEME.test(scheme) ? scheme : undefined
}

function firstOf (s: string, chars: string): number {
  for (let i = 0; i < s.length; i++) if (chars.includes(s.charAt(i))) return i
  return -1
}

/** [CE Type System, URI-reference] RFC 3986 section 4.1 (character set and scheme syntax). */
export function isUriReference (s: string): boolean {
  return URI_CHARS.test(s) && schemeOf(s) !== undefined
}

/** [CE Type System, URI] an absolute URI, RFC 3986 section 4.3. */
export function isAbsoluteUri (s: string): boolean {
  if (!URI_CHARS.test(s) || s.includes('#')) return false
  const scheme = schemeOf(s)
  return scheme !== undefined && scheme !== ''
}

const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
const MEDIA_TYPE = new RegExp(`^${TOKEN}/${TOKEN}(?:[ \\t]*;[ \\t]*${TOKEN}=(?:${TOKEN}|"(?:[^"\\\\]|\\\\.)*"))*[ \\t]*$`)

/** [CE datacontenttype] a media type per RFC 2046 (RFC 9110 `media-type` grammar). */
export function isMediaType (s: string): boolean {
  return MEDIA_TYPE.test(s)
}

/** [CE Type System, Integer] a whole number in the signed 32-bit range. */
export function isCeInteger (n: number): boolean {
  return Number.isInteger(n) && n >= -2147483648 && n <= 2147483647
}

/** Problem with an extension value, or undefined when it is a valid String, Integer or Boolean. */
export function extensionValueProblem (value: unknown): string | undefined {
  if (typeof value === 'string') return stringProblem(value)
  if (typeof value === 'boolean') return undefined
  if (typeof value === 'number') return isCeInteger(value) ? undefined : 'is a number that is not a 32-bit Integer'
  return `has type ${value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value}; extension values are String, Integer or Boolean`
}

function nonEmptyString (event: CloudEvent, name: 'id' | 'source' | 'type' | 'subject', required: boolean): void {
  const value = event[name]
  if (value === undefined) {
    if (required) throw invalid(`required attribute "${name}" is missing`, name)
    return
  }
  if (typeof value !== 'string' || value === '') throw invalid(`attribute "${name}" must be a non-empty string`, name)
  const bad = stringProblem(value)
  if (bad !== undefined) throw invalid(`attribute "${name}" ${bad}`, name)
}

/**
 * Throws CloudEventError (FG_ERR_CE_INVALID, `attribute` set) when `event` breaks a MUST of
 * [CE 1.0.2]: REQUIRED attributes, attribute types and formats, extension names and values,
 * and data that the event's `datacontenttype` cannot carry.
 */
export function validateEvent (event: CloudEvent): void {
  if (event.specversion !== SPEC_VERSION) throw invalid(`unsupported specversion ${JSON.stringify(event.specversion)}; only "1.0" is supported`, 'specversion')
  nonEmptyString(event, 'id', true)
  nonEmptyString(event, 'source', true)
  if (!isUriReference(event.source)) throw invalid(`attribute "source" must be a URI-reference (RFC 3986): ${JSON.stringify(event.source)}`, 'source')
  nonEmptyString(event, 'type', true)
  nonEmptyString(event, 'subject', false)
  if (event.time !== undefined && (typeof event.time !== 'string' || !isTimestamp(event.time))) {
    throw invalid(`attribute "time" must be an RFC 3339 timestamp: ${JSON.stringify(event.time)}`, 'time')
  }
  const dct = event.datacontenttype
  if (dct !== undefined && (typeof dct !== 'string' || !isMediaType(dct))) {
    throw invalid(`attribute "datacontenttype" must be an RFC 2046 media type: ${JSON.stringify(dct)}`, 'datacontenttype')
  }
  if (event.dataschema !== undefined && (typeof event.dataschema !== 'string' || !isAbsoluteUri(event.dataschema))) {
    throw invalid(`attribute "dataschema" must be an absolute URI: ${JSON.stringify(event.dataschema)}`, 'dataschema')
  }
  for (const name of Object.keys(event.extensions)) {
    const badName = extensionNameProblem(name)
    if (badName !== undefined) throw invalid(`extension ${badName}`, name)
    const badValue = extensionValueProblem(event.extensions[name] as ExtensionValue)
    if (badValue !== undefined) throw invalid(`extension "${name}" ${badValue}`, name)
  }
  const data = event.data
  if (data !== undefined && !Buffer.isBuffer(data) && typeof data !== 'string' && dct !== undefined && !isJsonContentType(dct)) {
    throw invalid(`data must be a string or bytes when datacontenttype "${dct}" is not a JSON media type`, 'data')
  }
}
