/**
 * The upstream goes away mid-delivery and stays away while 10,000 QoS 1 messages
 * are published; when it comes back every event arrives, in order, without gaps;
 * only the batch that was in flight when it went down is seen twice, with the same ids.
 */
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import type { MqttClient } from 'mqtt'
import { pino } from 'pino'
import type { CloudEvent } from '../../bridges/cloudevents/index.js'
import { renderStatus } from '../../gateway/commands/status.js'
import type { Gateway } from '../../gateway/index.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, untilCursor, type ReceivedRequest } from '../helpers/receiver-control.js'

const WARMUP = 1_000
const DURING = 10_000
const DEVICES = 5 // (the gateway's per-client publish rate limit is not what this test is about)
const WINDOW = 20

/**
 * Publishes `count` QoS 1 messages numbered from `from`, spread over the clients with WINDOW
 * in flight each; resolves when all are acknowledged.
 */
async function publish (clients: MqttClient[], from: number, count: number): Promise<void> {
  let next = from
  const end = from + count
  const lane = async (client: MqttClient, c: number): Promise<void> => {
    while (next < end) {
      const i = next++
      await client.publishAsync(`devices/th-${c}/telemetry`, JSON.stringify({ i }), { qos: 1 })
    }
  }
  await Promise.all(clients.flatMap((client, c) => Array.from({ length: WINDOW }, async () => await lane(client, c))))
}

/** One batch bridge to `receiver`, retrying quickly, with a timeout longer than any stall a test makes. */
function stalledUpstreamConfig (dir: string, receiver: ControlledReceiver): ReturnType<typeof testConfig> {
  return testConfig(dir, `bridges:
  - name: up
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch, timeoutMs: 60000 }
    batch: { maxEvents: 100 }
    retry: { initialDelay: 10ms, maxDelay: 200ms }
`)
}

t.test('an upstream outage loses nothing: all events arrive in order after it, only the in-flight batch repeats', async t => {
  const dir = await tempDir(t)
  let crashed: ReceivedRequest | undefined
  let onCrash: () => void = () => {}
  const down = new Promise<void>(resolve => { onCrash = resolve })
  const receiver: ControlledReceiver = await ControlledReceiver.start(t, {
    // The second request brings the upstream down: it has read the batch, never answers, stops listening.
    policy: req => {
      if (req.index !== 1) return OK
      crashed = req as ReceivedRequest
      void receiver.stop().then(onCrash)
      return { kind: 'hang' }
    }
  })
  const gw = await startGateway(t, testConfig(dir, `bridges:
  - name: up
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch }
    retry: { initialDelay: 10ms, maxDelay: 200ms }
`))
  const clients: MqttClient[] = []
  for (let c = 0; c < DEVICES; c++) clients.push(await connect(t, brokerUrl(gw), { clientId: `th-${c}` }))

  await publish(clients, 0, WARMUP)
  await down
  t.ok(crashed !== undefined && crashed.events.length > 0, `a batch of ${crashed?.events.length ?? 0} events was in flight when the upstream went down`)
  const beforeOutage = receiver.arrivals.length

  await publish(clients, WARMUP, DURING)
  const total = WARMUP + DURING
  t.equal(gw.log.lastSeq, total, `all ${total} publishes are acknowledged and logged while the upstream is down`)
  const status = gw.bridges.get('up')?.status()
  t.equal(status?.state, 'retrying', 'the bridge is retrying')
  t.match(status?.lastError, /ECONNREFUSED/, 'because the connection is refused')
  t.ok((status?.cursor ?? Infinity) < total, 'and its cursor waits in the log')

  receiver.policy = () => OK
  await receiver.listen()
  await receiver.untilDistinct(total)
  await untilCursor(gw, 'up', total)

  t.same(receiver.invalid().map(r => r.invalid), [], 'every request is a valid CloudEvents batch')
  const first = receiver.firstArrivals()
  const seqs = first.map(seqOf)
  t.equal(first.length, total, 'every event arrived')
  t.ok(seqs.every((s, i) => s === i + 1), 'in log order, without gaps (first arrivals are sequence 1..N)')
  const payloads = first.map(e => (e.data as { i: number }).i)
  t.same([...payloads].sort((a, b) => a - b), Array.from({ length: total }, (_, i) => i), 'each published message arrived once as an event')
  const perDevice = new Map<string, number[]>()
  for (const e of first) {
    const id = String(e.extensions.clientid)
    perDevice.set(id, perDevice.get(id) ?? [])
    perDevice.get(id)?.push((e.data as { i: number }).i)
  }
  t.ok([...perDevice.values()].every(list => list.every((v, k) => k === 0 || v > (list[k - 1] as number))), 'each device\'s messages arrived in the order it sent them')
  t.ok(receiver.arrivals.length > beforeOutage, 'delivery resumed after the outage')

  // Repeats: only the batch in flight at the crash, with the same ids and content.
  const inFlight = new Map((crashed?.events ?? []).map(e => [e.id, e]))
  const counts = new Map<string, number>()
  for (const a of receiver.arrivals) counts.set(a.event.id, (counts.get(a.event.id) ?? 0) + 1)
  const repeated = [...counts].filter(([, n]) => n > 1).map(([id]) => id)
  t.same(repeated.filter(id => !inFlight.has(id)), [], 'no event outside the in-flight batch arrived twice')
  t.same(repeated.sort(), [...inFlight.keys()].sort(), 'the in-flight batch was resent (its upstream never answered)')
  t.ok([...counts.values()].every(n => n <= 2), 'nothing arrived more than twice')
  const resent = receiver.arrivals.filter(a => a.request > (crashed?.index ?? 0) && inFlight.has(a.event.id)).map(a => a.event)
  t.strictSame(resent, [...inFlight.values()] as CloudEvent[], 'the resent events are identical to the first sending, same ids')
  const after = gw.bridges.get('up')?.status()
  t.equal(after?.state, 'running', 'the bridge is delivering normally again')
  t.ok((after?.retries ?? 0) > 0, `it retried (${after?.retries ?? 0} attempts failed)`)
  t.equal(after?.deadLettered, 0, 'an outage dead-letters nothing')
})

t.test('records removed by retention during an outage are counted as missed, and delivery goes on', async t => {
  const dir = await tempDir(t)
  const DAY = 86_400_000
  let offset = -8 * DAY // the backlog is published "eight days ago"; retention keeps seven
  let arrived: () => void = () => {}
  const firstArrived = new Promise<void>(resolve => { arrived = resolve })
  let openGate: () => void = () => {}
  const gate = new Promise<void>(resolve => { openGate = resolve })
  const receiver = await ControlledReceiver.start(t, {
    policy: async req => {
      if (req.index === 0) { arrived(); await gate } // the upstream stalls on the first batch
      return OK
    }
  })
  const gw = await startGateway(t, stalledUpstreamConfig(dir, receiver), { now: () => Date.now() + offset })
  const clients: MqttClient[] = []
  for (let c = 0; c < DEVICES; c++) clients.push(await connect(t, brokerUrl(gw), { clientId: `th-${c}` }))
  const BACKLOG = 2_500
  await publish(clients, 0, BACKLOG)
  await firstArrived

  offset = 0
  t.equal(await gw.log.sweep(), BACKLOG, 'the retention sweep removes the whole backlog while the upstream stalls')
  openGate()
  await clients[0]?.publishAsync('devices/th-0/telemetry', JSON.stringify({ i: BACKLOG }), { qos: 1 })
  await untilCursor(gw, 'up', BACKLOG + 1)

  const seqs = receiver.firstArrivals().map(seqOf)
  const status = gw.bridges.get('up')?.status()
  t.equal(seqs[seqs.length - 1], BACKLOG + 1, 'the event published after the sweep is delivered')
  const before = seqs.slice(0, -1)
  t.ok(before.every((s, i) => s === i + 1), `the ${before.length} events the bridge had read before the sweep were delivered in order`)
  t.ok((status?.missed ?? 0) > 0, `records removed before the bridge read them are counted as missed (${status?.missed ?? 0})`)
  t.equal(before.length + (status?.missed ?? 0), BACKLOG, 'every record of the backlog is either delivered or counted as missed')
  t.equal(status?.state, 'running')
})

t.test('a site started offline on a wrong clock: the clock set forward when the uplink returns drops nothing, and the backlog is delivered', async t => {
  const dir = await tempDir(t)
  const DAY = 86_400_000
  // a Pi without a battery-backed clock, started at the time it last saved: 30 days behind
  let offset = -30 * DAY
  let openGate: () => void = () => {}
  const gate = new Promise<void>(resolve => { openGate = resolve })
  const receiver = await ControlledReceiver.start(t, {
    policy: async req => {
      if (req.index === 0) await gate // the uplink is down until the clock is set
      return OK
    }
  })
  const lines: Array<{ event?: string, stepMs?: number, msg?: string }> = []
  const logger = pino({ level: 'info' }, new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as { event?: string }); cb() } }))
  const gw = await startGateway(t, stalledUpstreamConfig(dir, receiver), { logger, now: () => Date.now() + offset, elapsed: () => performance.now() })
  const clients: MqttClient[] = []
  for (let c = 0; c < DEVICES; c++) clients.push(await connect(t, brokerUrl(gw), { clientId: `th-${c}` }))
  const BACKLOG = 2_500
  await publish(clients, 0, BACKLOG)

  offset = 0 // the uplink returns and the clock is set: the backlog looks 30 days old
  t.equal(await gw.log.sweep(), 0, 'the retention sweep (maxAge 7d) removes none of the backlog')
  const step = lines.find(l => l.event === 'clock-step')
  t.ok(step !== undefined && Math.abs((step.stepMs ?? 0) - 30 * DAY) < 60_000, `the step is logged: ${step?.msg ?? 'no line'}`)
  const age = (await gw.bridges.report()).find(b => b.name === 'up')?.oldestUndeliveredAgeSeconds ?? NaN
  t.ok(age < 600, `the oldest undelivered event is as old as it is, not 30 days: ${age} s`)
  openGate()
  await untilCursor(gw, 'up', BACKLOG)
  const seqs = [...new Set(receiver.firstArrivals().map(seqOf))]
  t.same(seqs, Array.from({ length: BACKLOG }, (_, i) => i + 1), 'every event of the backlog is delivered, in order')
  t.equal(gw.bridges.get('up')?.status().missed, 0, 'none missed')
  t.equal(gw.log.stats().drops.maxAge, 0, 'none dropped')
})

/**
 * A site started offline on a clock 30 days behind stores a backlog while the upstream is down and
 * stops; meanwhile the clock is set and the uplink returns. The next start (in the same boot, or
 * after a reboot when the first boot's clock was never set) finds the step, drops nothing and
 * delivers the backlog.
 */
async function statusOf (gw: Gateway): Promise<Parameters<typeof renderStatus>[0]> {
  return await (await fetch(`${gw.admin?.url ?? ''}/api/status`)).json() as Parameters<typeof renderStatus>[0]
}

async function clockSetWhileStopped (t: Test, { reboot, expected }: { reboot: boolean, expected: RegExp }): Promise<void> {
  const dir = await tempDir(t)
  const DAY = 86_400_000
  let offset = -30 * DAY // started offline, 30 days behind
  let online = false
  const receiver = await ControlledReceiver.start(t, { policy: () => online ? OK : { kind: 'respond', status: 503 } })
  let bootId = 'boot-1'
  const boot = (): { id: string, monotonicMs: number } => ({ id: bootId, monotonicMs: performance.now() })
  const deps = { now: () => Date.now() + offset, elapsed: () => performance.now(), boot, clockSynced: () => offset === 0 }
  const first = await startGateway(t, stalledUpstreamConfig(dir, receiver), deps)
  const clients: MqttClient[] = []
  for (let c = 0; c < DEVICES; c++) clients.push(await connect(t, brokerUrl(first), { clientId: `th-${c}` }))
  const BACKLOG = 500
  await publish(clients, 0, BACKLOG)
  await Promise.all(clients.map(async c => await c.endAsync(true)))
  const before = await statusOf(first)
  t.same(before.clock, { synced: false, oldestBehindMs: 0 }, 'status: the clock is not set')
  t.match(renderStatus(before), /clock: not set from a time server in this boot/, 'flowgate status says so')
  await first.close()

  // stopped; meanwhile the clock is set, and the uplink returns
  offset = 0
  online = true
  if (reboot) bootId = 'boot-2'
  const lines: Array<{ event?: string, stepMs?: number, msg?: string }> = []
  const logger = pino({ level: 'info' }, new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as { event?: string }); cb() } }))
  const second = await startGateway(t, stalledUpstreamConfig(dir, receiver), { ...deps, logger })
  const step = lines.find(l => l.event === 'clock-step')
  t.ok(step !== undefined && Math.abs((step.stepMs ?? 0) - 30 * DAY) < 60_000 && expected.test(step.msg ?? ''), `the step is logged at the start: ${step?.msg ?? 'no line'}`)
  const after = await statusOf(second)
  t.ok(after.clock?.synced === true && Math.abs((after.clock?.oldestBehindMs ?? 0) - 30 * DAY) < 60_000, `status: the clock is set, the backlog's times 30 days behind (${JSON.stringify(after.clock)})`)
  t.match(renderStatus(after), /clock: set since the oldest events arrived: their times are 30d behind/, 'flowgate status says so')
  t.equal(await second.log.sweep(), 0, 'the retention sweep (maxAge 7d) removes none of the backlog')
  await untilCursor(second, 'up', BACKLOG)
  const seqs = [...new Set(receiver.firstArrivals().map(seqOf))]
  t.same(seqs, Array.from({ length: BACKLOG }, (_, i) => i + 1), 'every event of the backlog is delivered, in order')
  t.equal(second.log.stats().drops.maxAge, 0, 'none dropped')
}

t.test('the clock set while the gateway was stopped: the next start finds the step, drops nothing and delivers the backlog', async t => {
  await clockSetWhileStopped(t, { reboot: false, expected: /while the gateway was stopped/ })
})

t.test('the clock set at a reboot, the first boot\'s never set: the next start ages the backlog from then, drops nothing and delivers it', async t => {
  await clockSetWhileStopped(t, { reboot: true, expected: /stamped by a system clock never set from a time server/ })
})
