/**
 * An event of the log as the admin API returns it, serialised straight into
 * bytes. A payload can be hundreds of kilobytes: turned into a string and then
 * into JSON it would make two strings that size on the JavaScript heap, where
 * strings that large are only freed by a full collection, and a few pages of
 * large events grew the gateway by hundreds of megabytes between collections.
 * Here the payload goes from its bytes to the response's bytes: UTF-8 text is
 * escaped byte by byte (the same JSON as JSON.stringify), anything else is
 * base64 in slices small enough to die young.
 */
import { isUtf8 } from 'node:buffer'
import type { LogRecord } from '../../storage/index.js'

const QUOTE = 0x22
const BACKSLASH = 0x5c
/** A multiple of 3, so the base64 of each slice joins with the next (no padding between). */
const BASE64_SLICE = 48 * 1024
const CLOSE = Buffer.from('}')
const SHORT_ESCAPES: Readonly<Record<number, string>> = { 0x08: '\\b', 0x09: '\\t', 0x0a: '\\n', 0x0c: '\\f', 0x0d: '\\r', 0x22: '\\"', 0x5c: '\\\\' }

/** `text` (valid UTF-8) as a JSON string literal: quotes, backslashes and control characters escaped. */
function jsonString (text: Buffer): Buffer {
  let extra = 0
  for (let i = 0; i < text.length; i++) {
    const b = text[i] as number
    if (b === QUOTE || b === BACKSLASH) extra += 1
    else if (b < 0x20) extra += SHORT_ESCAPES[b] === undefined ? 5 : 1
  }
  const out = Buffer.allocUnsafe(text.length + extra + 2)
  out[0] = QUOTE
  if (extra === 0) {
    text.copy(out, 1)
  } else {
    let o = 1
    for (let i = 0; i < text.length; i++) {
      const b = text[i] as number
      if (b !== QUOTE && b !== BACKSLASH && b >= 0x20) {
        out[o++] = b
        continue
      }
      const escape = SHORT_ESCAPES[b] ?? `\\u00${b.toString(16).padStart(2, '0')}`
      o += out.write(escape, o, 'latin1')
    }
  }
  out[out.length - 1] = QUOTE
  return out
}

/** `bytes` in base64 as a JSON string literal. */
function base64String (bytes: Buffer): Buffer {
  const out = Buffer.allocUnsafe(Math.ceil(bytes.length / 3) * 4 + 2)
  out[0] = QUOTE
  let o = 1
  for (let i = 0; i < bytes.length; i += BASE64_SLICE) o += out.write(bytes.subarray(i, i + BASE64_SLICE).toString('base64'), o, 'latin1')
  out[o] = QUOTE
  return out
}

/**
 * The event as JSON, in pieces to be written one after the other: its fields, then `payload` as
 * UTF-8 text or base64 (`payloadEncoding` says which).
 */
export function eventJson (r: LogRecord): Buffer[] {
  const text = isUtf8(r.payload)
  const fields = JSON.stringify({
    seq: r.seq,
    time: new Date(r.time).toISOString(),
    topic: r.topic,
    qos: r.qos,
    retain: r.retain,
    clientId: r.clientId,
    ...(r.username !== undefined ? { username: r.username } : {}),
    payloadEncoding: text ? 'utf8' : 'base64'
  })
  return [Buffer.from(`${fields.slice(0, -1)},"payload":`), text ? jsonString(r.payload) : base64String(r.payload), CLOSE]
}
