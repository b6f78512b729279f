/**
 * Bridges deliver the log as CloudEvents over HTTP: binary, structured and batched
 * modes to a real receiver, every request read by our strict decoder and by the
 * official cloudevents SDK; the mapping a user configures; filters; start positions.
 */
import t from 'tap'
import type { MqttClient } from 'mqtt'
import { percentEncode, type CloudEvent } from '../../bridges/cloudevents/index.js'
import type { LogRecord } from '../../storage/index.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, seqOf, untilCursor, type ReceivedRequest, type SdkEvent } from '../helpers/receiver-control.js'

const RETRY = { initialDelay: '10ms', maxDelay: '200ms' }
const EVENT = { topicPattern: 'devices/{deviceid}/{kind}', type: 'com.example.{kind}', source: '/sites/kitchen/{deviceid}' }

/** The `bridges:` section as YAML (JSON is YAML). */
function bridgesYaml (bridges: object[]): string {
  return `bridges: ${JSON.stringify(bridges)}\n`
}

async function publishAll (client: MqttClient, messages: ReadonlyArray<readonly [string, string | Buffer]>): Promise<void> {
  for (const [topic, payload] of messages) await client.publishAsync(topic, payload, { qos: 1 })
}

/** Printable US-ASCII without space, `"` and `%`, or %XX with upper-case hex [CE-HTTP 3.1.3.2]. */
const HEADER_SAFE = /^(?:[\x21\x23\x24\x26-\x7e]|%[0-9A-F]{2})*$/

// Every process warning of this file: a bridge waiting for new records must not leak listeners.
const warnings: string[] = []
process.on('warning', w => { warnings.push(`${w.name}: ${w.message}`) })

/** JSON that a parse and re-serialisation would change (spacing, 21.50, a 64-bit integer). */
const RAW_JSON = '{"temp": 21.50, "n": 12345678901234567890}'

const BYTES = Buffer.from([0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff])

const MESSAGES: ReadonlyArray<readonly [string, string | Buffer]> = [
  ['devices/th-01/telemetry', '{"temp":21.5,"ok":true,"tags":["a","ü"]}'],
  ['devices/th-01/status', BYTES],
  ['devices/thü-2/telemetry', '{"note":"grüß 😀"}'],
  ['devices/😀/alert', ''],
  ['devices/th-01/telemetry', '42'],
  ['other/topic', '{"x":1}'],
  ['devices/th-01/telemetry', 'not json {'],
  ['devices/th-01/telemetry', '"text"'],
  ['devices/th-01/telemetry', RAW_JSON]
]

t.test('binary, structured and batch mode deliver the same events, readable by the cloudevents SDK', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, { sdk: true })
  const common = { topics: ['#'], event: EVENT, retry: RETRY }
  const gw = await startGateway(t, testConfig(dir, bridgesYaml([
    { name: 'bin', ...common, sink: { url: receiver.url('/bin'), mode: 'binary' } },
    { name: 'str', ...common, sink: { url: receiver.url('/str'), mode: 'structured' } },
    { name: 'bat', ...common, sink: { url: receiver.url('/bat'), mode: 'batch' }, batch: { maxEvents: 3, lingerMs: 20 } }
  ])))
  const client = await connect(t, brokerUrl(gw), { clientId: 'th-client' })
  await publishAll(client, MESSAGES)
  const n = MESSAGES.length
  await Promise.all(['/bin', '/str', '/bat'].map(async p => await receiver.untilDistinct(n, p)))

  t.same(receiver.invalid().map(r => r.invalid), [], 'our strict decoder accepts every request')
  t.same(receiver.requests.filter(r => r.sdkError !== undefined).map(r => r.sdkError), [], 'the SDK accepts every request')

  const records = await gw.log.read(1, 100)
  t.equal(records.length, n)
  const bin = receiver.firstArrivals('/bin')
  const str = receiver.firstArrivals('/str')
  const bat = receiver.firstArrivals('/bat')
  t.strictSame(str, bin, 'structured mode carries the same events as binary mode')
  t.strictSame(bat, bin, 'batch mode carries the same events as binary mode')
  t.equal(receiver.arrivals.length, 3 * n, 'each event arrives once per bridge')

  t.test('mapping', async t => {
    t.same(bin.map(e => e.id), records.map(r => `test-gw-${r.seq}`), 'id is gateway id and sequence number, in log order')
    t.same(bin.map(e => e.extensions.sequence), records.map(r => String(r.seq).padStart(16, '0')), 'sequence extension: fixed width, sorts in order')
    t.ok(bin.every(e => e.extensions.clientid === 'th-client'), 'client id travels as an extension')
    t.same(bin.map(e => e.subject), MESSAGES.map(([topic]) => topic), 'subject is the MQTT topic')
    t.same(bin.map(e => e.time), records.map(r => new Date(r.time).toISOString()), 'time is the receive time')
    t.ok(bin.every(e => e.specversion === '1.0'))
    const [json, bytes, umlaut, emoji, scalar, other, notJson, text] = bin as [CloudEvent, CloudEvent, CloudEvent, CloudEvent, CloudEvent, CloudEvent, CloudEvent, CloudEvent]
    t.match(json, { type: 'com.example.telemetry', source: '/sites/kitchen/th-01', extensions: { deviceid: 'th-01', kind: 'telemetry' } }, 'topic pattern names become extensions and fill the templates')
    t.same(json.data, { temp: 21.5, ok: true, tags: ['a', 'ü'] })
    t.equal(json.datacontenttype, 'application/json')
    t.equal(bytes.datacontenttype, 'application/octet-stream')
    t.ok(Buffer.isBuffer(bytes.data) && bytes.data.equals(BYTES), 'binary payload arrives byte for byte')
    t.match(umlaut, { source: '/sites/kitchen/th%C3%BC-2', extensions: { deviceid: 'thü-2' }, data: { note: 'grüß 😀' } }, 'source template percent-encodes a non-ASCII device id')
    t.match(emoji, { type: 'com.example.alert', source: '/sites/kitchen/%F0%9F%98%80', extensions: { deviceid: '😀', kind: 'alert' } })
    t.equal(emoji.data, undefined, 'empty payload: no data')
    t.equal(emoji.datacontenttype, undefined, 'empty payload: no datacontenttype')
    t.equal(scalar.data, 42, 'a JSON scalar is JSON data')
    t.match(other, { type: 'flowgate.mqtt.publish', source: '/flowgate/test-gw', subject: 'other/topic' }, 'a topic outside the pattern gets the default type and source')
    t.notOk('deviceid' in other.extensions, '... and no pattern extensions')
    t.equal(notJson.datacontenttype, 'application/octet-stream', 'a payload that is not JSON goes as bytes')
    t.same(notJson.data, Buffer.from('not json {'))
    t.equal(text.data, 'text', 'a JSON string is JSON data')
  })

  t.test('binary mode on the wire', async t => {
    const reqs = receiver.requestsOn('/bin')
    t.equal(reqs.length, n, 'one request per event')
    for (const r of reqs) {
      t.notOk('ce-datacontenttype' in r.headers, `${r.headers['ce-id']}: no ce-datacontenttype header [CE-HTTP 3.1.1]`)
      const bad = Object.entries(r.headers).filter(([k, v]) => k.startsWith('ce-') && !HEADER_SAFE.test(String(v)))
      t.same(bad, [], `${r.headers['ce-id']}: every ce- header is percent-encoded printable ASCII`)
    }
    const byId = new Map(reqs.map(r => [String(r.headers['ce-id']), r]))
    const req = (i: number): ReceivedRequest => byId.get((bin[i] as CloudEvent).id) as ReceivedRequest
    t.equal(req(2).headers['ce-subject'], 'devices/th%C3%BC-2/telemetry', 'ü in the subject is percent-encoded')
    t.equal(req(2).headers['ce-deviceid'], 'th%C3%BC-2')
    t.equal(req(2).headers['ce-source'], '/sites/kitchen/th%25C3%25BC-2', 'the % of an encoded source is itself encoded')
    t.equal(req(3).headers['ce-subject'], 'devices/%F0%9F%98%80/alert', 'an emoji is percent-encoded as its four UTF-8 bytes')
    t.equal(req(3).headers['ce-subject'], percentEncode('devices/😀/alert'))
    t.equal(req(0).headers['content-type'], 'application/json', 'datacontenttype is the Content-Type')
    t.equal(req(0).body.toString(), MESSAGES[0]?.[1], 'JSON data is the body')
    t.equal(req(1).headers['content-type'], 'application/octet-stream')
    t.ok(req(1).body.equals(BYTES), 'bytes are the body as they are')
    t.notOk('content-type' in req(3).headers, 'no data, no Content-Type')
    t.equal(req(3).body.length, 0, 'no data, empty body')
    t.equal(req(8).body.toString(), RAW_JSON, 'a device\'s JSON is the body as it was sent (not re-serialised)')
  })

  t.test('structured and batch mode on the wire', async t => {
    for (const r of receiver.requestsOn('/str')) t.equal(r.headers['content-type'], 'application/cloudevents+json; charset=UTF-8')
    const batches = receiver.requestsOn('/bat')
    for (const r of batches) t.equal(r.headers['content-type'], 'application/cloudevents-batch+json; charset=UTF-8')
    t.ok(batches.every(r => r.events.length >= 1 && r.events.length <= 3), `batches hold 1-3 events (maxEvents 3): ${batches.map(r => r.events.length).join(',')}`)
    t.ok(batches.length >= 3, `${n} events need at least three batches`)
    const json = new Map<string, Record<string, unknown>>()
    for (const r of receiver.requestsOn('/str')) { const o = JSON.parse(r.body.toString()) as Record<string, unknown>; json.set(String(o.id), o) }
    for (const r of batches) for (const o of JSON.parse(r.body.toString()) as Array<Record<string, unknown>>) t.same(o, json.get(String(o.id)), `${String(o.id)}: batch element is the structured body`)
    const obj = (i: number): Record<string, unknown> => json.get((bin[i] as CloudEvent).id) ?? {}
    t.same(obj(0).data, { temp: 21.5, ok: true, tags: ['a', 'ü'] })
    t.notOk('data_base64' in obj(0), 'JSON payload: data, not data_base64')
    t.equal(obj(1).data_base64, BYTES.toString('base64'), 'bytes: data_base64')
    t.notOk('data' in obj(1), 'bytes: no data member')
    t.equal(obj(1).datacontenttype, 'application/octet-stream')
    t.notOk('data' in obj(3) || 'data_base64' in obj(3) || 'datacontenttype' in obj(3), 'empty payload: no data, no datacontenttype')
    t.equal(obj(2).subject, 'devices/thü-2/telemetry', 'JSON carries the subject unencoded')
    t.equal(obj(4).data, 42)
    const raw = (bin[8] as CloudEvent).id
    const member = `"data":${RAW_JSON}}`
    t.ok(receiver.requestsOn('/str').some(r => r.body.toString().includes(`"id":"${raw}"`) && r.body.toString().endsWith(member)), 'structured: a device\'s JSON is carried as it was sent')
    t.ok(batches.some(r => r.body.toString().includes(member)), 'batch: a device\'s JSON is carried as it was sent')
  })

  t.test('the cloudevents SDK reads the same events', async t => {
    for (const path of ['/bin', '/str', '/bat']) {
      const binary = path === '/bin'
      const sdk: SdkEvent[] = receiver.requestsOn(path).flatMap(r => r.sdk ?? [])
      const ours = receiver.requestsOn(path).flatMap(r => r.events)
      t.equal(sdk.length, ours.length, `${path}: the SDK finds every event`)
      // SDK quirk: it does not percent-decode binary-mode headers, so decode its values here.
      const dec = (v: unknown): unknown => binary && typeof v === 'string' ? decodeURIComponent(v) : v
      ours.forEach((e, i) => {
        const s = sdk[i] as unknown as Record<string, unknown>
        const same = ['id', 'source', 'type', 'subject', 'datacontenttype'].every(k => dec(s[k]) === (e as unknown as Record<string, unknown>)[k]) &&
          ['sequence', 'clientid', 'deviceid', 'kind'].every(k => dec(s[k]) === e.extensions[k]) &&
          Date.parse(String(s.time)) === Date.parse(e.time ?? '')
        t.ok(same, `${path} ${e.id}: SDK attributes match`)
        const d = s.data
        if (Buffer.isBuffer(e.data)) t.ok(ArrayBuffer.isView(d) && Buffer.from(Array.from(d as Uint8Array)).equals(e.data), `${path} ${e.id}: SDK data bytes`)
        else if (e.data !== null && typeof e.data === 'object') t.same(d, e.data, `${path} ${e.id}: SDK data`)
      })
    }
  })
})

/** The fields a filter test cares about, from the topic. */
function facts (topic: string): { deviceid?: string, kind?: string, subject: string } {
  const m = /^devices\/([^/]+)\/([^/]+)$/.exec(topic)
  return m === null ? { subject: topic } : { deviceid: m[1] as string, kind: m[2] as string, subject: topic }
}

const FILTERED: Array<{ name: string, filters: object[], expect: (f: ReturnType<typeof facts>) => boolean }> = [
  { name: 'sql', filters: [{ sql: "deviceid LIKE 'th-%' AND kind = 'telemetry'" }], expect: f => f.deviceid?.startsWith('th-') === true && f.kind === 'telemetry' },
  { name: 'exact', filters: [{ exact: { kind: 'telemetry', deviceid: 'hu-1' } }], expect: f => f.kind === 'telemetry' && f.deviceid === 'hu-1' },
  { name: 'prefix', filters: [{ prefix: { subject: 'devices/th-' } }], expect: f => f.subject.startsWith('devices/th-') },
  { name: 'any', filters: [{ any: [{ exact: { deviceid: 'th-1' } }, { suffix: { subject: '/alert' } }] }], expect: f => f.deviceid === 'th-1' || f.subject.endsWith('/alert') },
  { name: 'not', filters: [{ not: { exact: { kind: 'status' } } }], expect: f => f.kind !== 'status' },
  { name: 'anded', filters: [{ prefix: { deviceid: 'th' } }, { not: { sql: "kind IN ('status', 'alert')" } }], expect: f => f.deviceid?.startsWith('th') === true && f.kind !== 'status' && f.kind !== 'alert' }
]

t.test('filters deliver exactly the matching events; filtered-out records advance the cursor', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(dir, bridgesYaml(FILTERED.map(f => ({
    name: f.name,
    topics: ['devices/#', 'misc/#'],
    filters: f.filters,
    event: EVENT,
    sink: { url: receiver.url('/' + f.name), mode: 'batch' },
    batch: { maxEvents: 7, lingerMs: 2 },
    retry: RETRY
  })))))
  const client = await connect(t, brokerUrl(gw), { clientId: 'filter-client' })
  const topics: string[] = []
  for (let round = 0; round < 3; round++) {
    for (const dev of ['th-1', 'th-22', 'hu-1', 'thx', 'th-']) for (const kind of ['telemetry', 'status', 'alert']) topics.push(`devices/${dev}/${kind}`)
    topics.push('misc/thing', 'devices/th-1/telemetry/extra')
  }
  // trailing records that no bridge takes (outside every topic filter, or filtered out)
  topics.push('elsewhere/a', 'elsewhere/b', 'devices/zz/status')
  await publishAll(client, topics.map(topic => [topic, JSON.stringify({ topic })]))
  const last = gw.log.lastSeq
  t.equal(last, topics.length)
  await Promise.all(FILTERED.map(async f => await untilCursor(gw, f.name, last)))

  for (const f of FILTERED) {
    const want = topics.map((topic, i) => ({ topic, seq: i + 1 })).filter(x => (x.topic.startsWith('devices/') || x.topic.startsWith('misc/')) && f.expect(facts(x.topic)))
    const got = receiver.firstArrivals('/' + f.name)
    t.same(got.map(seqOf), want.map(x => x.seq), `${f.name}: exactly the matching events, in order`)
    t.equal(receiver.arrivalsOn('/' + f.name).length, got.length, `${f.name}: no event twice`)
    const status = gw.bridges.get(f.name)?.status()
    t.equal(status?.cursor, last, `${f.name}: the cursor passed the trailing filtered-out records`)
    t.equal(status?.filtered, topics.length - want.length, `${f.name}: status counts every filtered-out record`)
    t.equal(status?.delivered, want.length, `${f.name}: status counts the delivered events`)
  }
  t.ok(FILTERED.every(f => receiver.firstArrivals('/' + f.name).length > 0), 'every bridge delivered something')
})

t.test('a bridge added later starts at the end, or at earliest, a time or a sequence number', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t)
  let offset = -3_600_000 // the first five records are an hour old
  const gw = await startGateway(t, testConfig(dir), { now: () => Date.now() + offset })
  const client = await connect(t, brokerUrl(gw), { clientId: 'late' })
  const publishN = async (from: number, count: number): Promise<void> => {
    for (let i = from; i < from + count; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })
  }
  await publishN(1, 5)
  offset = 0
  await publishN(6, 5)
  const records: LogRecord[] = await gw.log.read(1, 100)
  const cut = new Date(Date.now() - 1_800_000).toISOString() // half an hour ago: between record 5 and 6

  const starts: Array<[string, string | number, number]> = [['from-end', 'end', 11], ['from-earliest', 'earliest', 1], ['from-time', cut, 6], ['from-seq', 8, 8], ['from-seq-text', '3', 3]]
  const loaded = testConfig(dir, bridgesYaml([
    { name: 'default', sink: { url: receiver.url('/default'), mode: 'batch' }, retry: RETRY },
    ...starts.map(([name, start]) => ({ name, start, sink: { url: receiver.url('/' + name), mode: 'batch' }, retry: RETRY }))
  ]))
  for (const b of loaded.config.bridges) await gw.bridges.add(b)
  await publishN(11, 2)
  await Promise.all(loaded.config.bridges.map(async b => await untilCursor(gw, b.name, 12)))

  const payloads = (path: string): number[] => receiver.firstArrivals(path).map(e => (e.data as { i: number }).i)
  t.same(payloads('/default'), [11, 12], 'by default a new bridge delivers only new events')
  for (const [name, start, first] of starts) {
    t.same(payloads('/' + name), Array.from({ length: 13 - first }, (_, i) => first + i), `start ${JSON.stringify(start)}: from record ${first}`)
  }
  t.ok((records[4]?.time ?? 0) < Date.parse(cut) && (records[5]?.time ?? 0) >= Date.parse(cut), 'the time start falls between records 5 and 6')

  // Once a bridge has a cursor, its start setting no longer applies.
  await client.endAsync()
  await gw.close()
  const again = await startGateway(t, testConfig(dir, bridgesYaml([{ name: 'from-earliest', start: 'earliest', sink: { url: receiver.url('/from-earliest'), mode: 'batch' }, retry: RETRY }])))
  const c2 = await connect(t, brokerUrl(again), { clientId: 'late-2' })
  await c2.publishAsync('devices/th-1/telemetry', JSON.stringify({ i: 13 }), { qos: 1 })
  await untilCursor(again, 'from-earliest', 13)
  t.same(payloads('/from-earliest'), Array.from({ length: 13 }, (_, i) => i + 1), 'after a restart the stored cursor wins over start: earliest')
  t.equal(receiver.arrivalsOn('/from-earliest').length, 13, 'nothing was delivered twice')
})

t.test('bridges that wait for new records many times leave no process warnings (no listener leak)', async t => {
  t.same(warnings, [])
})
