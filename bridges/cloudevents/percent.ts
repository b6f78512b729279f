/**
 * [CE-HTTP 3.1.3.2] HTTP header values for CloudEvents attributes: percent-encoding on the
 * way out, double-quote unescaping then one round of percent-decoding on the way in.
 */
import { isUtf8 } from 'node:buffer'
import { CloudEventError, invalid } from './errors.js'

const HEX = '0123456789ABCDEF'

/** [CE-HTTP 3.1.3.2] space, double-quote, percent and anything outside U+0021-U+007E are encoded. */
function mustEncode (c: number): boolean {
  return c <= 0x20 || c === 0x22 || c === 0x25 || c >= 0x7f
}

function byte (b: number): string {
  return '%' + HEX.charAt(b >> 4) + HEX.charAt(b & 15)
}

/**
 * Percent-encodes an attribute's canonical string for an HTTP header, upper-case hex, one
 * UTF-8 byte per triplet; a surrogate pair is one character. Returns `value` itself when
 * nothing needs encoding (the common case). Throws CloudEventError (FG_ERR_CE_ENCODE) on an
 * unpaired surrogate, which no valid CloudEvents String contains.
 */
export function percentEncode (value: string): string {
  const n = value.length
  let i = 0
  while (i < n && !mustEncode(value.charCodeAt(i))) i++
  if (i === n) return value
  let out = value.slice(0, i)
  for (; i < n; i++) {
    const c = value.charCodeAt(i)
    if (!mustEncode(c)) {
      out += value.charAt(i)
    } else if (c < 0x80) {
      out += byte(c)
    } else if (c < 0x800) {
      out += byte(0xc0 | (c >> 6)) + byte(0x80 | (c & 0x3f))
    } else if (c < 0xd800 || c > 0xdfff) {
      out += byte(0xe0 | (c >> 12)) + byte(0x80 | ((c >> 6) & 0x3f)) + byte(0x80 | (c & 0x3f))
    } else {
      const d = value.charCodeAt(i + 1)
      if (c > 0xdbff || !(d >= 0xdc00 && d <= 0xdfff)) {
        throw new CloudEventError('FG_ERR_CE_ENCODE', 'header value contains an unpaired surrogate')
      }
      const cp = ((c - 0xd800) << 10) + (d - 0xdc00) + 0x10000
      out += byte(0xf0 | (cp >> 18)) + byte(0x80 | ((cp >> 12) & 0x3f)) + byte(0x80 | ((cp >> 6) & 0x3f)) + byte(0x80 | (cp & 0x3f))
      i++
    }
  }
  return out
}

function hexValue (c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/**
 * [RFC 7230 3.2.6] removes double-quoted-string quoting: `"a \"b\""` becomes `a "b"`.
 * Quoted parts may sit between unquoted text.
 */
function unquote (value: string, header: string): string {
  let out = ''
  let quoted = false
  for (let i = 0; i < value.length; i++) {
    const ch = value.charAt(i)
    if (ch === '"') {
      quoted = !quoted
    } else if (quoted && ch === '\\') {
      i++
      if (i === value.length) break
      out += value.charAt(i)
    } else {
      out += ch
    }
  }
  if (quoted) throw invalid(`header ${header}: unterminated double-quoted string`, header)
  return out
}

/**
 * [CE-HTTP 3.1.3.2] decodes one header value: trims optional whitespace, unescapes
 * double-quoted strings, then performs one round of percent-decoding (hex digits in either
 * case). Unnecessarily encoded characters are accepted; byte sequences that are not valid
 * UTF-8 (overlong forms such as %C0%A0, surrogates, truncated sequences) are rejected, as
 * are raw characters outside printable US-ASCII. `header` names the header in errors.
 */
export function percentDecode (raw: string, header: string): string {
  let value = raw.trim()
  if (value.includes('"')) value = unquote(value, header)
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x20 || c > 0x7e) {
      if (c === 0x09) continue
      throw invalid(`header ${header}: raw character U+${c.toString(16).toUpperCase().padStart(4, '0')} in value; CloudEvents header values must be percent-encoded printable US-ASCII`, header)
    }
  }
  if (!value.includes('%')) return value
  const bytes = Buffer.allocUnsafe(value.length)
  let n = 0
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c !== 0x25) {
      bytes[n++] = c
      continue
    }
    const hi = hexValue(value.charCodeAt(i + 1))
    const lo = hexValue(value.charCodeAt(i + 2))
    if (hi < 0 || lo < 0) throw invalid(`header ${header}: "%" is not followed by two hex digits`, header)
    bytes[n++] = (hi << 4) | lo
    i += 2
  }
  const decoded = bytes.subarray(0, n)
  if (!isUtf8(decoded)) throw invalid(`header ${header}: percent-encoded bytes are not valid UTF-8`, header)
  return decoded.toString('utf8')
}
