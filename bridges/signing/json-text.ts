/**
 * CloudEvents in the JSON format read from text, keeping the bytes that signatures cover:
 * [CE-VERIFY] `data` is hashed as it travels, so a JSON `data` member is taken as its raw
 * text (from just after the `:` to the end of the value, as the spec's test vectors do), never
 * parsed and serialised again. Reads JSON lines, a batch (a JSON array of events), or one or
 * more structured-mode events one after another.
 */
import { isJsonContentType, SPEC_VERSION, type CloudEvent, type ExtensionValue } from '../cloudevents/index.js'
import { decodeBase64 } from './dsse.js'

export interface ReadEvent {
  /** Position: `3` for the fourth value of the text, `3[1]` for the second event of a batch there. */
  where: string
  event?: CloudEvent
  /** The bytes the event's data travelled as. */
  data?: Buffer | undefined
  /** Why this value is not an event. */
  error?: string
}

class Scanner {
  i = 0
  constructor (readonly s: string) {}

  ws (): void {
    const s = this.s
    while (this.i < s.length) {
      const c = s.charCodeAt(this.i)
      if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) break
      this.i++
    }
  }

  fail (what: string): never {
    throw new SyntaxError(`${what} at offset ${this.i}`)
  }

  /** Skips one value (after white space); returns where it started. */
  value (): number {
    this.ws()
    const start = this.i
    const s = this.s
    const c = s[this.i]
    if (c === '{' || c === '[') {
      const close = c === '{' ? '}' : ']'
      this.i++
      this.ws()
      if (s[this.i] === close) { this.i++; return start }
      for (;;) {
        if (c === '{') {
          this.ws()
          if (s[this.i] !== '"') this.fail('expected a member name')
          this.string()
          this.ws()
          if (s[this.i] !== ':') this.fail('expected ":"')
          this.i++
        }
        this.value()
        this.ws()
        if (s[this.i] === ',') { this.i++; continue }
        if (s[this.i] === close) { this.i++; return start }
        this.fail(`expected "," or "${close}"`)
      }
    }
    if (c === '"') { this.string(); return start }
    const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(s.slice(this.i, this.i + 400))
    if (m === null) this.fail('expected a JSON value')
    this.i += m[0].length
    return start
  }

  string (): void {
    const s = this.s
    this.i++
    while (this.i < s.length) {
      const c = s[this.i]
      if (c === '\\') this.i += 2
      else if (c === '"') { this.i++; return }
      else this.i++
    }
    this.fail('unterminated string')
  }

  /** The members of the object at the cursor, each with its value's text from just after the ':'. */
  members (): Array<{ name: string, raw: string }> {
    const s = this.s
    this.ws()
    if (s[this.i] !== '{') this.fail('expected an object')
    this.i++
    const out: Array<{ name: string, raw: string }> = []
    this.ws()
    if (s[this.i] === '}') { this.i++; return out }
    for (;;) {
      this.ws()
      const nameStart = this.i
      if (s[this.i] !== '"') this.fail('expected a member name')
      this.string()
      const name = JSON.parse(s.slice(nameStart, this.i)) as string
      this.ws()
      if (s[this.i] !== ':') this.fail('expected ":"')
      const after = ++this.i
      this.value()
      out.push({ name, raw: s.slice(after, this.i) })
      this.ws()
      if (s[this.i] === ',') { this.i++; continue }
      if (s[this.i] === '}') { this.i++; return out }
      this.fail('expected "," or "}"')
    }
  }
}

const STRING_ATTRS = ['id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema'] as const

/** An event from its members, as leniently as verification allows (an empty subject is kept, as the spec's Case 2 has it). */
function toEvent (members: Array<{ name: string, raw: string }>): { event: CloudEvent, data: Buffer | undefined } | string {
  const values = new Map<string, unknown>()
  let dataRaw: string | undefined
  for (const m of members) {
    values.set(m.name, JSON.parse(m.raw))
    if (m.name === 'data') dataRaw = m.raw
  }
  if (values.get('specversion') !== SPEC_VERSION) return 'not a CloudEvents 1.0 event (specversion)'
  const event: Record<string, unknown> = { specversion: SPEC_VERSION }
  for (const name of STRING_ATTRS) {
    const v = values.get(name)
    if (v === undefined || v === null) continue
    if (typeof v !== 'string') return `attribute "${name}" is not a string`
    event[name] = v
  }
  if (typeof event.id !== 'string' || typeof event.source !== 'string' || typeof event.type !== 'string') return 'id, source and type are required'
  const extensions: Record<string, ExtensionValue> = {}
  for (const [name, v] of values) {
    if (name === 'specversion' || name === 'data' || name === 'data_base64' || (STRING_ATTRS as readonly string[]).includes(name) || v === null) continue
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return `extension "${name}" is not a String, Integer or Boolean`
    extensions[name] = v
  }
  let data: Buffer | undefined
  const b64 = values.get('data_base64')
  if (b64 !== undefined && b64 !== null) {
    data = decodeBase64(b64)
    if (data === undefined) return '"data_base64" is not Base64'
    event.data = data
  } else if (dataRaw !== undefined) {
    const value = values.get('data')
    const dct = event.datacontenttype as string | undefined
    // text content travels as the string's characters; JSON as its text
    data = typeof value === 'string' && dct !== undefined && !isJsonContentType(dct) ? Buffer.from(value, 'utf8') : Buffer.from(dataRaw, 'utf8')
    event.data = value as CloudEvent['data']
  }
  return { event: { ...(event as unknown as CloudEvent), extensions }, data }
}

/** Every event in `text`; a value that is not JSON ends the reading with an error entry. */
export function readEvents (text: string): ReadEvent[] {
  const sc = new Scanner(text)
  const out: ReadEvent[] = []
  const one = (where: string): void => {
    try {
      const r = toEvent(sc.members())
      out.push(typeof r === 'string' ? { where, error: r } : { where, event: r.event, data: r.data })
    } catch (err) {
      out.push({ where, error: (err as Error).message })
      throw err
    }
  }
  let n = 0
  try {
    for (sc.ws(); sc.i < text.length; sc.ws(), n++) {
      if (text[sc.i] !== '[') { one(String(n)); continue }
      sc.i++
      sc.ws()
      if (text[sc.i] === ']') { sc.i++; continue }
      for (let k = 0; ; k++) {
        const at = sc.i
        sc.ws()
        if (text[sc.i] === '{') {
          one(`${n}[${k}]`)
        } else {
          sc.value()
          out.push({ where: `${n}[${k}]`, error: `batch element ${text.slice(at, sc.i).trim().slice(0, 20)} is not an event object` })
        }
        sc.ws()
        if (text[sc.i] === ',') { sc.i++; continue }
        if (text[sc.i] === ']') { sc.i++; break }
        sc.fail('expected "," or "]"')
      }
    }
  } catch (err) {
    if (out.at(-1)?.error === undefined) out.push({ where: String(n), error: `not JSON: ${(err as Error).message}` })
  }
  return out
}
