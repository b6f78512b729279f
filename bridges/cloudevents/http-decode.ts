/**
 * [CE-HTTP 3] CloudEvents over HTTP, receiving side (the `flowgate receive` tool, tests):
 * detects the content mode, decodes binary, structured and batched messages, validates
 * strictly. Every problem is a CloudEventError (FG_ERR_CE_INVALID) with a message that says
 * what is wrong and where.
 */
import { isUtf8 } from 'node:buffer'
import { invalid } from './errors.js'
import { isJsonContentType, SPEC_VERSION, type CloudEvent, type CloudEventData, type ExtensionValue, type JsonValue } from './event.js'
import { fromJSONFormat } from './json-format.js'
import { percentDecode } from './percent.js'
import { extensionNameProblem, validateEvent } from './validate.js'

/** Incoming headers as Node gives them (`IncomingHttpHeaders`), any name case. */
export type IncomingHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

export type DecodedMode = 'binary' | 'structured' | 'batch'

export interface DecodedMessage {
  mode: DecodedMode
  events: CloudEvent[]
}

/**
 * [CE-HTTP 3] the content mode from the Content-Type header, matched case-insensitively:
 * `application/cloudevents-batch...` is batched, `application/cloudevents...` structured,
 * anything else (or none) binary.
 */
export function detectMode (contentType: string | undefined): DecodedMode {
  if (contentType === undefined) return 'binary'
  const ct = contentType.trimStart().toLowerCase()
  if (ct.startsWith('application/cloudevents-batch')) return 'batch'
  if (ct.startsWith('application/cloudevents')) return 'structured'
  return 'binary'
}

function lowerCaseHeaders (headers: IncomingHeaders): Map<string, string> {
  const out = new Map<string, string>()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    const key = name.toLowerCase()
    if (typeof value !== 'string') {
      // Only headers we read must be single; others (set-cookie, ...) are joined and ignored.
      if (value.length !== 1 && (key.startsWith('ce-') || key === 'content-type')) throw invalid(`header ${key} appears ${value.length} times`, key)
      out.set(key, value.join(', '))
    } else {
      if (out.has(key)) throw invalid(`header ${key} appears more than once`, key)
      out.set(key, value)
    }
  }
  return out
}

function asBuffer (body: Uint8Array): Buffer {
  return Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength)
}

function utf8Text (body: Buffer, what: string): string {
  if (!isUtf8(body)) throw invalid(`${what} is not valid UTF-8`)
  return body.toString('utf8')
}

function parseJsonBody (body: Buffer, what: string): unknown {
  const text = utf8Text(body, what)
  try {
    return JSON.parse(text)
  } catch (err) {
    throw invalid(`${what} is not valid JSON: ${(err as Error).message}`, undefined, err)
  }
}

/** The media type without parameters, lower case, and the charset parameter if any. */
function mediaType (contentType: string): { essence: string, charset: string | undefined } {
  const parts = contentType.split(';')
  let charset: string | undefined
  for (const p of parts.slice(1)) {
    const eq = p.indexOf('=')
    if (eq !== -1 && p.slice(0, eq).trim().toLowerCase() === 'charset') charset = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1').toLowerCase()
  }
  return { essence: (parts[0] ?? '').trim().toLowerCase(), charset }
}

function checkJsonMediaType (contentType: string, expected: string): void {
  const { essence, charset } = mediaType(contentType)
  if (essence !== expected) throw invalid(`unsupported event format "${essence}"; this receiver understands ${expected}`, 'content-type')
  if (charset !== undefined && charset !== 'utf-8') throw invalid(`unsupported charset "${charset}" for ${essence}; JSON is UTF-8`, 'content-type')
}

/**
 * [CE-HTTP 3.1] binary mode: `ce-` headers are attributes (percent-decoded, [CE-HTTP 3.1.3.2]),
 * Content-Type is datacontenttype, the body is data: parsed when Content-Type is a JSON media
 * type, bytes otherwise; an empty body means no data.
 */
function decodeBinary (headers: Map<string, string>, body: Buffer): CloudEvent {
  if (headers.has('ce-datacontenttype')) throw invalid('header ce-datacontenttype must not be present in binary mode; the Content-Type header carries datacontenttype [CE-HTTP 3.1.1]', 'ce-datacontenttype')
  const specversion = headers.get('ce-specversion')
  if (specversion === undefined) throw invalid('not a CloudEvent: header ce-specversion is missing (binary mode: no application/cloudevents Content-Type)', 'specversion')
  const sv = percentDecode(specversion, 'ce-specversion')
  if (sv !== SPEC_VERSION) throw invalid(`unsupported specversion ${JSON.stringify(sv)}; only "1.0" is supported`, 'specversion')
  const attrs: Record<string, string> = {}
  const extensions: Record<string, ExtensionValue> = {}
  for (const [name, raw] of headers) {
    if (!name.startsWith('ce-')) continue
    const attr = name.slice(3)
    const value = percentDecode(raw, name)
    switch (attr) {
      case 'specversion': break
      case 'id': case 'source': case 'type': case 'subject': case 'time': case 'dataschema':
        attrs[attr] = value
        break
      default: {
        const bad = extensionNameProblem(attr)
        if (bad !== undefined) throw invalid(`header ${name}: extension ${bad}`, attr)
        extensions[attr] = value
      }
    }
  }
  const dct = headers.get('content-type')
  let data: CloudEventData | undefined
  if (body.length > 0) data = dct !== undefined && isJsonContentType(dct) ? parseJsonBody(body, 'body') as JsonValue : body
  const event: CloudEvent = {
    specversion: SPEC_VERSION,
    id: attrs.id as string,
    source: attrs.source as string,
    type: attrs.type as string,
    ...(attrs.subject !== undefined ? { subject: attrs.subject } : {}),
    ...(attrs.time !== undefined ? { time: attrs.time } : {}),
    ...(dct !== undefined ? { datacontenttype: dct.trim() } : {}),
    ...(attrs.dataschema !== undefined ? { dataschema: attrs.dataschema } : {}),
    extensions,
    ...(data !== undefined ? { data } : {})
  }
  validateEvent(event)
  return event
}

/**
 * Decodes an HTTP request (or response) into its CloudEvents: one for binary and structured
 * mode, any number (possibly none) for batched mode. Throws CloudEventError (FG_ERR_CE_INVALID).
 */
export function decodeHttp (headers: IncomingHeaders, body: Uint8Array): DecodedMessage {
  const h = lowerCaseHeaders(headers)
  const buf = asBuffer(body)
  const contentType = h.get('content-type')
  const mode = detectMode(contentType)
  if (mode === 'binary') return { mode, events: [decodeBinary(h, buf)] }
  if (mode === 'structured') {
    checkJsonMediaType(contentType as string, 'application/cloudevents+json')
    return { mode, events: [fromJSONFormat(parseJsonBody(buf, 'structured-mode body'))] }
  }
  checkJsonMediaType(contentType as string, 'application/cloudevents-batch+json')
  const list = parseJsonBody(buf, 'batch body')
  if (!Array.isArray(list)) throw invalid('a batch body must be a JSON array of events')
  return { mode, events: list.map((item, i) => fromJSONFormat(item, `[${i}]: `)) }
}
