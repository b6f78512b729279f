/**
 * The README's "Upstream targets": each configuration, read from the README itself, against
 * a receiver that enforces that upstream's contract.
 *
 * - Knative Eventing broker ingress: POST /<namespace>/<broker>, one event per request in
 *   binary or structured mode (a batch is a 400), read by the CloudEvents SDK, 404 while the
 *   broker is not ready, 202 Accepted once it is.
 * - Azure Event Grid (CloudEvents schema): POST /api/events?api-version=2018-01-01, the key in
 *   aeg-sas-key (401 without it), a JSON array of at most 1 MB (413 when larger), 200.
 * - A plain HTTP receiver: any valid CloudEvents request, here with a bearer token and gzip.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import type { MqttClient } from 'mqtt'
import { parse, stringify } from 'yaml'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { repoRoot } from '../helpers/paths.js'
import { ControlledReceiver, seqOf, untilCursor, type Action, type ReceivedRequest } from '../helpers/receiver-control.js'

type Bridge = Record<string, unknown> & { name: string, sink: Record<string, unknown> & { url: string }, batch?: Record<string, unknown> }

/** The bridges of the README's "Upstream targets" section, by name. */
async function readmeTargets (): Promise<Map<string, Bridge>> {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')
  const start = readme.indexOf('\n## Upstream targets')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  const out = new Map<string, Bridge>()
  for (const m of section.matchAll(/```yaml\n([\s\S]*?)```/g)) {
    for (const b of (parse(m[1] as string) as { bridges: Bridge[] }).bridges) out.set(b.name, b)
  }
  return out
}

/** The README's bridge, sending to `receiver` instead (same path and query). */
function pointedAt (bridge: Bridge, receiver: ControlledReceiver): Bridge {
  const url = new URL(bridge.sink.url)
  return { ...bridge, sink: { ...bridge.sink, url: receiver.url(url.pathname + url.search) } }
}

const targets = await readmeTargets()
const target = (name: string): Bridge => {
  const b = targets.get(name)
  if (b === undefined) throw new Error(`README "Upstream targets" has no bridge ${name}`)
  return b
}

async function publish (clients: MqttClient[], count: number, payload: (i: number) => string): Promise<void> {
  let next = 0
  await Promise.all(clients.flatMap((client, c) => Array.from({ length: 8 }, async () => {
    while (next < count) {
      const i = next++
      await client.publishAsync(`devices/th-${c}-${i % 10}/telemetry`, payload(i), { qos: 1 })
    }
  })))
}

const reading = (i: number): string => JSON.stringify({ deviceId: `th-${i % 10}`, ts: 1_767_225_600_000 + i * 1000, temperature: 20 + (i % 97) / 10, humidity: 45, pressure: 1013.2, battery: 3.71 })

t.test('the README has the three targets', async t => {
  t.same([...targets.keys()].sort(), ['eventgrid', 'ingest', 'knative'])
})

t.test('Knative Eventing broker: binary mode, requests in flight, 404 held while the broker is not ready, 202', async t => {
  const dir = await tempDir(t)
  let ready = false
  let open = 0
  let maxOpen = 0
  const receiver = await ControlledReceiver.start(t, {
    sdk: true,
    policy: async (req): Promise<Action> => {
      if (req.method !== 'POST') return { kind: 'respond', status: 405 }
      const path = req.path.split('/').filter(p => p !== '')
      if (path.length !== 2) return { kind: 'respond', status: 400 }
      if (!ready) return { kind: 'respond', status: 404 }
      // the ingress reads one event with the CloudEvents SDK: a batch or anything it cannot read is a 400
      if (req.mode === 'batch' || req.sdk?.length !== 1 || req.headers['content-encoding'] !== undefined) return { kind: 'respond', status: 400 }
      open++
      maxOpen = Math.max(maxOpen, open)
      await delay(10) // the broker's time to answer, not a synchronisation
      open--
      return { kind: 'respond', status: 202 }
    }
  })
  const bridge = pointedAt(target('knative'), receiver)
  const gw = await startGateway(t, testConfig(dir, stringify({ bridges: [bridge] })))
  const clients = await Promise.all([0, 1].map(async c => await connect(t, brokerUrl(gw), { clientId: `dev-${c}` })))
  await publish(clients, 400, reading)
  await eventually('the bridge held while the broker is not ready', () => gw.bridges.get('knative')?.status().reason === 'not-found', { timeoutMs: 30_000, seen: () => gw.bridges.get('knative')?.status() })
  t.match(gw.bridges.get('knative')?.status(), { state: 'retrying', reason: 'not-found', deadLettered: 0 }, 'a 404 holds the bridge (retrying, not-found); nothing is dead-lettered')
  ready = true
  await untilCursor(gw, 'knative', 400)

  const answered = receiver.requests.filter(r => r.action.kind === 'respond')
  const statuses = new Set(answered.map(r => (r.action as { status: number }).status))
  t.same([...statuses].sort(), [202, 404], 'the broker answered 404 until ready, then 202; never 400')
  t.ok(receiver.requests.every(r => r.mode === 'binary'), `all ${receiver.requests.length} requests in binary mode, one event each`)
  t.same(receiver.requests.filter(r => r.sdkError !== undefined).map(r => r.sdkError), [], 'the CloudEvents SDK read every request')
  const events = receiver.firstArrivals()
  t.same(events.map(seqOf).sort((a, b) => a - b), Array.from({ length: 400 }, (_, k) => k + 1), 'every event arrived')
  t.ok(events.every(e => e.type === 'com.example.telemetry' && e.source === `/sites/kitchen/${String(e.extensions.deviceid)}`), 'typed and sourced as the config maps them')
  t.ok(maxOpen > 1 && maxOpen <= 32, `requests overlapped (${maxOpen} at once, at most maxInFlight 32)`)
  t.equal(gw.bridges.get('knative')?.status().deadLettered, 0)
})

t.test('Azure Event Grid: batches of at most 1 MB with the key header; 413 splits a larger one; a wrong key holds the bridge', async t => {
  const dir = await tempDir(t)
  const KEY = 'eg-key-0123456789abcdefghijklmnopqrstuvwxyz'
  process.env.EVENTGRID_KEY = KEY
  t.teardown(() => { delete process.env.EVENTGRID_KEY })
  const LIMIT = 1_000_000
  // requests wait until every reading is published, so that a backlog builds up and batches are full
  let openGate: () => void = () => {}
  const gate = new Promise<void>(resolve => { openGate = resolve })
  const eventGrid = async (req: Omit<ReceivedRequest, 'action' | 'took' | 'answeredAt'>): Promise<Action> => {
    await gate
    const url = new URL(req.path, 'http://x')
    if (req.method !== 'POST' || url.pathname !== '/api/events') return { kind: 'respond', status: 404 }
    if (url.searchParams.get('api-version') !== '2018-01-01') return { kind: 'respond', status: 400, body: 'api-version is required' }
    if (req.headers['aeg-sas-key'] !== KEY) return { kind: 'respond', status: 401, body: 'invalid key' }
    if (!(req.headers['content-type'] ?? '').startsWith('application/cloudevents-batch+json')) return { kind: 'respond', status: 400, body: 'expected a CloudEvents batch' }
    if (req.wireBytes > LIMIT || req.body.length > LIMIT) return { kind: 'respond', status: 413, body: 'the event array is larger than 1 MB' }
    return { kind: 'respond', status: 200 }
  }
  const fitting = await ControlledReceiver.start(t, { policy: eventGrid })
  const oversized = await ControlledReceiver.start(t, { policy: eventGrid })
  const readme = target('eventgrid')
  // as the README has it; with the default maxBytes (1 MiB, above the limit); with a wrong key
  const asIs = pointedAt(readme, fitting)
  const { maxBytes: _ignored, ...withoutMaxBytes } = readme.batch ?? {}
  const big = { ...pointedAt(readme, oversized), name: 'eventgrid-big', batch: withoutMaxBytes }
  const wrongKey = { ...pointedAt(readme, fitting), name: 'eventgrid-wrong-key', sink: { ...pointedAt(readme, fitting).sink, headers: { 'aeg-sas-key': 'not-the-key' } } }
  const gw = await startGateway(t, testConfig(dir, stringify({ bridges: [asIs, big, wrongKey] })))
  const clients = await Promise.all([0, 1, 2, 3].map(async c => await connect(t, brokerUrl(gw), { clientId: `dev-${c}` })))
  // a few KB per reading (a minute of samples), so that 500 events are well above 1 MB
  const samples = (i: number): string => JSON.stringify({ deviceId: `th-${i % 10}`, ts: 1_767_225_600_000 + i * 60_000, samples: Array.from({ length: 60 }, (_, k) => Math.round(2000 + 100 * Math.sin(i + k)) / 100) })
  const COUNT = 1200
  await publish(clients, COUNT, i => samples(i).padEnd(2400, ' '))
  openGate()
  await Promise.all([untilCursor(gw, 'eventgrid', COUNT), untilCursor(gw, 'eventgrid-big', COUNT)])

  const reqs = fitting.requests.filter(r => r.headers['aeg-sas-key'] === KEY)
  t.same(reqs.filter(r => (r.action as { status: number }).status !== 200).map(r => (r.action as { status: number }).status), [], `the README's config: all ${reqs.length} requests answered 200, none 413`)
  t.ok(reqs.every(r => r.wireBytes <= LIMIT), `each at most 1 MB (largest ${Math.max(...reqs.map(r => r.wireBytes))} bytes)`)
  t.ok(reqs.every(r => r.mode === 'batch'), 'each a CloudEvents batch')
  t.same(fitting.firstArrivals().map(seqOf).sort((a, b) => a - b), Array.from({ length: COUNT }, (_, k) => k + 1), 'every event arrived')
  t.equal(fitting.arrivals.length, COUNT, 'each once')

  const tooLarge = oversized.requests.filter(r => r.action.kind === 'respond' && r.action.status === 413).length
  t.ok(tooLarge > 0, `with batch.maxBytes at its default (1 MiB) Event Grid answered 413 ${tooLarge} times`)
  t.same(oversized.firstArrivals().map(seqOf).sort((a, b) => a - b), Array.from({ length: COUNT }, (_, k) => k + 1), 'and the batches were split until they fit: every event arrived')
  t.equal(gw.bridges.get('eventgrid-big')?.status().deadLettered, 0, 'nothing dead-lettered for it')

  t.match(gw.bridges.get('eventgrid-wrong-key')?.status(), { state: 'retrying', reason: 'unauthorized', deadLettered: 0, delivered: 0 }, 'a wrong key: 401 holds the bridge, nothing is dead-lettered')
})

t.test('a plain HTTP receiver: gzip batches with a bearer token, under a bandwidth cap', async t => {
  const dir = await tempDir(t)
  process.env.INGEST_TOKEN = 'ingest-token-abcdefghijklmnopqrstuvwxyz'
  t.teardown(() => { delete process.env.INGEST_TOKEN })
  const receiver = await ControlledReceiver.start(t, {
    sdk: true,
    policy: req => req.headers.authorization === `Bearer ${process.env.INGEST_TOKEN ?? ''}` ? { kind: 'respond', status: 204 } : { kind: 'respond', status: 401 }
  })
  const bridge = pointedAt(target('ingest'), receiver)
  const gw = await startGateway(t, testConfig(dir, stringify({ bridges: [bridge] })))
  const client = await connect(t, brokerUrl(gw))
  await publish([client], 500, reading)
  await untilCursor(gw, 'ingest', 500)
  t.ok(receiver.requests.every(r => r.action.kind === 'respond' && r.action.status === 204), 'the token was accepted on every request')
  t.ok(receiver.requests.every(r => r.headers['content-encoding'] === 'gzip' && r.mode === 'batch'), 'gzip-compressed batches')
  t.same(receiver.requests.filter(r => r.sdkError !== undefined).map(r => r.sdkError), [], 'the CloudEvents SDK read every request')
  t.equal(receiver.distinctIds().size, 500, 'every event arrived')
  const status = gw.bridges.get('ingest')?.status()
  t.ok((status?.bytesBeforeCompression ?? 0) > 3 * (status?.bytesSent ?? Infinity), `${status?.bytesSent ?? 0} bytes sent for ${status?.bytesBeforeCompression ?? 0} before compression`)
})
