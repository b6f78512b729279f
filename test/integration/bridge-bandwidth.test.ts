/**
 * sink.maxBytesPerSecond: a backlog drained under a 16 KiB/s cap, uncompressed and gzip. The
 * receiver meters request bytes as they arrive (request line, headers, body as sent) and
 * sees at most 10% above the cap over 20 s; batches grow to use the allowance; status and
 * /metrics count the bytes before and after compression.
 *
 * The bound is a timing bound the feature promises, so the test asserts it; a loaded machine
 * can only make the bridge send less, never more.
 */
import t from 'tap'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import type { MqttClient } from 'mqtt'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, type ReceivedRequest } from '../helpers/receiver-control.js'

const CAP = 16 * 1024
const WINDOW_MS = 20_000

function reading (i: number): string {
  return JSON.stringify({ deviceId: `th-${String(i % 40).padStart(4, '0')}`, ts: 1_767_225_600_000 + i * 1000, temperature: 20 + (i % 97) / 10, humidity: 40 + (i % 31) / 2, pressure: 1013 + (i % 11) / 10, battery: 3.6 + (i % 7) / 100 })
}

/** From several clients, each within the broker's per-client publish rate. */
async function publish (clients: MqttClient[], count: number): Promise<void> {
  let next = 0
  await Promise.all(clients.flatMap(client => Array.from({ length: 8 }, async () => {
    while (next < count) {
      const i = next++
      await client.publishAsync(`devices/th-${i % 40}/telemetry`, reading(i), { qos: 1 })
    }
  })))
}

const wire = (r: ReceivedRequest): number => r.headBytes + r.wireBytes

/** The most bytes that arrived in any WINDOW_MS starting at an arrival, per second. */
function busiestWindow (reqs: readonly ReceivedRequest[]): number {
  let worst = 0
  for (const start of reqs) {
    let bytes = 0
    for (const r of reqs) if (r.arrivedAt >= start.arrivedAt && r.arrivedAt < start.arrivedAt + WINDOW_MS) bytes += wire(r)
    worst = Math.max(worst, bytes / (WINDOW_MS / 1000))
  }
  return worst
}

t.test('a 16 KiB/s cap: at most 10% above it over 20 s, in large requests, bytes counted before and after compression', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(dir, `bridges: ${JSON.stringify([
    { name: 'capped', topics: ['devices/#'], start: 'earliest', event: { topicPattern: 'devices/{deviceid}/{kind}' }, sink: { url: receiver.url('/plain'), mode: 'batch', maxBytesPerSecond: '16KiB' } },
    { name: 'capped-gzip', topics: ['devices/#'], start: 'earliest', event: { topicPattern: 'devices/{deviceid}/{kind}' }, sink: { url: receiver.url('/gzip'), mode: 'batch', compression: 'gzip', maxBytesPerSecond: '16KiB' } }
  ])}\n`))
  const clients = await Promise.all([0, 1, 2, 3].map(async c => await connect(t, brokerUrl(gw), { clientId: `dev-${c}` })))
  const COUNT = 16_000
  await publish(clients, COUNT)
  const published = performance.now()

  // both bridges send for longer than the meter's window (the gzip one may drain its backlog first)
  const span = (path: string): number => {
    const reqs = receiver.requestsOn(path)
    return reqs.length < 2 ? 0 : (reqs[reqs.length - 1] as ReceivedRequest).arrivedAt - (reqs[0] as ReceivedRequest).arrivedAt
  }
  const drained = (name: string): boolean => (gw.bridges.get(name)?.status().cursor ?? 0) >= COUNT
  await eventually('21 s of requests on both paths', () => span('/plain') > WINDOW_MS + 1000 && (span('/gzip') > WINDOW_MS + 1000 || drained('capped-gzip')), {
    timeoutMs: 60_000,
    everyMs: 250,
    seen: () => ({ plain: span('/plain'), gzip: span('/gzip') })
  })
  await gw.bridges.pause('capped')
  await gw.bridges.pause('capped-gzip')

  t.same(receiver.invalid().map(r => r.invalid), [], 'every request is valid')
  for (const [path, name] of [['/plain', 'capped'], ['/gzip', 'capped-gzip']] as const) {
    const reqs = receiver.requestsOn(path)
    const total = reqs.reduce((n, r) => n + wire(r), 0)
    if (span(path) > WINDOW_MS) {
      const worst = busiestWindow(reqs)
      t.ok(worst <= CAP * 1.1, `${path}: the busiest 20 s carried ${Math.round(worst)} B/s, ${(worst / CAP).toFixed(3)}x the cap (at most 1.10x)`)
      t.ok(worst >= CAP * 0.7, `${path}: and used most of the allowance`)
    }
    // while devices publish, the bucket has room and small batches go at once; from then on the
    // backlog goes in requests of about a bucket each (or full batches of maxEvents)
    const draining = reqs.filter(r => r.arrivedAt > published).slice(0, drained(name) ? -1 : undefined)
    const small = draining.filter(r => wire(r) < CAP / 3 && r.events.length < 500).map(wire)
    t.ok(draining.length > 5, `${path}: ${draining.length} requests drained the backlog`)
    t.same(small, [], `${path}: each carried a third of the bucket or a full batch (${Math.round(draining.reduce((n, r) => n + wire(r), 0) / draining.length)} bytes on average)`)
    const status = gw.bridges.get(name)?.status()
    const sent = status?.bytesSent ?? 0
    t.ok(sent >= total && sent - total <= 2 * CAP, `${path}: status counts ${sent} bytes sent; the receiver metered ${total} (the difference: requests cut short by the pause)`)
    const events = reqs.reduce((n, r) => n + r.events.length, 0)
    t.comment(`${path}: ${events} events in ${reqs.length} requests, ${(events / reqs.length).toFixed(0)} per request`)
  }
  const gz = gw.bridges.get('capped-gzip')?.status()
  const plain = gw.bridges.get('capped')?.status()
  t.ok((gz?.bytesBeforeCompression ?? 0) > 4 * (gz?.bytesSent ?? 0), `gzip: ${gz?.bytesBeforeCompression ?? 0} bytes before compression, ${gz?.bytesSent ?? 0} sent`)
  t.equal(plain?.bytesBeforeCompression, plain?.bytesSent, 'uncompressed: the same bytes before and after')
  t.ok((gz?.delivered ?? 0) > 5 * (plain?.delivered ?? 0), `under the same cap, gzip delivered ${gz?.delivered ?? 0} events, uncompressed ${plain?.delivered ?? 0}`)

  const res = await fetch(`${gw.admin?.url ?? ''}/metrics`)
  const families = parsePrometheusTextFormat(await res.text())
  const metric = (family: string, bridge: string): number => Number(families.find(f => f.name === family)?.metrics.find(m => m.labels?.bridge === bridge)?.value)
  t.equal(metric('flowgate_bridge_sent_bytes_total', 'capped-gzip'), gz?.bytesSent, '/metrics: bytes sent, after compression')
  t.equal(metric('flowgate_bridge_uncompressed_bytes_total', 'capped-gzip'), gz?.bytesBeforeCompression, '/metrics: before compression')
  t.equal(metric('flowgate_bridge_sent_bytes_total', 'capped'), plain?.bytesSent)
})

t.test('bytes counted as sent are the bytes on the wire', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(dir, `bridges: ${JSON.stringify([
    { name: 'bin', topics: ['devices/#'], sink: { url: receiver.url('/bin?tenant=a'), mode: 'binary', headers: { 'x-site': 'kitchen' }, token: 'secret-token' } },
    { name: 'gz', topics: ['devices/#'], sink: { url: receiver.url('/gz'), mode: 'batch', compression: 'gzip' }, batch: { lingerMs: 20 } }
  ])}\n`))
  const client = await connect(t, brokerUrl(gw))
  await publish([client], 300)
  await receiver.untilDistinct(300, '/bin?tenant=a')
  await receiver.untilDistinct(300, '/gz')
  for (const [path, name] of [['/bin?tenant=a', 'bin'], ['/gz', 'gz']] as const) {
    const total = receiver.requestsOn(path).reduce((n, r) => n + wire(r), 0)
    await eventually(`${name}: its requests counted`, () => gw.bridges.get(name)?.status().bytesSent === total, { timeoutMs: 10_000, seen: () => [gw.bridges.get(name)?.status().bytesSent, total] })
    t.pass(`${name}: ${total} bytes metered by the receiver, counted exactly by the bridge`)
  }
})

t.test('above the cap, live traffic goes in growing batches, not in many small requests', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(dir, `bridges: ${JSON.stringify([
    { name: 'narrow', topics: ['devices/#'], sink: { url: receiver.url('/narrow'), mode: 'batch', maxBytesPerSecond: '4KiB', maxInFlight: 4 } }
  ])}\n`))
  const client = await connect(t, brokerUrl(gw))
  // 100 readings a second (about 40 KB/s as events), ten times the cap, for 5 seconds
  const started = performance.now()
  for (let i = 0; i < 500; i++) {
    await client.publishAsync(`devices/th-${i % 40}/telemetry`, reading(i), { qos: 1 })
    const due = started + (i + 1) * 10 - performance.now()
    if (due > 0) await new Promise(resolve => setTimeout(resolve, due)) // pacing the load, not a synchronisation
  }
  const seconds = (performance.now() - started) / 1000
  const reqs = receiver.requestsOn('/narrow').filter(r => r.arrivedAt <= started + seconds * 1000)
  const events = reqs.reduce((n, r) => n + r.events.length, 0)
  t.comment(`${reqs.length} requests in ${seconds.toFixed(1)} s, ${(events / reqs.length).toFixed(1)} events per request (a reading is about 420 bytes as an event)`)
  // the bucket starts full (4 KiB): small batches go at once until it runs dry; from then on
  // batches grow to what the cap allows, and stay that size
  const sizes = reqs.map(wire)
  const binding = sizes.slice(sizes.findIndex(n => n >= 4096 / 2))
  t.ok(binding.length >= 3, `${binding.length} requests once the cap was binding (before: ${sizes.length - binding.length} small ones while the bucket had room)`)
  t.ok(binding.every(n => n >= 4096 / 2), `each carried at least half the bucket (${binding.join(', ')} bytes), about one a second`)
  t.ok(binding.length <= seconds + 1, `${binding.length} of them in ${seconds.toFixed(1)} s`)
})
