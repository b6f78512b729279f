/**
 * sink.compression: request bodies go out gzip- or brotli-compressed with Content-Encoding;
 * the receiver decodes complete, valid events. An upstream that answers 415 to compressed
 * requests gets uncompressed ones from then on, logged once. `flowgate receive` accepts
 * compressed requests.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { gzipSync } from 'node:zlib'
import t from 'tap'
import type { MqttClient } from 'mqtt'
import { cliPath } from '../helpers/child.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig, within } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, untilCursor } from '../helpers/receiver-control.js'
import { LogCapture } from '../helpers/security.js'

/** Telemetry as devices send it: a device id, a time stamp and four readings. */
function reading (i: number): string {
  return JSON.stringify({ deviceId: `th-${String(i % 40).padStart(4, '0')}`, ts: 1_767_225_600_000 + i * 1000, temperature: 20 + (i % 97) / 10, humidity: 40 + (i % 31) / 2, pressure: 1013 + (i % 11) / 10, battery: 3.6 + (i % 7) / 100 })
}

async function publish (client: MqttClient, topic: (i: number) => string, count: number): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: 10 }, async () => {
    while (next < count) {
      const i = next++
      await client.publishAsync(topic(i), reading(i), { qos: 1 })
    }
  }))
}

t.test('gzip and br: the receiver sees Content-Encoding and decodes complete, valid events', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, { sdk: true })
  const gw = await startGateway(t, testConfig(dir, `bridges: ${JSON.stringify([
    { name: 'gz', topics: ['devices/#'], event: { topicPattern: 'devices/{deviceid}/{kind}' }, sink: { url: receiver.url('/gzip'), mode: 'batch', compression: 'gzip' }, batch: { maxEvents: 100, lingerMs: 20 } },
    { name: 'br', topics: ['devices/#'], event: { topicPattern: 'devices/{deviceid}/{kind}' }, sink: { url: receiver.url('/br'), mode: 'structured', compression: 'br', maxInFlight: 4 } }
  ])}\n`))
  const client = await connect(t, brokerUrl(gw))
  const COUNT = 600
  await publish(client, i => `devices/th-${i % 40}/telemetry`, COUNT)
  await Promise.all([untilCursor(gw, 'gz', COUNT), untilCursor(gw, 'br', COUNT)])

  t.same(receiver.invalid().map(r => r.invalid), [], 'every request decodes to valid CloudEvents')
  const records = await gw.log.read(1, COUNT)
  // a batch of 100 events compresses far better than one event alone
  for (const [path, coding, gain] of [['/gzip', 'gzip', 4], ['/br', 'br', 1.2]] as const) {
    const reqs = receiver.requestsOn(path)
    t.ok(reqs.length > 0 && reqs.every(r => r.headers['content-encoding'] === coding), `${path}: each of ${reqs.length} requests says Content-Encoding: ${coding}`)
    const wire = reqs.reduce((n, r) => n + r.wireBytes, 0)
    const plain = reqs.reduce((n, r) => n + r.body.length, 0)
    t.ok(wire * gain < plain, `${path}: ${wire} bytes on the wire for ${plain} bytes of events (${(plain / wire).toFixed(1)}x)`)
    t.same(reqs.filter(r => r.sdkError !== undefined).map(r => r.sdkError), [], `${path}: the CloudEvents SDK reads every decoded request too`)
    const events = receiver.firstArrivals(path).sort((a, b) => seqOf(a) - seqOf(b))
    t.same(events.map(seqOf), records.map(r => r.seq), `${path}: every event arrived`)
    t.same(events.map(e => e.data), records.map(r => JSON.parse(r.payload.toString()) as unknown), `${path}: with its data complete`)
    t.same(events.map(e => [e.id, e.subject, e.extensions.deviceid]), records.map(r => [`test-gw-${r.seq}`, r.topic, r.topic.split('/')[1]]), `${path}: and its attributes`)
  }
})

t.test('an upstream that answers 415 to compressed requests gets uncompressed ones from then on, logged once', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, {
    policy: req => req.headers['content-encoding'] === undefined ? OK : { kind: 'respond', status: 415, headers: { 'accept-encoding': 'identity' } }
  })
  const capture = new LogCapture('info')
  const yaml = (compression: string): string => `bridges:
  - name: plain-only
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch, compression: ${compression}, maxInFlight: 4 }
    batch: { maxEvents: 20, lingerMs: 5 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`
  const gw = await startGateway(t, testConfig(dir, yaml('gzip')), { logger: capture.logger })
  const client = await connect(t, brokerUrl(gw))
  await publish(client, i => `devices/th-${i % 40}/telemetry`, 400)
  await untilCursor(gw, 'plain-only', 400)
  t.equal(receiver.distinctIds().size, 400, 'every event arrived')
  const compressed = receiver.requests.filter(r => r.headers['content-encoding'] !== undefined)
  t.ok(compressed.length >= 1 && compressed.length <= 4, `only the requests out before the first 415 were compressed (${compressed.length} of ${receiver.requests.length})`)
  t.ok(receiver.requests.slice(compressed.length + 4).every(r => r.headers['content-encoding'] === undefined), 'everything after went uncompressed')
  t.equal(capture.events('bridge-compression-refused').length, 1, 'logged once')
  t.equal(gw.bridges.get('plain-only')?.status().deadLettered, 0, 'a 415 to a compressed request rejects no event')

  // a pause and resume starts a new run of the bridge: it still sends uncompressed, without saying so again
  await gw.bridges.pause('plain-only')
  await gw.bridges.resume('plain-only')
  const before = receiver.requests.length
  await publish(client, i => `devices/th-${i % 40}/telemetry`, 100)
  await untilCursor(gw, 'plain-only', 500)
  t.ok(receiver.requests.slice(before).every(r => r.headers['content-encoding'] === undefined), 'after a resume, requests are still uncompressed')
  t.equal(capture.events('bridge-compression-refused').length, 1, 'and nothing more is logged')
})

t.test('flowgate receive accepts compressed requests', async t => {
  const dir = await tempDir(t)
  const proc = spawn(process.execPath, [cliPath, 'receive', '--port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (proc.exitCode === null) proc.kill('SIGKILL') })
  const lines: Array<Record<string, unknown>> = []
  const waiters: Array<() => void> = []
  createInterface({ input: proc.stdout }).on('line', line => {
    lines.push(JSON.parse(line) as Record<string, unknown>)
    for (const w of waiters.splice(0)) w()
  })
  const untilLines = async (n: number): Promise<void> => {
    while (lines.length < n) await new Promise<void>(resolve => waiters.push(resolve))
  }
  const url = await within(20_000, 'flowgate receive listening', new Promise<string>(resolve => {
    createInterface({ input: proc.stderr }).on('line', line => {
      const m = /listening on (\S+)/.exec(line)
      if (m !== null) resolve(m[1] as string)
    })
  }))

  const gw = await startGateway(t, testConfig(dir, `bridges: ${JSON.stringify([
    { name: 'to-receive', topics: ['devices/#'], sink: { url, mode: 'batch', compression: 'br' }, batch: { maxEvents: 50 } }
  ])}\n`))
  const client = await connect(t, brokerUrl(gw))
  await publish(client, i => `devices/th-${i % 40}/telemetry`, 120)
  await within(60_000, '120 events printed', untilLines(120))
  t.same(lines.map(e => Number(e.sequence)).sort((a, b) => a - b), Array.from({ length: 120 }, (_, k) => k + 1), 'it printed every event of the br-compressed batches')
  t.same(lines.map(e => (e.data as { ts: number }).ts).sort((a, b) => a - b), Array.from({ length: 120 }, (_, k) => 1_767_225_600_000 + k * 1000), 'with its data')

  const event = { specversion: '1.0', id: 'gz-1', source: '/test', type: 'test.gzip', data: { ok: true } }
  const gz = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json', 'content-encoding': 'gzip' }, body: gzipSync(JSON.stringify(event)) })
  t.equal(gz.status, 204, 'a gzip-compressed structured event is accepted')
  await untilLines(121)
  t.match(lines[120], { id: 'gz-1', data: { ok: true } })
  const unknown = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json', 'content-encoding': 'compress' }, body: 'xx' })
  t.equal(unknown.status, 415, 'a coding it does not know is answered 415')
  t.equal(unknown.headers.get('accept-encoding'), 'gzip, br, deflate', 'naming the codings it accepts')
  const broken = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/cloudevents+json', 'content-encoding': 'gzip' }, body: 'not gzip' })
  t.equal(broken.status, 400, 'a body that is not what its Content-Encoding says is answered 400')
  proc.kill('SIGTERM')
})
