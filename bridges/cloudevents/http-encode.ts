/**
 * [CE-HTTP 3] CloudEvents over HTTP, sending side: binary, structured and batched modes.
 * https://github.com/cloudevents/spec/blob/v1.0.2/cloudevents/bindings/http-protocol-binding.md
 * Encoders trust their input (the mapper makes valid events); they fail only on data the
 * event's datacontenttype cannot carry (CloudEventError FG_ERR_CE_ENCODE).
 */
import { CloudEventError } from './errors.js'
import { canonicalString, CONTENT_TYPE_JSON, isJsonContentType, type CloudEvent, type ExtensionValue } from './event.js'
import { encodeEventJSON } from './json-format.js'
import { percentEncode } from './percent.js'

export type ContentMode = 'binary' | 'structured'

/** An HTTP request (or response) body with its headers; header names are lower case. */
export interface HttpMessage {
  headers: Record<string, string>
  body: Buffer
}

/** [CE-HTTP 3.2.1] structured mode, JSON event format. */
export const CONTENT_TYPE_STRUCTURED = 'application/cloudevents+json; charset=UTF-8'
/** [CE-HTTP 3.3.1] batched mode, JSON batch format. */
export const CONTENT_TYPE_BATCH = 'application/cloudevents-batch+json; charset=UTF-8'

const EMPTY = Buffer.alloc(0)
const OPTIONAL = ['subject', 'time', 'dataschema'] as const

/**
 * [CE-HTTP 3.1] binary mode. Every attribute but datacontenttype becomes a `ce-` header,
 * percent-encoded [CE-HTTP 3.1.3.2]; datacontenttype is the Content-Type header and there is
 * never a ce-datacontenttype header [CE-HTTP 3.1.1]. Body: bytes as they are, a JSON value as
 * JSON text (Content-Type application/json when the event has no datacontenttype, as
 * [CE-JSON 3.1.2] asks), text as UTF-8; no data, empty body.
 */
export function encodeBinary (event: CloudEvent): HttpMessage {
  const headers: Record<string, string> = {
    'ce-specversion': event.specversion,
    'ce-id': percentEncode(event.id),
    'ce-source': percentEncode(event.source),
    'ce-type': percentEncode(event.type)
  }
  for (const name of OPTIONAL) {
    const value = event[name]
    if (value !== undefined) headers['ce-' + name] = percentEncode(value)
  }
  const ext = event.extensions
  for (const name in ext) {
    if (Object.hasOwn(ext, name)) headers['ce-' + name] = percentEncode(canonicalString(ext[name] as ExtensionValue))
  }
  const dct = event.datacontenttype
  if (dct !== undefined) headers['content-type'] = dct
  const data = event.data
  let body: Buffer
  if (data === undefined) {
    body = EMPTY
  } else if (Buffer.isBuffer(data)) {
    body = data
  } else if (dct === undefined || isJsonContentType(dct)) {
    if (dct === undefined) headers['content-type'] = CONTENT_TYPE_JSON
    body = Buffer.from(JSON.stringify(data), 'utf8')
  } else if (typeof data === 'string') {
    body = Buffer.from(data, 'utf8')
  } else {
    throw new CloudEventError('FG_ERR_CE_ENCODE', `event ${event.id}: data must be a string or bytes when datacontenttype "${dct}" is not a JSON media type`, 'data')
  }
  return { headers, body }
}

/** [CE-HTTP 3.2] structured mode: the JSON event format as the body. */
export function encodeStructured (event: CloudEvent): HttpMessage {
  return { headers: { 'content-type': CONTENT_TYPE_STRUCTURED }, body: encodeEventJSON(event) }
}

export function encodeHttp (event: CloudEvent, mode: ContentMode): HttpMessage {
  return mode === 'binary' ? encodeBinary(event) : encodeStructured(event)
}

/**
 * Builds a [CE-HTTP 3.3] batch body (a JSON array of JSON-format events) from pieces made by
 * `encodeEventJSON`, and knows the body's byte length at every step, so a batcher can stop
 * before `maxBytes`:
 *
 *   const piece = encodeEventJSON(event)
 *   if (batch.count > 0 && batch.byteLengthWith(piece) > maxBytes) send(batch.finish())
 *   batch.push(piece)   // an event larger than maxBytes on its own is the batcher's policy
 *
 * Sizes count the body only (headers are not included).
 */
export interface EventBatchEncoder {
  /** Events in the batch. */
  readonly count: number
  /** Body length in bytes if the batch were finished now (`[]` is 2). */
  readonly byteLength: number
  /** Body length in bytes with `piece` appended. */
  byteLengthWith (piece: Buffer): number
  push (piece: Buffer): void
  /** Encodes `event`, appends it and returns the piece. */
  add (event: CloudEvent): Buffer
  /** The HTTP message for the batch so far; the encoder is empty afterwards. */
  finish (): HttpMessage
}

const OPEN = Buffer.from('[')
const COMMA = Buffer.from(',')
const CLOSE = Buffer.from(']')

export function createEventBatchEncoder (): EventBatchEncoder {
  let pieces: Buffer[] = []
  let total = 0
  const length = (count: number, bytes: number): number => 2 + bytes + (count > 1 ? count - 1 : 0)
  const push = (piece: Buffer): void => {
    pieces.push(piece)
    total += piece.length
  }
  return {
    get count () { return pieces.length },
    get byteLength () { return length(pieces.length, total) },
    byteLengthWith (piece: Buffer): number {
      return length(pieces.length + 1, total + piece.length)
    },
    push,
    add (event: CloudEvent): Buffer {
      const piece = encodeEventJSON(event)
      push(piece)
      return piece
    },
    finish (): HttpMessage {
      const parts: Buffer[] = [OPEN]
      pieces.forEach((p, i) => { if (i > 0) parts.push(COMMA); parts.push(p) })
      parts.push(CLOSE)
      const body = Buffer.concat(parts, length(pieces.length, total))
      pieces = []
      total = 0
      return { headers: { 'content-type': CONTENT_TYPE_BATCH }, body }
    }
  }
}

/** [CE-HTTP 3.3] batched mode: the JSON batch format (a JSON array of JSON-format events). */
export function encodeEventBatch (events: readonly CloudEvent[]): HttpMessage {
  const batch = createEventBatchEncoder()
  for (const event of events) batch.add(event)
  return batch.finish()
}

/**
 * [CE distributed tracing] for one event in a request (binary or structured mode), the HTTP
 * `traceparent` header carries the same trace as the event's `traceparent`, so an upstream
 * that traces HTTP continues the trace the gateway started. A batch has no one trace.
 */
export function withTraceHeader (event: CloudEvent, message: HttpMessage): HttpMessage {
  const tp = event.extensions.traceparent
  return typeof tp === 'string' ? { headers: { ...message.headers, traceparent: tp }, body: message.body } : message
}
