/**
 * sink.maxInFlight: several requests outstanding against an upstream that delays and fails
 * them at random. Every event arrives; the cursor is stored only over the contiguous prefix
 * of acknowledged events, checked at every cursor write and again after a kill -9.
 */
import t from 'tap'
import mqtt, { type MqttClient } from 'mqtt'
import { setTimeout as delay } from 'node:timers/promises'
import { CursorStore } from '../../storage/index.js'
import { LogCapture } from '../helpers/security.js'
import { startChild, writeConfig, type ChildGateway } from '../helpers/child.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, prng, seqOf, untilCursor, type Action, type ReceivedRequest } from '../helpers/receiver-control.js'

const IN_FLIGHT = 8

/**
 * A distant, unreliable upstream: each request waits 0-40 ms, then is answered 2xx (most),
 * 500, 503, a connection reset, or never (past the sink's timeout). Records which events it
 * acknowledged (answered 2xx) and how many requests it held at once.
 */
class FlakyUpstream {
  readonly acked = new Set<number>()
  /** Events the upstream rejected alone with 400 (the bridge dead-letters them). */
  readonly rejected = new Set<number>()
  open = 0
  maxOpen = 0
  private readonly random: () => number

  constructor (seed: number, private readonly poison: (seq: number, data: unknown) => boolean = () => false) {
    this.random = prng(seed)
  }

  /** True when every event up to `seq` was acknowledged or rejected alone. */
  coveredThrough (seq: number): boolean {
    for (let s = 1; s <= seq; s++) if (!this.acked.has(s) && !this.rejected.has(s)) return false
    return true
  }

  policy = async (req: Omit<ReceivedRequest, 'action' | 'took' | 'answeredAt'>): Promise<Action> => {
    this.open++
    this.maxOpen = Math.max(this.maxOpen, this.open)
    try {
      await delay(Math.floor(this.random() * 40)) // the upstream's time to answer, not a synchronisation
      const poisoned = req.events.filter(e => this.poison(seqOf(e), e.data))
      if (poisoned.length > 0) {
        if (req.events.length === 1) this.rejected.add(seqOf(req.events[0] as (typeof req.events)[number]))
        return { kind: 'respond', status: 400, body: 'bad reading' }
      }
      const r = this.random()
      if (r < 0.08) return { kind: 'respond', status: 500 }
      if (r < 0.14) return { kind: 'respond', status: 503, headers: { 'retry-after': '0' } }
      if (r < 0.17) return { kind: 'reset' }
      if (r < 0.19) return { kind: 'hang' }
      for (const e of req.events) this.acked.add(seqOf(e))
      return { kind: 'respond', status: 202 }
    } finally {
      this.open--
    }
  }
}

/** Every cursor write of every bridge, checked against the upstream when it is made. */
class WatchedCursors extends CursorStore {
  writes = 0
  readonly passed: string[] = []
  check: (bridge: string, seq: number) => boolean = () => true

  override async set (bridge: string, seq: number): Promise<void> {
    this.writes++
    if (!this.check(bridge, seq)) this.passed.push(`${bridge}@${seq}`)
    await super.set(bridge, seq)
  }
}

async function publish (clients: MqttClient[], topic: (c: number) => string, from: number, count: number): Promise<void> {
  let next = 0
  await Promise.all(clients.flatMap((client, c) => Array.from({ length: 10 }, async () => {
    while (next < count) {
      const i = from + next++
      await client.publishAsync(topic(c), JSON.stringify({ i }), { qos: 1 })
    }
  })))
}

t.test('maxInFlight 8 against a flaky, slow upstream: every event arrives, the cursor never passes an unacknowledged one', async t => {
  const dir = await tempDir(t)
  const BINARY = 600
  const BATCH = 3000
  const binary = new FlakyUpstream(0x17)
  // in batch mode every 150th reading is refused: its batch is split until it is found and dead-lettered
  const batch = new FlakyUpstream(0x18, (_seq, data) => ((data as { i: number }).i % 150) === 149)
  const receiver = await ControlledReceiver.start(t, { policy: async req => await (req.path === '/binary' ? binary : batch).policy(req) })
  let cursors: WatchedCursors | undefined
  const gw = await startGateway(t, testConfig(dir, `bridges: ${JSON.stringify([
    { name: 'far-binary', topics: ['sensors/#'], sink: { url: receiver.url('/binary'), mode: 'binary', maxInFlight: IN_FLIGHT, timeoutMs: 300 }, retry: { initialDelay: '10ms', maxDelay: '100ms' } },
    { name: 'far-batch', topics: ['devices/#'], sink: { url: receiver.url('/batch'), mode: 'batch', maxInFlight: IN_FLIGHT, timeoutMs: 300 }, batch: { maxEvents: 25 }, retry: { initialDelay: '10ms', maxDelay: '100ms' } }
  ])}\n`), {
    bridgeStores: store => {
      cursors = new WatchedCursors(store)
      return { cursors }
    }
  })
  // sequence numbers: the binary bridge's events first, then the batch bridge's
  const watched = cursors as WatchedCursors
  watched.check = (bridge, seq) => bridge === 'far-binary' ? binary.coveredThrough(Math.min(seq, BINARY)) : seq <= BINARY || batch.coveredThrough(seq)
  for (let s = 1; s <= BINARY; s++) batch.acked.add(s) // not the batch bridge's: it filters them out
  const clients: MqttClient[] = []
  for (let c = 0; c < 4; c++) clients.push(await connect(t, brokerUrl(gw), { clientId: `dev-${c}` }))
  await publish(clients, c => `sensors/s-${c}`, 0, BINARY)
  t.equal(gw.log.lastSeq, BINARY)
  await publish(clients, c => `devices/th-${c}/telemetry`, BINARY, BATCH)
  const last = gw.log.lastSeq
  await Promise.all([untilCursor(gw, 'far-binary', last), untilCursor(gw, 'far-batch', last)])

  t.same(receiver.invalid().map(r => r.invalid), [], 'every request is a valid CloudEvents message')
  for (const [path, upstream, from, to] of [['/binary', binary, 1, BINARY], ['/batch', batch, BINARY + 1, last]] as const) {
    const expected = Array.from({ length: to - from + 1 }, (_, k) => from + k).filter(s => !upstream.rejected.has(s))
    const first = receiver.firstArrivals(path).map(seqOf).filter(s => !upstream.rejected.has(s))
    t.same([...first].sort((a, b) => a - b), expected, `${path}: every event arrived (${expected.length})`)
    t.ok(upstream.maxOpen > 1 && upstream.maxOpen <= IN_FLIGHT, `${path}: requests overlapped, at most ${IN_FLIGHT} at once (seen ${upstream.maxOpen})`)
    const outOfOrder = first.filter((s, k) => k > 0 && s < (first[k - 1] as number)).length
    t.ok(outOfOrder > 0, `${path}: some events arrived after later ones (${outOfOrder}); their sequence attribute restores the order`)
    const seen = new Map<string, string>()
    let changed = 0
    for (const a of receiver.arrivalsOn(path)) {
      const text = JSON.stringify(a.event)
      if (seen.has(a.event.id) && seen.get(a.event.id) !== text) changed++
      seen.set(a.event.id, text)
    }
    t.equal(changed, 0, `${path}: a repeated id always carries the same event`)
  }
  t.ok(watched.writes > 10, `the cursors were stored ${watched.writes} times`)
  t.same(watched.passed, [], 'no cursor write ever passed an event the upstream had not acknowledged')
  const letters = (await gw.bridges.deadLetters.list('far-batch')).map(l => l.seq)
  t.same(letters, [...batch.rejected].sort((a, b) => a - b), `the refused readings (${letters.length}) are dead letters, the rest delivered`)
  t.equal(letters.length, BATCH / 150, 'one in 150 readings was refused')
  const status = gw.bridges.get('far-binary')?.status()
  t.ok((status?.retries ?? 0) > 0, `the binary bridge retried (${status?.retries ?? 0} failed requests)`)
  t.equal(status?.delivered, BINARY, 'delivered counts each event once')
})

t.test('an upstream that is down holds a bridge with 8 requests in flight once: one request retries, the rest wait for it', async t => {
  const dir = await tempDir(t)
  const DOWN_REQUESTS = 40
  let down = 0
  let open = 0
  /** Arrivals, once the first 503 was answered, that found another request open. */
  let overlapping = 0
  let maxOpenAfterUp = 0
  const receiver = await ControlledReceiver.start(t, {
    policy: async (): Promise<Action> => {
      open++
      try {
        if (down < DOWN_REQUESTS) {
          if (down > 0 && open > 1) overlapping++
          await delay(20) // the upstream's time to answer, not a synchronisation
          down++
          return { kind: 'respond', status: 503 }
        }
        maxOpenAfterUp = Math.max(maxOpenAfterUp, open)
        await delay(20)
        return { kind: 'respond', status: 204 }
      } finally {
        open--
      }
    }
  })
  const capture = new LogCapture('info')
  const gw = await startGateway(t, testConfig(dir, `bridges:
  - name: far
    topics: ["far/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: binary, maxInFlight: ${IN_FLIGHT} }
    retry: { initialDelay: 10ms, maxDelay: 40ms }
`), { logger: capture.logger })
  const client = await connect(t, brokerUrl(gw), { clientId: 'far-0' })
  await publish([client], () => 'far/dev-0', 0, 300)
  await capture.waitFor(e => e.event === 'bridge-retrying')
  t.equal(gw.bridges.get('far')?.status().reason, 'server', 'the bridge is held (retrying, server)')
  await untilCursor(gw, 'far', 300)
  t.equal(receiver.distinctIds().size, 300, 'every event arrived once the upstream was back')
  t.ok(overlapping < IN_FLIGHT, `while it was down, requests went one at a time once the first failed (${overlapping} arrivals overlapped, of those sent before the first answer)`)
  t.equal(capture.events('bridge-retrying').length, 1, 'one log line when the bridge is held')
  t.equal(capture.events('bridge-recovered').length, 1, 'one when it delivers again')
  t.ok(maxOpenAfterUp > 1, `then requests overlapped again (${maxOpenAfterUp} at once)`)
  t.equal(gw.bridges.get('far')?.status().retries, DOWN_REQUESTS, 'each failed request counts as one retry')
})

t.test('kill -9 with 8 requests in flight: the stored cursor covers only acknowledged events; after a restart nothing is missing', async t => {
  const dir = await tempDir(t)
  const TOTAL = 2400
  const upstream = new FlakyUpstream(0x19)
  let gw: ChildGateway | undefined
  let requests = 0
  let killedAt: number | undefined
  let openGate: () => void = () => {}
  const gate = new Promise<void>(resolve => { openGate = resolve })
  const receiver = await ControlledReceiver.start(t, {
    policy: async req => {
      // requests wait until every publish is acknowledged, so a backlog builds up before the kill
      await gate
      if (++requests === 120 && gw !== undefined) {
        killedAt = requests
        gw.proc.kill('SIGKILL') // with requests outstanding: their answers are never heard
      }
      return await upstream.policy(req)
    }
  })
  const configFile = await writeConfig(dir, `${dir}/data`, `bridges:
  - name: far
    topics: ["far/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: binary, maxInFlight: ${IN_FLIGHT}, timeoutMs: 300 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`)
  gw = await startChild(t, configFile)
  const clients: MqttClient[] = []
  for (let c = 0; c < 3; c++) clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { clientId: `far-${c}`, reconnectPeriod: 0 }))
  await publish(clients, c => `far/dev-${c}`, 0, TOTAL)
  await Promise.all(clients.map(async c => await c.endAsync(true)))
  openGate()
  t.equal((await gw.exited).signal, 'SIGKILL', `the gateway was killed at request ${killedAt ?? '-'}`)
  const ackedAtKill = new Set(upstream.acked)

  gw = await startChild(t, configFile)
  const up = await gw.waitForLog(e => e.event === 'bridge-up', true)
  const stored = up.cursor as number
  t.ok(stored > 0 && stored < TOTAL, `the gateway restarted from its stored cursor, sequence ${stored}`)
  const unacked = Array.from({ length: stored }, (_, k) => k + 1).filter(s => !ackedAtKill.has(s))
  t.same(unacked, [], 'every event up to the stored cursor had been acknowledged before the kill')
  const firstUnacked = Array.from({ length: TOTAL }, (_, k) => k + 1).find(s => !ackedAtKill.has(s)) ?? TOTAL + 1
  t.ok(stored < firstUnacked, `the stored cursor (${stored}) is before the first unacknowledged event (${firstUnacked})`)

  await receiver.untilDistinct(TOTAL)
  gw.proc.kill('SIGTERM')
  t.equal((await gw.exited).code, 0, 'clean stop after the restart')
  const all = receiver.firstArrivals().map(e => (e.data as { i: number }).i).sort((a, b) => a - b)
  t.same(all, Array.from({ length: TOTAL }, (_, k) => k), 'every acknowledged publish arrived')
  const resent = receiver.requests.filter(r => r.index >= (killedAt ?? 0) && r.events.some(e => seqOf(e) <= stored && ackedAtKill.has(seqOf(e))))
  t.equal(resent.length, 0, 'nothing up to the stored cursor was sent again')
})

t.test('64 requests in flight: the gateway prints no listener-leak warning', async t => {
  const dir = await tempDir(t)
  const warnings: string[] = []
  const onWarning = (w: Error): void => { warnings.push(`${w.name}: ${w.message}`) }
  process.on('warning', onWarning)
  t.teardown(() => { process.off('warning', onWarning) })
  let open = 0
  let maxOpen = 0
  const receiver = await ControlledReceiver.start(t, {
    policy: async (): Promise<Action> => {
      maxOpen = Math.max(maxOpen, ++open)
      await delay(30) // a distant upstream's round trip, not a synchronisation
      open--
      return { kind: 'respond', status: 202 }
    }
  })
  const gw = await startGateway(t, testConfig(dir, `bridges:
  - name: far
    topics: ["far/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: binary, maxInFlight: 64 }
`))
  const clients: MqttClient[] = []
  for (let c = 0; c < 4; c++) clients.push(await connect(t, brokerUrl(gw), { clientId: `far-${c}` }))
  await publish(clients, c => `far/dev-${c}`, 0, 1000)
  await untilCursor(gw, 'far', 1000)
  t.ok(maxOpen > 10, `requests overlapped (${maxOpen} at once)`)
  t.same(warnings, [], 'no process warning')
})
