/**
 * A misbehaving upstream: a seeded random mix of 500, 503 with Retry-After, 429,
 * 408, answers that never come (past the sink timeout), connection resets and
 * 2xx. Every event still arrives, in order; repeats carry the same id and occur
 * only where an answer was lost.
 */
import t from 'tap'
import type { MqttClient } from 'mqtt'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, prng, seqOf, untilCursor, type Action, type ReceivedRequest } from '../helpers/receiver-control.js'

const SEED = 0x5eed
const BATCH_EVENTS = 2_000
const BINARY_EVENTS = 80
const DEVICES = 4

type Kind = '2xx' | '500' | '503' | '429' | '408' | 'hang' | 'reset'

/** The chaos table: cumulative probabilities. Mostly failures, so that retries pile up. */
const TABLE: Array<[number, Kind]> = [[0.40, '2xx'], [0.52, '500'], [0.64, '503'], [0.74, '429'], [0.78, '408'], [0.86, 'hang'], [1, 'reset']]

function chaos (seed: number): { decide: () => { kind: Kind, action: Action } } {
  const random = prng(seed)
  return {
    decide () {
      const r = random()
      const kind = (TABLE.find(([p]) => r < p) as [number, Kind])[1]
      const extra = random()
      switch (kind) {
        case '2xx': return { kind, action: { kind: 'respond', status: [200, 202, 204][Math.floor(extra * 3)] as number } }
        case '500': return { kind, action: { kind: 'respond', status: 500, body: 'internal error' } }
        // Retry-After is honoured up to retry.maxDelay (200ms here); mostly 0, sometimes 1 second
        case '503': return { kind, action: { kind: 'respond', status: 503, headers: { 'retry-after': extra < 0.8 ? '0' : '1' } } }
        case '429': return { kind, action: { kind: 'respond', status: 429, ...(extra < 0.5 ? { headers: { 'retry-after': '0' } } : {}) } }
        case '408': return { kind, action: { kind: 'respond', status: 408 } }
        case 'hang': return { kind, action: { kind: 'hang' } }
        case 'reset': return { kind, action: { kind: 'reset' } }
      }
    }
  }
}

async function publish (clients: MqttClient[], topic: (c: number) => string, count: number): Promise<void> {
  let next = 0
  await Promise.all(clients.flatMap((client, c) => Array.from({ length: 10 }, async () => {
    while (next < count) {
      const i = next++
      await client.publishAsync(topic(c), JSON.stringify({ i }), { qos: 1 })
    }
  })))
}

t.test('a chaotic upstream: every event arrives, in order, repeats only where an answer was lost', async t => {
  const dir = await tempDir(t)
  const kinds = new Map<string, Kind[]>()
  const perPath = new Map<string, ReturnType<typeof chaos>>([['/batch', chaos(SEED)], ['/binary', chaos(SEED + 1)]])
  const receiver = await ControlledReceiver.start(t, {
    policy: req => {
      const { kind, action } = (perPath.get(req.path) as ReturnType<typeof chaos>).decide()
      kinds.set(req.path, kinds.get(req.path) ?? [])
      kinds.get(req.path)?.push(kind)
      return action
    }
  })
  const sink = (path: string, mode: string): object => ({ url: receiver.url(path), mode, timeoutMs: 200, connectTimeoutMs: 1000 })
  const gw = await startGateway(t, testConfig(dir, `bridges: ${JSON.stringify([
    { name: 'chaos-batch', topics: ['devices/#'], sink: sink('/batch', 'batch'), batch: { maxEvents: 40, lingerMs: 5 }, retry: { initialDelay: '10ms', maxDelay: '200ms' } },
    { name: 'chaos-binary', topics: ['sensors/#'], sink: sink('/binary', 'binary'), retry: { initialDelay: '5ms', maxDelay: '50ms' } }
  ])}\n`))
  const clients: MqttClient[] = []
  for (let c = 0; c < DEVICES; c++) clients.push(await connect(t, brokerUrl(gw), { clientId: `dev-${c}` }))

  await Promise.all([
    publish(clients, c => `devices/th-${c}/telemetry`, BATCH_EVENTS),
    publish(clients, c => `sensors/s-${c}`, BINARY_EVENTS)
  ])
  const last = gw.log.lastSeq
  t.equal(last, BATCH_EVENTS + BINARY_EVENTS, 'every publish is acknowledged')
  const records = await gw.log.read(1, last)
  const expected = {
    '/batch': records.filter(r => r.topic.startsWith('devices/')).map(r => r.seq),
    '/binary': records.filter(r => r.topic.startsWith('sensors/')).map(r => r.seq)
  }
  await Promise.all([untilCursor(gw, 'chaos-batch', last), untilCursor(gw, 'chaos-binary', last)])

  t.same(receiver.invalid().map(r => r.invalid), [], 'every request is a valid CloudEvents message')
  for (const [path, name] of [['/batch', 'chaos-batch'], ['/binary', 'chaos-binary']] as const) {
    const reqs = receiver.requestsOn(path)
    const seen = kinds.get(path) ?? []
    const tally = Object.fromEntries(['2xx', '500', '503', '429', '408', 'hang', 'reset'].map(k => [k, seen.filter(s => s === k).length]))
    t.comment(`${path}: ${reqs.length} requests: ${JSON.stringify(tally)}`)
    const first = receiver.firstArrivals(path)
    t.same(first.map(seqOf), expected[path], `${path}: every event arrived, first arrivals in log order`)

    // repeats: the same id, the same event, and only for events whose earlier answer was lost
    const lost = new Map<string, number>() // id -> requests that took it without a 2xx answer
    for (const r of reqs) if (r.took && r.action.kind !== 'respond') for (const e of r.events) lost.set(e.id, (lost.get(e.id) ?? 0) + 1)
    const firstById = new Map(first.map(e => [e.id, e]))
    const count = new Map<string, number>()
    let different = 0
    for (const a of receiver.arrivalsOn(path)) {
      count.set(a.event.id, (count.get(a.event.id) ?? 0) + 1)
      if (JSON.stringify(a.event) !== JSON.stringify(firstById.get(a.event.id))) different++
    }
    t.equal(different, 0, `${path}: a repeated id always carries the same event`)
    const unexplained = [...count].filter(([id, n]) => n - 1 > (lost.get(id) ?? 0))
    t.same(unexplained, [], `${path}: an event repeats only as often as its answer was lost (${[...count.values()].reduce((a, n) => a + n - 1, 0)} repeats)`)

    // the chaos actually happened, and the bridge saw each failure as one
    const failures = reqs.filter((r: ReceivedRequest) => !(r.action.kind === 'respond' && r.action.status < 300)).length
    t.ok(Object.values(tally).every(n => n > 0), `${path}: every kind of misbehaviour occurred`)
    const status = gw.bridges.get(name)?.status()
    t.equal(status?.retries, failures, `${path}: the bridge retried once per failed request (${failures})`)
    t.equal(status?.deadLettered, 0, `${path}: nothing was dead-lettered (no permanent rejection)`)
    t.ok(reqs.length <= failures + first.length, `${path}: bounded: ${reqs.length} requests for ${first.length} events`)
  }
})
