/**
 * [CE-VERIFY "Signature"] the digests a `dssematerial` signature covers: CORE_DIGEST over the
 * core context attributes and the data, EXT_DIGEST over the signed extension attributes'
 * canonical values. Pure: values in, bytes out.
 */
import { hash } from 'node:crypto'
import type { CloudEvent, ExtensionValue } from '../cloudevents/index.js'

// one-shot hashing: a Hash object per digest cost more than the digest itself for attribute-sized input
const sha256 = (bytes: Buffer | string): Buffer => hash('sha256', bytes, 'buffer')
const EMPTY_DIGEST = sha256(Buffer.alloc(0))

/** [CE-VERIFY "dssematerial"] names `signedextattrs` must never hold. */
const FORBIDDEN = new Set(['id', 'source', 'specversion', 'type', 'datacontenttype', 'dataschema', 'subject', 'time', 'dssematerial'])

/** The `signedextattrs` rules: no repetition, no core attribute, not `dssematerial`. A reason, or undefined when the list is valid. */
export function signedExtAttrsProblem (names: readonly unknown[]): string | undefined {
  const seen = new Set<string>()
  for (const name of names) {
    if (typeof name !== 'string') return 'signedextattrs must be a list of strings'
    if (FORBIDDEN.has(name)) return `signedextattrs must not name "${name}"`
    if (seen.has(name)) return `signedextattrs names "${name}" twice`
    seen.add(name)
  }
  return undefined
}

/**
 * [CE-VERIFY "Canonical Value Serialization"] Timestamp: RFC 3339 in UTC with second
 * precision; a value without a zone is UTC. `undefined` for text that is not a timestamp.
 */
export function canonicalTime (time: string): string | undefined {
  const m = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$/.exec(time)
  if (m === null) return undefined
  const ms = Date.parse(`${m[1] as string}T${m[2] as string}${m[4] === undefined ? 'Z' : m[4].toUpperCase()}`)
  if (Number.isNaN(ms)) return undefined
  return new Date(ms).toISOString().slice(0, 19) + 'Z'
}

/** [CE-VERIFY] the bytes one extension value is hashed as (String, Integer, Boolean; Binary as its bytes). */
export function canonicalValue (value: ExtensionValue | Uint8Array): Buffer {
  if (value instanceof Uint8Array) return Buffer.from(value)
  if (typeof value === 'boolean') return Buffer.from(value ? 'true' : 'false')
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) throw new TypeError('an Integer extension value must be an integer')
    return Buffer.from(String(value))
  }
  return Buffer.from(value, 'utf8')
}

const text = (s: string | undefined): Buffer => s === undefined ? EMPTY_DIGEST : sha256(s)

/**
 * CORE_DIGEST = SHA256(SHA256(id) + SHA256(source) + SHA256(specversion) + SHA256(type) +
 * SHA256(datacontenttype) + SHA256(dataschema) + SHA256(subject) + SHA256(time) + SHA256(data)),
 * an unset attribute hashing as the empty byte sequence. `data` is the raw bytes of the event
 * data as it travels (see dataBytes).
 */
export function coreDigest (event: CloudEvent, data: Buffer | undefined): Buffer {
  const time = event.time === undefined ? undefined : (canonicalTime(event.time) ?? event.time)
  return sha256(Buffer.concat([
    text(event.id), text(event.source), text(event.specversion), text(event.type),
    text(event.datacontenttype), text(event.dataschema), text(event.subject), text(time),
    data === undefined ? EMPTY_DIGEST : sha256(data)
  ]))
}

/** EXT_DIGEST over `names` in their order; an absent attribute hashes as the empty byte sequence. */
export function extDigest (event: CloudEvent, names: readonly string[]): Buffer {
  const ext = event.extensions
  return sha256(Buffer.concat(names.map(n => Object.hasOwn(ext, n) ? sha256(canonicalValue(ext[n] as ExtensionValue)) : EMPTY_DIGEST)))
}
