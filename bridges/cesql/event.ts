/**
 * Reading CloudEvent attributes as CESQL values. [CESQL 3.2]: every attribute and extension is
 * addressable by name; values that are not Boolean, Integer or String are represented as String.
 *
 * The input is a plain object of attributes (`specversion`, `id`, `source`, `type`, `time`,
 * extensions ...). Extensions keep native booleans and 32-bit integers; other numbers (outside
 * the CloudEvents Integer range or fractional) become Strings, `Date`s become RFC 3339 strings and
 * binary values base64, as the CloudEvents type system represents them as strings.
 */
import { Buffer } from 'node:buffer'
import type { CesqlValue } from './values.js'

/** The input of an evaluation: CloudEvent attribute names to values. */
export type CesqlEvent = Readonly<Record<string, unknown>>

/** [CESQL 3.4.4] REQUIRED attributes always exist, as the input event is assumed valid. */
export const REQUIRED_ATTRIBUTES: ReadonlySet<string> = new Set(['specversion', 'id', 'source', 'type'])

/**
 * `data` (and `data_base64`) are the event payload, not attributes: [CESQL 1] "doesn't support
 * the handling of the data field", and no extension may use those names.
 */
export const NOT_ATTRIBUTES: ReadonlySet<string> = new Set(['data', 'data_base64'])

/**
 * The slow half of an attribute read, for values that are not a string, an int32 or a boolean.
 * Returns undefined when the attribute is absent (undefined, null, or only inherited).
 */
export function coerceAttribute (ev: CesqlEvent, name: string, v: unknown): CesqlValue | undefined {
  if (v === undefined || v === null || !Object.prototype.hasOwnProperty.call(ev, name)) return undefined
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return v
    case 'number':
      return (v | 0) === v ? v | 0 : String(v)
    case 'bigint':
      return v >= -2147483648n && v <= 2147483647n ? Number(v) : String(v)
    case 'object':
      if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString()
      if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64')
      return String(v)
    default:
      return String(v)
  }
}

export function hasAttribute (ev: CesqlEvent, name: string): boolean {
  if (REQUIRED_ATTRIBUTES.has(name)) return true
  if (NOT_ATTRIBUTES.has(name)) return false
  const v = ev[name]
  if (v === undefined || v === null) return false
  return typeof v === 'string' || Object.prototype.hasOwnProperty.call(ev, name)
}
