/**
 * A gateway killed with SIGKILL in the middle of delivering resumes from its
 * stored cursor when it restarts: every acknowledged publish arrives upstream,
 * in order of first arrival; only the batch in flight at the kill is seen twice.
 */
import t from 'tap'
import mqtt, { type MqttClient } from 'mqtt'
import { startChild, writeConfig, type ChildGateway } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, type Action, type ReceivedRequest } from '../helpers/receiver-control.js'

const DEVICES = 3
const PER_DEVICE = 1_000
const KILL_AT_REQUEST = 4

/** QoS 1 publishes, 10 in flight per device; resolves with the acknowledged payload numbers. */
async function publish (port: number, from: number, perDevice: number): Promise<number[]> {
  const acked: number[] = []
  const clients: MqttClient[] = []
  for (let c = 0; c < DEVICES; c++) clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `dev-${c}`, reconnectPeriod: 0 }))
  await Promise.all(clients.map(async (client, c) => {
    let n = 0
    await Promise.all(Array.from({ length: 10 }, async () => {
      while (n < perDevice) {
        const i = from + c * perDevice + n++
        await client.publishAsync(`crash/dev-${c}`, JSON.stringify({ i }), { qos: 1 })
        acked.push(i)
      }
    }))
  }))
  await Promise.all(clients.map(async c => await c.endAsync()))
  return acked
}

t.test('SIGKILL during delivery: after a restart delivery resumes from the stored cursor, nothing is lost', async t => {
  const dir = await tempDir(t)
  let gw: ChildGateway | undefined
  let killed: ReceivedRequest | undefined
  let openGate: () => void = () => {}
  const gate = new Promise<void>(resolve => { openGate = resolve })
  const receiver: ControlledReceiver = await ControlledReceiver.start(t, {
    policy: async (req): Promise<Action> => {
      // the first request waits until every publish is acknowledged, so a backlog builds up
      if (req.index === 0) await gate
      if (req.index === KILL_AT_REQUEST) {
        killed = req as ReceivedRequest
        gw?.proc.kill('SIGKILL') // the upstream has this batch; the gateway never hears back
        return { kind: 'hang' }
      }
      return OK
    }
  })
  const configFile = await writeConfig(dir, `${dir}/data`, `bridges:
  - name: up
    topics: ["crash/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch, timeoutMs: 60000 }
    batch: { maxEvents: 100, lingerMs: 5 }
    retry: { initialDelay: 10ms, maxDelay: 200ms }
`)

  gw = await startChild(t, configFile)
  const acked = await publish(gw.port, 0, PER_DEVICE)
  openGate()
  t.equal(acked.length, DEVICES * PER_DEVICE, 'every publish was acknowledged before the kill')
  t.equal((await gw.exited).signal, 'SIGKILL', 'the gateway was killed while delivering')
  const atKill = receiver.distinctIds().size
  t.ok(killed !== undefined && killed.events.length > 0, `a batch of ${killed?.events.length ?? 0} events was in flight`)
  t.ok(atKill > 0 && atKill < acked.length, `the receiver had seen ${atKill} of ${acked.length} events`)

  gw = await startChild(t, configFile)
  const more = await publish(gw.port, acked.length, 100)
  const all = [...acked, ...more]
  await receiver.untilDistinct(all.length)
  gw.proc.kill('SIGTERM')
  t.equal((await gw.exited).code, 0, 'clean stop after the restart')

  t.same(receiver.invalid().map(r => r.invalid), [], 'every request is a valid CloudEvents batch')
  const first = receiver.firstArrivals()
  t.same([...first.map(e => (e.data as { i: number }).i)].sort((a, b) => a - b), [...all].sort((a, b) => a - b), 'every acknowledged publish arrived')
  // after an unclean stop the log continues after its reserved block of sequence numbers (never reusing one)
  const seqs = first.map(seqOf)
  t.same(seqs.slice(0, acked.length), acked.map((_, k) => k + 1), 'first arrivals from before the kill are in log order without gaps')
  t.ok(seqs.every((s, k) => k === 0 || s > (seqs[k - 1] as number)), 'first arrivals are in log order')
  t.ok((seqs[acked.length] ?? 0) > acked.length, `after the restart, sequence numbers continue past the reserved block (${seqs[acked.length] ?? '-'})`)
  t.notOk(gw.stderr.some(l => l.includes('"bridge-missed"')), 'numbers skipped after the unclean stop are not reported as records missed')

  // Repeats: exactly the events after the stored cursor, sent again with the same ids and content.
  // The cursor is written without holding up delivery, so it may trail the last acknowledged
  // batch by the write in flight: the repeats are a contiguous run of sequence numbers that ends
  // with the batch in flight at the kill.
  const inFlight = killed?.events ?? []
  const firstSent = new Map<string, string>()
  const seen = new Map<string, number>()
  let changed = 0
  for (const a of receiver.arrivals) {
    seen.set(a.event.id, (seen.get(a.event.id) ?? 0) + 1)
    const text = JSON.stringify(a.event)
    if (!firstSent.has(a.event.id)) firstSent.set(a.event.id, text)
    else if (firstSent.get(a.event.id) !== text) changed++
  }
  const repeated = first.filter(e => (seen.get(e.id) ?? 0) > 1).map(seqOf)
  const lastBeforeKill = Math.max(...inFlight.map(seqOf))
  t.ok(repeated.length > 0 && repeated.every((s, k) => k === 0 || s === (repeated[k - 1] as number) + 1), `the events sent again are one contiguous run (${repeated.length} events, from sequence ${repeated[0] ?? '-'})`)
  t.equal(repeated[repeated.length - 1], lastBeforeKill, 'ending with the batch in flight at the kill')
  t.ok(inFlight.every(e => (seen.get(e.id) ?? 0) === 2), 'all of the in-flight batch was sent again, once')
  t.ok(repeated.length <= inFlight.length + 200 && repeated.length < atKill, `delivery resumed from the stored cursor, not from the start (${repeated.length} of ${atKill} events sent again)`)
  t.equal(changed, 0, 'a resent event keeps its id and content')
})
