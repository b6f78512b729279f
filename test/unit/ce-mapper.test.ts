import t from 'tap'
import type { LogRecord } from '../../storage/record.js'
import {
  createMapper, createTimeFormatter, formatSequence, validateEvent, SEQUENCE_WIDTH, DEFAULT_TYPE,
  type CloudEvent
} from '../../bridges/cloudevents/index.js'

const T0 = Date.UTC(2024, 4, 17, 10, 20, 30, 456)

function record (over: Partial<LogRecord> = {}): LogRecord {
  return {
    seq: 42,
    time: T0,
    topic: 'devices/th-01/telemetry',
    payload: Buffer.from('{"temp":21.5}'),
    qos: 1,
    retain: false,
    clientId: 'th-01',
    ...over
  }
}

function configError (tt: Pick<typeof t, 'throws'>, fn: () => unknown, path: string, detail: RegExp): void {
  tt.throws(fn, { name: 'ConfigValueError', code: 'FG_ERR_CONFIG_INVALID', path, detail }, `${path}: ${String(detail)}`)
}

t.test('defaults', async t => {
  const map = createMapper({ gatewayId: 'pi-kitchen-01' })
  const ev = map(record())
  t.strictSame(ev, {
    specversion: '1.0',
    id: 'pi-kitchen-01-42',
    source: '/flowgate/pi-kitchen-01',
    type: DEFAULT_TYPE,
    subject: 'devices/th-01/telemetry',
    time: '2024-05-17T10:20:30.456Z',
    extensions: { sequence: '0000000000000042', clientid: 'th-01' },
    datacontenttype: 'application/json',
    data: { temp: 21.5 }
  })
  t.doesNotThrow(() => validateEvent(ev))
  t.equal(map(record()).id, ev.id, 'id is stable across resends of the same record')
  t.not(map(record({ seq: 43 })).id, ev.id, 'ids differ per record')
})

t.test('sequence is fixed-width and sorts like the numbers', async t => {
  t.equal(SEQUENCE_WIDTH, 16)
  const seqs = [0, 1, 9, 10, 99, 100, 123456789, Number.MAX_SAFE_INTEGER]
  const strings = seqs.map(formatSequence)
  for (const s of strings) t.equal(s.length, 16)
  t.strictSame([...strings].reverse().sort(), strings)
  t.equal(formatSequence(Number.MAX_SAFE_INTEGER), '9007199254740991')
  t.throws(() => formatSequence(-1), TypeError)
  t.throws(() => formatSequence(1.5), TypeError)
})

t.test('time is RFC 3339 in UTC with milliseconds, exactly as toISOString', async t => {
  const format = createTimeFormatter()
  const times = [0, 1, 9, 10, 99, 100, 999, 1000, T0, T0 + 1, T0 + 543, T0 + 1000, T0 - 1, Date.UTC(2024, 1, 29, 23, 59, 59, 999), Date.UTC(2024, 2, 1), -1, -1001, 253402300799999, 253402300800000, 0, 1.5, 2.7, 1000.25]
  for (const ms of [...times, ...times.slice().reverse()]) t.equal(format(ms), new Date(ms).toISOString(), `${ms}`)
})

t.test('JSON detection', async t => {
  const map = createMapper({ gatewayId: 'gw' })
  const cases: Array<[string | Buffer, 'json' | 'binary', unknown?]> = [
    ['{"a":1}', 'json', { a: 1 }],
    ['  [1,2]\n', 'json', [1, 2]],
    ['"text"', 'json', 'text'],
    ['42', 'json', 42],
    ['-1.5e3', 'json', -1500],
    ['true', 'json', true],
    ['null', 'json', null],
    ['{"a":1', 'binary'],
    ['hello', 'binary'],
    ['21.5 C', 'binary'],
    ['   ', 'binary'],
    ['\ufeff{"a":1}', 'binary'], // a BOM is not JSON text
    [Buffer.from([0x22, 0xff, 0x22]), 'binary'], // quoted, but not UTF-8
    [Buffer.from([0x00, 0x01, 0x02, 0xfe]), 'binary']
  ]
  for (const [payload, kind, value] of cases) {
    const buf = Buffer.isBuffer(payload) ? payload : Buffer.from(payload)
    const ev = map(record({ payload: buf }))
    if (kind === 'json') {
      t.equal(ev.datacontenttype, 'application/json', `${JSON.stringify(payload)} is JSON`)
      t.strictSame(ev.data, value)
    } else {
      t.equal(ev.datacontenttype, 'application/octet-stream', `${buf.toString('hex')} is binary`)
      t.ok(Buffer.isBuffer(ev.data) && buf.equals(ev.data), 'data is the payload bytes')
    }
  }
})

t.test('empty payload: no data and no datacontenttype', async t => {
  const ev = createMapper({ gatewayId: 'gw' })(record({ payload: Buffer.alloc(0) }))
  t.notOk('data' in ev)
  t.notOk('datacontenttype' in ev)
  t.doesNotThrow(() => validateEvent(ev))
})

t.test('empty client id: no clientid extension', async t => {
  const ev = createMapper({ gatewayId: 'gw' })(record({ clientId: '' }))
  t.strictSame(ev.extensions, { sequence: '0000000000000042' })
})

t.test('topicPattern and templates', async t => {
  const map = createMapper({
    gatewayId: 'pi-kitchen-01',
    topicPattern: 'devices/{deviceid}/{kind}',
    type: 'com.example.{kind}',
    source: '/sites/kitchen/{deviceid}'
  })
  const ev = map(record())
  t.equal(ev.type, 'com.example.telemetry')
  t.equal(ev.source, '/sites/kitchen/th-01')
  t.equal(ev.subject, 'devices/th-01/telemetry')
  t.strictSame(ev.extensions, { sequence: '0000000000000042', clientid: 'th-01', deviceid: 'th-01', kind: 'telemetry' })

  const other = map(record({ topic: 'plant/line1/status' }))
  t.equal(other.type, DEFAULT_TYPE, 'unmatched topic: template with pattern names falls back to the default')
  t.equal(other.source, '/flowgate/pi-kitchen-01')
  t.strictSame(other.extensions, { sequence: '0000000000000042', clientid: 'th-01' }, 'no pattern extensions')
})

t.test('pattern levels: literal, +, {name}; no partial matches', async t => {
  const map = createMapper({ gatewayId: 'gw', topicPattern: 'site/+/{deviceid}/data', subject: '{deviceid}@{gatewayid}' })
  t.equal(map(record({ topic: 'site/a/dev1/data' })).subject, 'dev1@gw')
  t.equal(map(record({ topic: 'site//dev1/data' })).subject, 'dev1@gw', '+ matches an empty level')
  for (const topic of ['site/a/dev1', 'site/a/dev1/data/x', 'site/a//data', 'site/a/dev1/dat', 'sites/a/dev1/data', 'site/a/dev1/data/']) {
    const ev = map(record({ topic }))
    t.equal(ev.subject, topic, `${topic} does not match`)
    t.notOk(Object.hasOwn(ev.extensions, 'deviceid'))
  }
})

t.test('templates that use only built-ins apply to every topic', async t => {
  const map = createMapper({ gatewayId: 'gw', topicPattern: 'a/{x}', type: 'com.example.{clientid}', source: '/gw/{gatewayid}/{topic}' })
  const ev = map(record({ topic: 'other/topic', clientId: 'c1' }))
  t.equal(ev.type, 'com.example.c1')
  t.equal(ev.source, '/gw/gw/other/topic')
})

t.test('source values are percent-encoded into a valid URI-reference', async t => {
  const map = createMapper({ gatewayId: 'gw', topicPattern: 'd/{deviceid}', source: '/sites/{deviceid}' })
  const ev = map(record({ topic: 'd/kitchen sensor ü%' }))
  t.equal(ev.source, '/sites/kitchen%20sensor%20%C3%BC%25')
  t.equal(ev.extensions.deviceid, 'kitchen sensor ü%', 'the extension keeps the raw value')
  t.doesNotThrow(() => validateEvent(ev))
})

t.test('configuration errors name the key and the problem', async t => {
  configError(t, () => createMapper({ gatewayId: '' }), 'gatewayId', /non-empty/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'devices/{DeviceId}' }), 'topicPattern', /DeviceId.*lower-case/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'devices/{device_id}' }), 'topicPattern', /device_id/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'devices/{id}' }), 'topicPattern', /core context attribute/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'devices/{sequence}' }), 'topicPattern', /reserved/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'devices/{data}' }), 'topicPattern', /reserved/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'a/{x}/{x}' }), 'topicPattern', /twice/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'devices/#' }), 'topicPattern', /"#" is not supported/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'devices/dev-{id}' }), 'topicPattern', /cannot be mixed/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: '' }), 'topicPattern', /non-empty/)
  configError(t, () => createMapper({ gatewayId: 'gw', topicPattern: 'd/{deviceid}', type: 'com.example.{kind}' }), 'type', /unknown \{kind\}.*\{deviceid\}/)
  configError(t, () => createMapper({ gatewayId: 'gw', subject: 'x/{nope}' }), 'subject', /unknown \{nope\}/)
  configError(t, () => createMapper({ gatewayId: 'gw', type: 'a{b' }), 'type', /without "\}"/)
  configError(t, () => createMapper({ gatewayId: 'gw', type: 'a}b' }), 'type', /without "\{"/)
  configError(t, () => createMapper({ gatewayId: 'gw', type: '' }), 'type', /non-empty/)
  configError(t, () => createMapper({ gatewayId: 'gw', source: '/sites/my kitchen' }), 'source', /URI-reference/)
  const err = (() => { try { createMapper({ gatewayId: 'gw', type: 'x.{y}' }) } catch (e) { return e as import('../../config/index.js').ConfigValueError } })()
  t.equal(err?.atPath('bridges[0].event').message.split(':')[0], 'bridges[0].event.type', 'the loader can prefix the key path')
})

t.test('every mapped event passes strict validation', async t => {
  const map = createMapper({ gatewayId: 'gw', topicPattern: 'devices/{deviceid}/{kind}' })
  const events: CloudEvent[] = []
  for (let i = 0; i < 100; i++) events.push(map(record({ seq: i, payload: Buffer.from(i % 2 === 0 ? `{"i":${i}}` : 'raw') })))
  for (const ev of events) validateEvent(ev)
  t.equal(events.length, 100)
})
