/**
 * Bridges survive store errors: a cursor or dead-letter write that fails (a full or
 * failing disk) is retried with backoff; the bridge carries on, every event arrives,
 * and it is never left stopped. `resume` always starts a bridge that is not running.
 */
import t from 'tap'
import type { CloudEvent } from '../../bridges/cloudevents/index.js'
import type { Gateway } from '../../gateway/index.js'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig, within } from '../helpers/gateway.js'
import { failingStores } from '../helpers/failing-stores.js'
import { ControlledReceiver, OK, seqOf } from '../helpers/receiver-control.js'
import { LogCapture } from '../helpers/security.js'

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

function bridgeYaml (url: string, extra = ''): string {
  return `bridges:
  - name: up
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(url)}, mode: binary }
    retry: { initialDelay: 10ms, maxDelay: 200ms }
${extra}`
}

t.test('one failed cursor write during delivery: the bridge carries on and every event arrives', async t => {
  const dir = await tempDir(t)
  const stores = failingStores()
  const states: string[] = []
  const started: { gw?: Gateway } = {}
  const receiver = await ControlledReceiver.start(t, {
    policy: () => {
      states.push(started.gw?.bridges.get('up')?.status().state ?? '')
      return OK
    }
  })
  const capture = new LogCapture('info')
  const gw = started.gw = await startGateway(t, testConfig(dir, bridgeYaml(receiver.url())), { logger: capture.logger, bridgeStores: stores.bridgeStores })
  const client = await connect(t, brokerUrl(gw))
  stores.cursors().writes.failNext = 1
  for (let i = 1; i <= 10; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })

  await within(10_000, 'all ten events delivered', receiver.untilDistinct(10))
  t.equal(stores.cursors().writes.injected, 1, 'a cursor write failed')
  t.same(receiver.firstArrivals().map(seqOf), range(1, 10), 'every event arrived, in order')
  await eventually('the cursor stored', async () => (await gw.bridges.cursors.get('up')) === 10, { timeoutMs: 10_000 })
  t.notOk(states.includes('stopped'), 'the bridge was never stopped')
  t.equal(gw.bridges.get('up')?.status().state, 'running')
  t.equal(capture.events('bridge-cursor-write-failed').length, 1, 'the failure is logged once')
  t.equal(capture.events('bridge-cursor-write-recovered').length, 1, 'and the recovery once')
  t.equal(capture.events('bridge-down').length, 0)
})

t.test('cursor writes that keep failing: delivery waits once the stored cursor trails too far, and resumes when the store does', async t => {
  const dir = await tempDir(t)
  const stores = failingStores()
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(dir, bridgeYaml(receiver.url())), { bridgeStores: stores.bridgeStores })
  const client = await connect(t, brokerUrl(gw))
  stores.cursors().writes.failing = true
  const TOTAL = 400
  await Promise.all(range(1, TOTAL).map(async i => await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })))

  await eventually('the bridge shows the store failure', () => gw.bridges.get('up')?.status().reason === 'store', { timeoutMs: 10_000 })
  await within(10_000, 'delivery up to the bound', receiver.until(() => receiver.arrivals.length >= 200))
  const status = gw.bridges.get('up')?.status()
  t.match(status, { state: 'retrying', reason: 'store', lastError: /ENOSPC/ }, 'status says why')
  t.ok(receiver.arrivals.length <= 201, `no more than 200 events beyond the stored cursor are delivered (${receiver.arrivals.length})`)

  stores.cursors().writes.failing = false
  await within(15_000, 'every event delivered once the store takes writes again', receiver.untilDistinct(TOTAL))
  t.same(receiver.firstArrivals().map(seqOf), range(1, TOTAL), 'every event, in order')
  await eventually('the cursor stored', async () => (await gw.bridges.cursors.get('up')) === TOTAL, { timeoutMs: 10_000 })
  t.equal(gw.bridges.get('up')?.status().state, 'running')
})

t.test('a failed dead-letter write is retried: the rejected event is dead-lettered once, the rest arrive in order', async t => {
  const dir = await tempDir(t)
  const stores = failingStores()
  const isPoison = (e: CloudEvent): boolean => (e.data as { poison?: boolean }).poison === true
  const receiver = await ControlledReceiver.start(t, { policy: req => req.events.some(isPoison) ? { kind: 'respond', status: 400 } : OK })
  const capture = new LogCapture('info')
  const gw = await startGateway(t, testConfig(dir, bridgeYaml(receiver.url())), { logger: capture.logger, bridgeStores: stores.bridgeStores })
  const client = await connect(t, brokerUrl(gw))
  stores.deadLetters().writes.failNext = 3
  for (let i = 1; i <= 10; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify(i === 4 ? { i, poison: true } : { i }), { qos: 1 })

  await within(10_000, 'the nine good events delivered', receiver.untilDistinct(9))
  await eventually('the cursor past every event', () => (gw.bridges.get('up')?.status().cursor ?? 0) >= 10, { timeoutMs: 10_000 })
  t.equal(stores.deadLetters().writes.injected, 3, 'three dead-letter writes failed')
  t.same(receiver.firstArrivals().map(seqOf), [1, 2, 3, 5, 6, 7, 8, 9, 10], 'the others arrived, in order')
  t.same((await gw.bridges.deadLetters.list('up')).map(l => l.seq), [4], 'the rejected event is a dead letter, once')
  t.match(capture.events('bridge-retrying'), [{ reason: 'store', error: /dead-letter write failed: .*ENOSPC/ }], 'held with reason store, logged once')
  t.equal(capture.events('bridge-recovered').length, 1)
  t.equal(gw.bridges.get('up')?.status().state, 'running')
})

t.test('a bridge whose cursor cannot be read at start retries by itself; resume starts it at once', async t => {
  const dir = await tempDir(t)
  const stores = failingStores()
  const receiver = await ControlledReceiver.start(t)
  const original = stores.bridgeStores
  const gw = await startGateway(t, testConfig(dir, bridgeYaml(receiver.url())), {
    bridgeStores: store => {
      const s = original(store)
      stores.cursors().reads.failNext = 2 // the first reads, at start
      return s
    }
  })
  const [report] = await gw.bridges.report()
  t.match(report, { state: 'retrying', reason: 'store', lastError: /start failed: .*No space left/ }, 'status says the bridge cannot start yet, and why')
  t.ok(report?.nextAttemptAt !== undefined, 'and when it tries again')
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/th-1/telemetry', '{"i":1}', { qos: 1 })
  await within(15_000, 'the bridge started by itself and delivered', receiver.untilDistinct(1))
  t.equal(gw.bridges.get('up')?.status().state, 'running')

  // the store refuses again across a pause; resume tries at once, and again when asked
  await gw.bridges.pause('up')
  stores.cursors().reads.failing = true
  t.match(await gw.bridges.resume('up'), { state: 'retrying', reason: 'store' })
  stores.cursors().reads.failing = false
  t.match(await gw.bridges.resume('up'), { state: 'running' }, 'resume starts a bridge that is not running')
  await client.publishAsync('devices/th-1/telemetry', '{"i":2}', { qos: 1 })
  await within(5000, 'delivery after resume', receiver.untilDistinct(2))
})

t.test('resume makes a held bridge try again at once instead of waiting out its backoff', async t => {
  const dir = await tempDir(t)
  let up = false
  const receiver = await ControlledReceiver.start(t, { policy: () => up ? OK : { kind: 'respond', status: 503 } })
  const gw = await startGateway(t, testConfig(dir, `bridges:
  - name: up
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url())}, mode: binary }
    retry: { initialDelay: 1m, maxDelay: 1m }
`))
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/th-1/telemetry', '{"i":1}', { qos: 1 })
  await eventually('the bridge held', () => gw.bridges.get('up')?.status().state === 'retrying', { timeoutMs: 5000 })
  const held = gw.bridges.get('up')?.status()
  t.match(held, { state: 'retrying', reason: 'server' })
  t.ok(Date.parse(held?.nextAttemptAt ?? '') - Date.now() > 50_000, 'the next attempt is a minute away')
  up = true
  const resumed = Date.now()
  await gw.bridges.resume('up')
  await within(5000, 'delivery right after resume', receiver.untilDistinct(1))
  t.ok(Date.now() - resumed < 5000, `delivered ${Date.now() - resumed} ms after resume`)
})

t.test('status and metrics answer while the log cannot be read, with the age of the oldest event waiting', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(dir, bridgeYaml(receiver.url())))
  await gw.bridges.pause('up')
  const client = await connect(t, brokerUrl(gw))
  for (let i = 1; i <= 3; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })
  const status = async (): Promise<{ code: number, bridge?: { lag: number, oldestUndeliveredAgeSeconds: number } }> => {
    const res = await fetch(`${gw.admin?.url ?? ''}/api/status`)
    const body = await res.json() as { bridges?: Array<{ name: string, lag: number, oldestUndeliveredAgeSeconds: number }> }
    const bridge = body.bridges?.find(b => b.name === 'up')
    return { code: res.status, ...(bridge !== undefined ? { bridge } : {}) }
  }
  const before = await status()
  t.match(before, { code: 200, bridge: { lag: 3 } }, 'three events wait while the bridge is paused')

  // a card that returns errors: every read of the log fails
  const read = gw.log.read.bind(gw.log)
  let reads = 0
  gw.log.read = async () => {
    reads++
    throw Object.assign(new Error('IO error: Input/output error (injected)'), { code: 'EIO' })
  }
  t.teardown(() => { gw.log.read = read })
  const during = await status()
  t.equal(during.code, 200, '/api/status answers')
  t.equal(during.bridge?.lag, 3)
  t.ok((during.bridge?.oldestUndeliveredAgeSeconds ?? -1) >= (before.bridge?.oldestUndeliveredAgeSeconds ?? Infinity), `with the age of the oldest event waiting (${during.bridge?.oldestUndeliveredAgeSeconds ?? '?'} s)`)
  const metrics = await fetch(`${gw.admin?.url ?? ''}/metrics`)
  t.equal(metrics.status, 200, '/metrics answers')
  t.match(await metrics.text(), /flowgate_bridge_oldest_undelivered_age_seconds\{bridge="up"\} [0-9.e-]+/, 'with the age')

  // the cursor moves on (a replay): the event found before still answers
  await gw.bridges.replay('up', 2)
  t.equal((await status()).code, 200, 'and after the cursor moved, where nothing could be read at it')
  t.ok(reads > 0, `the log was asked and refused (${reads} reads)`)
})
