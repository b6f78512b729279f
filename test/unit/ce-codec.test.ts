import t from 'tap'
import { HTTP, type CloudEventV1 } from 'cloudevents'
import type { LogRecord } from '../../storage/record.js'
import {
  createEventBatchEncoder, createMapper, decodeHttp, detectMode, encodeEventBatch, encodeBinary, encodeEventJSON, encodeHttp,
  encodeStructured, percentDecode, percentEncode, canonicalString, isJsonContentType,
  type CloudEvent, type ContentMode, type HttpMessage
} from '../../bridges/cloudevents/index.js'

const map = createMapper({ gatewayId: 'pi-kitchen-01', topicPattern: 'devices/{deviceid}/{kind}' })
function rec (seq: number, payload: Buffer | string, topic = 'devices/th-01/telemetry'): LogRecord {
  return { seq, time: Date.UTC(2024, 0, 2, 3, 4, 5, 678), topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: false, clientId: 'th-01' }
}
const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i))

/** Events covering every data shape and attribute kind. */
const EVENTS: Record<string, CloudEvent> = {
  'mapped JSON object': map(rec(1, '{"temp":21.5,"ok":true,"tags":["a","ü"]}')),
  'mapped binary payload': map(rec(2, allBytes)),
  'mapped empty payload': map(rec(3, '')),
  'mapped JSON scalar': map(rec(4, '42')),
  'non-ASCII attribute values': {
    specversion: '1.0',
    id: 'id with "quotes" and 100%',
    source: 'urn:example:ümlaut'.replace('ü', '%C3%BC'),
    type: 'com.example.ümlaut',
    subject: 'ümlaut 😀 Euro €',
    time: '2018-04-05T03:56:24+02:00',
    dataschema: 'https://example.com/schema.json',
    extensions: { emoji: '😀', nbsp: 'no\u00a0break', count: 5, flag: true },
    datacontenttype: 'application/json',
    data: { msg: 'Hello, 🌎!' }
  },
  'text data': { specversion: '1.0', id: 't1', source: '/s', type: 'com.example.text', datacontenttype: 'text/plain; charset=utf-8', extensions: {}, data: 'Hello, 🌎!\n' },
  'JSON string data': { specversion: '1.0', id: 't2', source: '/s', type: 'com.example.string', datacontenttype: 'application/json', extensions: {}, data: "I'm just a string" },
  'JSON null data': { specversion: '1.0', id: 't3', source: '/s', type: 'com.example.null', datacontenttype: 'application/json', extensions: {}, data: null },
  'JSON data, no datacontenttype': { specversion: '1.0', id: 't4', source: '/s', type: 'com.example.implicit', extensions: {}, data: [1, 'two'] },
  'bytes, no datacontenttype': { specversion: '1.0', id: 't5', source: '/s', type: 'com.example.bytes', extensions: {}, data: Buffer.from([0, 1, 2, 255]) },
  'vendor +json type': { specversion: '1.0', id: 't6', source: '/s', type: 'com.example.ld', datacontenttype: 'application/ld+json', extensions: {}, data: { '@id': 'x' } }
}

/**
 * What binary mode preserves, per the spec: header values are untyped, so extension Integers
 * and Booleans come back as their canonical strings [CE-HTTP 3.1.3.2]; JSON data without
 * datacontenttype gets the implied application/json [CE-JSON 3.1.2]; text data is bytes on
 * the wire [CE-HTTP 3.1.2].
 */
function viaBinary (ev: CloudEvent): CloudEvent {
  const extensions = Object.fromEntries(Object.entries(ev.extensions).map(([k, v]) => [k, canonicalString(v)]))
  const out: Record<string, unknown> = { ...ev, extensions }
  if (ev.data !== undefined && !Buffer.isBuffer(ev.data) && ev.datacontenttype === undefined) out.datacontenttype = 'application/json'
  if (typeof ev.data === 'string' && ev.datacontenttype !== undefined && !isJsonContentType(ev.datacontenttype)) out.data = Buffer.from(ev.data)
  return out as unknown as CloudEvent
}

// ---- The official SDK (cloudevents 10.0.0) as an independent parser ----------------------
// Quirks found while comparing, each handled below:
//  1. Structured mode: the SDK picks its body parser by exact Content-Type string; it knows
//     "application/cloudevents+json; charset=utf-8" but rejects our "charset=UTF-8" ("invalid
//     content type"), although charset values are case-insensitive (RFC 2046). We lower-case
//     the Content-Type for the SDK.
//  2. Binary mode: no percent-decoding of ce- headers (values come back as sent), so we
//     decodeURIComponent() the SDK's values before comparing.
//  3. Binary mode: the body is JSON-parsed only for Content-Type exactly "application/json"
//     (or "...; charset=utf-8"); JSON scalars that do not start with [ { or " (42, true, null)
//     come back as strings ("42"), because the SDK quotes such text before JSON.parse.
//  4. Binary mode: the body is whatever we pass; we pass a string for text and a Buffer for bytes.
//  5. Structured mode: data_base64 becomes data as a Uint32Array holding one byte per element
//     (batch mode: a Uint8Array); we compare the byte values.
//  6. time is normalised to toISOString() (milliseconds, UTC), and an event without time gets
//     the current time; we compare instants and skip time when our event has none.
type SdkEvent = CloudEventV1<unknown>
const SDK_KNOWN = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'datacontenttype', 'dataschema', 'data', 'data_base64'])

function sdkDecode (msg: HttpMessage, mode: ContentMode | 'batch'): SdkEvent[] {
  const headers = { ...msg.headers }
  if (headers['content-type'] !== undefined) headers['content-type'] = headers['content-type'].toLowerCase() // quirk 1
  const textual = mode !== 'binary' || (headers['content-type'] !== undefined && !headers['content-type'].includes('octet-stream'))
  const body = textual ? msg.body.toString('utf8') : msg.body // quirk 4
  const out = HTTP.toEvent({ headers, body })
  return Array.isArray(out) ? out : [out]
}

function compareWithSdk (tt: Pick<typeof t, 'equal' | 'ok' | 'same'>, ours: CloudEvent, sdk: SdkEvent, mode: ContentMode | 'batch', label: string): void {
  const s = sdk as unknown as Record<string, unknown>
  const fromHeader = (v: unknown): unknown => mode === 'binary' && typeof v === 'string' ? decodeURIComponent(v) : v // quirk 2
  for (const name of ['specversion', 'id', 'source', 'type', 'subject', 'dataschema'] as const) {
    tt.equal(fromHeader(s[name]), ours[name], `${label}: ${name}`)
  }
  // Binary mode states the implied application/json of JSON data explicitly [CE-JSON 3.1.2].
  const implied = mode === 'binary' && ours.data !== undefined && !Buffer.isBuffer(ours.data) && ours.datacontenttype === undefined
  tt.equal(s.datacontenttype, implied ? 'application/json' : ours.datacontenttype, `${label}: datacontenttype`)
  if (ours.time !== undefined) tt.equal(Date.parse(String(s.time)), Date.parse(ours.time), `${label}: time`) // quirk 6
  const sdkExt = Object.keys(s).filter(k => !SDK_KNOWN.has(k) && s[k] !== undefined).sort()
  tt.same(sdkExt, Object.keys(ours.extensions).sort(), `${label}: extension names`)
  for (const [name, value] of Object.entries(ours.extensions)) tt.equal(fromHeader(s[name]), mode === 'binary' ? canonicalString(value) : value, `${label}: extension ${name}`)
  const data = s.data
  if (ours.data === undefined) {
    // binary mode: the SDK hands back the (empty) body as data
    tt.ok(data === undefined || (mode === 'binary' && (data === '' || (ArrayBuffer.isView(data) && data.byteLength === 0))), `${label}: no data`)
  } else if (Buffer.isBuffer(ours.data)) {
    tt.ok(ArrayBuffer.isView(data) && Buffer.from(Array.from(data as Uint8Array)).equals(ours.data), `${label}: data bytes`) // quirk 5
  } else if (mode === 'binary' && typeof data === 'string' && typeof ours.data !== 'string') {
    tt.equal(data, JSON.stringify(ours.data), `${label}: data (JSON scalar as text, quirk 3)`)
  } else if (mode === 'binary' && typeof data === 'string' && ours.datacontenttype !== undefined && isJsonContentType(ours.datacontenttype) && !['application/json', 'application/json; charset=utf-8'].includes(ours.datacontenttype)) {
    tt.same(JSON.parse(data), ours.data, `${label}: data (JSON text, quirk 3)`)
  } else {
    tt.same(data, ours.data, `${label}: data`)
  }
}

t.test('round trips in binary and structured mode, checked against the SDK', async t => {
  for (const [label, ev] of Object.entries(EVENTS)) {
    for (const mode of ['binary', 'structured'] as const) {
      const msg = encodeHttp(ev, mode)
      const decoded = decodeHttp(msg.headers, msg.body)
      t.equal(decoded.mode, mode)
      t.strictSame(decoded.events, [mode === 'binary' ? viaBinary(ev) : ev], `${label} (${mode}) decodes to the same event`)
      const again = encodeHttp(decoded.events[0] as CloudEvent, mode)
      t.strictSame(again.headers, msg.headers, `${label} (${mode}) re-encodes to the same headers`)
      t.ok(again.body.equals(msg.body), `${label} (${mode}) re-encodes to the same body`)
      const sdk = sdkDecode(msg, mode)
      t.equal(sdk.length, 1)
      compareWithSdk(t, ev, sdk[0] as SdkEvent, mode, `${label} (${mode}, SDK)`)
    }
  }
})

t.test('batch mode round trip, checked against the SDK', async t => {
  const events = Object.values(EVENTS)
  const msg = encodeEventBatch(events)
  t.equal(msg.headers['content-type'], 'application/cloudevents-batch+json; charset=UTF-8')
  const decoded = decodeHttp(msg.headers, msg.body)
  t.equal(decoded.mode, 'batch')
  t.strictSame(decoded.events, events)
  const sdk = sdkDecode(msg, 'batch')
  t.equal(sdk.length, events.length)
  events.forEach((ev, i) => compareWithSdk(t, ev, sdk[i] as SdkEvent, 'batch', `batch[${i}] (SDK)`))
  const empty = encodeEventBatch([])
  t.equal(empty.body.toString(), '[]')
  t.strictSame(decodeHttp(empty.headers, empty.body), { mode: 'batch', events: [] })
})

t.test('batch encoder reports exact byte sizes', async t => {
  const batch = createEventBatchEncoder()
  t.equal(batch.byteLength, 2)
  const pieces = Object.values(EVENTS).slice(0, 3).map(encodeEventJSON)
  let expected = 2
  pieces.forEach((p, i) => {
    expected += p.length + (i > 0 ? 1 : 0)
    t.equal(batch.byteLengthWith(p), expected)
    batch.push(p)
    t.equal(batch.byteLength, expected)
  })
  t.equal(batch.count, 3)
  const msg = batch.finish()
  t.equal(msg.body.length, expected)
  t.equal(batch.count, 0, 'finish empties the encoder')
  t.equal(JSON.parse(msg.body.toString()).length, 3)

  // A batcher that respects maxBytes.
  const maxBytes = pieces[0]!.length + pieces[1]!.length + 3
  const sent: Buffer[] = []
  const b = createEventBatchEncoder()
  for (const p of pieces) {
    if (b.count > 0 && b.byteLengthWith(p) > maxBytes) sent.push(b.finish().body)
    b.push(p)
  }
  sent.push(b.finish().body)
  t.strictSame(sent.map(s => JSON.parse(s.toString()).length), [2, 1])
  for (const s of sent) t.ok(s.length <= maxBytes)
})

t.test('binary mode headers: byte-exact percent-encoding, no ce-datacontenttype', async t => {
  const msg = encodeBinary(EVENTS['non-ASCII attribute values'] as CloudEvent)
  t.strictSame(msg.headers, {
    'ce-specversion': '1.0',
    'ce-id': 'id%20with%20%22quotes%22%20and%20100%25',
    'ce-source': 'urn:example:%25C3%25BCmlaut',
    'ce-type': 'com.example.%C3%BCmlaut',
    'ce-subject': '%C3%BCmlaut%20%F0%9F%98%80%20Euro%20%E2%82%AC',
    'ce-time': '2018-04-05T03:56:24+02:00',
    'ce-dataschema': 'https://example.com/schema.json',
    'ce-emoji': '%F0%9F%98%80',
    'ce-nbsp': 'no%C2%A0break',
    'ce-count': '5',
    'ce-flag': 'true',
    'content-type': 'application/json'
  })
  for (const ev of Object.values(EVENTS)) t.notOk('ce-datacontenttype' in encodeBinary(ev).headers)
  t.equal(encodeBinary(EVENTS['mapped binary payload'] as CloudEvent).headers['content-type'], 'application/octet-stream')
  t.ok(encodeBinary(EVENTS['mapped binary payload'] as CloudEvent).body.equals(allBytes), 'bytes go out as they are')
  t.equal(encodeBinary(EVENTS['JSON string data'] as CloudEvent).body.toString(), '"I\'m just a string"')
  t.equal(encodeBinary(EVENTS['mapped empty payload'] as CloudEvent).body.length, 0)
  t.notOk('content-type' in encodeBinary(EVENTS['mapped empty payload'] as CloudEvent).headers)
})

t.test('percent-encoding and decoding [CE-HTTP 3.1.3.2]', async t => {
  t.equal(percentEncode('ümlaut'), '%C3%BCmlaut')
  t.equal(percentEncode('Euro € 😀'), 'Euro%20%E2%82%AC%20%F0%9F%98%80', 'the spec example')
  t.equal(percentEncode('100% "x"'), '100%25%20%22x%22')
  t.equal(percentEncode('\u007f\u0000\t'), '%7F%00%09')
  const printable = "a-Z_0.9~!#$&'()*+,/:;<=>?@[\\]^`{|}"
  t.equal(percentEncode(printable), printable, 'printable ASCII other than space, " and % is kept')
  t.throws(() => percentEncode('x\ud800y'), { code: 'FG_ERR_CE_ENCODE' })

  t.equal(percentDecode('%c3%bcmlaut', 'ce-x'), 'ümlaut', 'lower-case hex')
  t.equal(percentDecode('%41%42C', 'ce-x'), 'ABC', 'unnecessary encoding is accepted')
  t.equal(percentDecode('Euro%20%E2%82%AC%20%F0%9F%98%80', 'ce-x'), 'Euro € 😀')
  t.equal(percentDecode('"hello world"', 'ce-x'), 'hello world', 'double-quoted string')
  t.equal(percentDecode('"a \\"b\\" c"', 'ce-x'), 'a "b" c', 'backslash escapes inside quotes')
  t.equal(percentDecode('"100%25"', 'ce-x'), '100%', 'unquote, then percent-decode')
  t.equal(percentDecode('  padded  ', 'ce-x'), 'padded')
  for (const bad of ['%C0%A0', '%ED%A0%80', '%E2%82', '%FF', '%G1', '%4', '"open', 'ümlaut']) {
    t.throws(() => percentDecode(bad, 'ce-x'), { code: 'FG_ERR_CE_INVALID', attribute: 'ce-x' }, `rejects ${bad}`)
  }
})

t.test('structured mode: data vs data_base64', async t => {
  const body = (name: string): Record<string, unknown> => JSON.parse(encodeStructured(EVENTS[name] as CloudEvent).body.toString())
  t.equal(encodeStructured(EVENTS['text data'] as CloudEvent).headers['content-type'], 'application/cloudevents+json; charset=UTF-8')
  t.same(body('mapped JSON object').data, { temp: 21.5, ok: true, tags: ['a', 'ü'] })
  t.notOk('data_base64' in body('mapped JSON object'))
  t.equal(body('mapped binary payload').data_base64, allBytes.toString('base64'))
  t.notOk('data' in body('mapped binary payload'))
  t.equal(body('mapped binary payload').datacontenttype, 'application/octet-stream')
  t.equal(body('text data').data, 'Hello, 🌎!\n', 'text goes in data as a string')
  t.equal(body('JSON string data').data, "I'm just a string")
  t.equal(body('JSON null data').data, null, 'explicit null is kept')
  t.notOk('datacontenttype' in body('bytes, no datacontenttype'), 'no datacontenttype is invented for bytes')
  const empty = body('mapped empty payload')
  t.notOk('data' in empty)
  t.notOk('data_base64' in empty)
  t.throws(() => encodeStructured({ ...(EVENTS['text data'] as CloudEvent), data: { not: 'text' } }), { code: 'FG_ERR_CE_ENCODE', attribute: 'data' })
  t.throws(() => encodeBinary({ ...(EVENTS['text data'] as CloudEvent), data: 5 }), { code: 'FG_ERR_CE_ENCODE' })
})

t.test('mode detection', async t => {
  t.equal(detectMode(undefined), 'binary')
  t.equal(detectMode('application/json'), 'binary')
  t.equal(detectMode('Application/CloudEvents+JSON; charset=utf-8'), 'structured')
  t.equal(detectMode('APPLICATION/CLOUDEVENTS-BATCH+JSON'), 'batch')
})

t.test('decoding rejects invalid messages with clear errors', async t => {
  const base = encodeBinary(EVENTS['text data'] as CloudEvent)
  const bin = (headers: Record<string, string | undefined>, body: Buffer = base.body): unknown => decodeHttp({ ...base.headers, ...headers }, body)
  t.throws(() => bin({ 'ce-id': undefined }), { code: 'FG_ERR_CE_INVALID', attribute: 'id', message: /"id" is missing/ })
  t.throws(() => bin({ 'ce-specversion': undefined }), { message: /not a CloudEvent.*ce-specversion/ })
  t.throws(() => bin({ 'ce-specversion': '0.3' }), { attribute: 'specversion', message: /unsupported specversion "0.3"/ })
  t.throws(() => bin({ 'ce-datacontenttype': 'text/plain' }), { message: /must not be present/ })
  t.throws(() => bin({ 'ce-type': '' }), { attribute: 'type', message: /non-empty/ })
  t.throws(() => bin({ 'ce-time': 'yesterday' }), { attribute: 'time', message: /RFC 3339/ })
  t.throws(() => bin({ 'ce-time': '2023-02-29T00:00:00Z' }), { code: 'FG_ERR_CE_INVALID', attribute: 'time' })
  t.throws(() => bin({ 'ce-source': 'has%20space%20decoded' }), { attribute: 'source', message: /URI-reference/ })
  t.throws(() => bin({ 'ce-dataschema': '/relative' }), { code: 'FG_ERR_CE_INVALID', attribute: 'dataschema' })
  t.throws(() => bin({ 'ce-ext': 'bad%0Anewline' }), { attribute: 'ext', message: /control character U\+000A/ })
  t.throws(() => bin({ 'ce-data': 'x' }), { message: /reserved/ })
  t.throws(() => bin({ 'content-type': 'not a media type' }), { code: 'FG_ERR_CE_INVALID', attribute: 'datacontenttype' })
  t.throws(() => bin({ 'content-type': 'application/json' }, Buffer.from('{oops')), { message: /not valid JSON/ })
  t.throws(() => decodeHttp({ ...base.headers, 'ce-id': ['a', 'b'] }, base.body), { message: /appears 2 times/ })
  t.equal(decodeHttp({ ...base.headers, 'x-forwarded-for': ['a', 'b'] }, base.body).events.length, 1, 'repeated transport headers are not our business')

  const st = (body: unknown, contentType = 'application/cloudevents+json'): unknown =>
    decodeHttp({ 'content-type': contentType }, Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)))
  const ok = { specversion: '1.0', id: '1', source: '/s', type: 't' }
  t.strictSame(st(ok), { mode: 'structured', events: [{ ...ok, extensions: {} }] })
  t.strictSame(st({ ...ok, subject: null, ext: null }), { mode: 'structured', events: [{ ...ok, extensions: {} }] }, 'null means unset')
  t.throws(() => st('{"specversion":'), { message: /structured-mode body is not valid JSON/ })
  t.throws(() => st([ok]), { message: /must be a JSON object, got array/ })
  t.throws(() => st({ ...ok, specversion: 1 }), { code: 'FG_ERR_CE_INVALID', attribute: 'specversion' })
  t.throws(() => st({ ...ok, id: 7 }), { attribute: 'id', message: /must be a string, got number/ })
  t.throws(() => st({ ...ok, source: undefined }), { attribute: 'source', message: /missing/ })
  t.throws(() => st({ ...ok, data: 1, data_base64: 'AA==' }), { message: /both "data" and "data_base64"/ })
  t.throws(() => st({ ...ok, data_base64: 'not base64!' }), { code: 'FG_ERR_CE_INVALID', attribute: 'data_base64' })
  t.throws(() => st({ ...ok, datacontenttype: 'text/plain', data: { a: 1 } }), { attribute: 'data', message: /must be a string/ })
  t.throws(() => st({ ...ok, Ext: 'x' }), { attribute: 'Ext', message: /lower-case/ })
  t.throws(() => st({ ...ok, ext: { a: 1 } }), { attribute: 'ext', message: /String, Integer or Boolean/ })
  t.throws(() => st({ ...ok, ext: 1.5 }), { attribute: 'ext', message: /Integer/ })
  t.throws(() => st({ ...ok, ext: 2 ** 31 }), { code: 'FG_ERR_CE_INVALID', attribute: 'ext' })
  t.throws(() => st(ok, 'application/cloudevents+avro'), { message: /unsupported event format/ })
  t.throws(() => st(ok, 'application/cloudevents+json; charset=latin1'), { message: /charset/ })
  t.throws(() => decodeHttp({ 'content-type': 'application/cloudevents+json' }, Buffer.from([0x7b, 0xff, 0x7d])), { message: /not valid UTF-8/ })
  t.throws(() => st({}, 'application/cloudevents-batch+json'), { message: /JSON array/ })
  t.throws(() => st([ok, { ...ok, id: '' }], 'application/cloudevents-batch+json'), { message: /^\[1\]: attribute "id" must be a non-empty string/ })
})
