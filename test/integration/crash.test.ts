/**
 * Acknowledged means durable: a gateway killed with SIGKILL while QoS 1
 * publishers run at full speed has every acknowledged message in its log.
 */
import t from 'tap'
import mqtt, { type MqttClient } from 'mqtt'
import { EventLog, Store } from '../../storage/index.js'
import { startChild, writeConfig } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'

const PUBLISHERS = 10
const WINDOW = 32 // publishes in flight per publisher
const KILL_AFTER_ACKS = 4000

interface Publisher { client: MqttClient, acked: number[], stop: boolean, done: Promise<void> }

function runPublisher (client: MqttClient, id: number, onAck: () => void): Publisher {
  const p: Publisher = { client, acked: [], stop: false, done: Promise.resolve() }
  // count a PUBACK the moment it is parsed, so the kill lands as close to the ack as possible
  client.on('packetreceive', packet => { if (packet.cmd === 'puback') onAck() })
  let next = 0
  const lane = async (): Promise<void> => {
    while (!p.stop) {
      const n = next++
      try {
        await client.publishAsync(`crash/p${id}`, `${id}:${n}`, { qos: 1 })
        p.acked.push(n)
      } catch {
        return
      }
    }
  }
  p.done = Promise.all(Array.from({ length: WINDOW }, lane)).then(() => {})
  return p
}

const CYCLES = 5

/** Starts publishers against `port` and SIGKILLs the gateway once KILL_AFTER_ACKS PUBACKs have arrived. */
async function publishUntilKilled (proc: { kill: (s: NodeJS.Signals) => boolean }, port: number, cycle: number): Promise<Publisher[]> {
  const publishers: Publisher[] = []
  let acks = 0
  await new Promise<void>(resolve => {
    const onAck = (): void => {
      if (++acks === KILL_AFTER_ACKS) {
        proc.kill('SIGKILL') // mid-stream: every lane has publishes in flight
        resolve()
      }
    }
    void (async () => {
      for (let i = 0; i < PUBLISHERS; i++) {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `pub-${cycle}-${i}`, reconnectPeriod: 0 })
        publishers.push(runPublisher(client, cycle * PUBLISHERS + i, onAck))
      }
    })()
  })
  return publishers
}

t.test('every acknowledged publish survives SIGKILL, in per-publisher order, no sequence number reused', async t => {
  const dir = await tempDir(t)
  const dataDir = `${dir}/data`
  const configFile = await writeConfig(dir, dataDir)

  const publishers: Publisher[] = []
  for (let cycle = 0; cycle < CYCLES; cycle++) {
    const gw = await startChild(t, configFile)
    const round = await publishUntilKilled(gw.proc, gw.port, cycle)
    t.equal((await gw.exited).signal, 'SIGKILL', `cycle ${cycle}: killed mid-stream`)
    for (const p of round) { p.stop = true; p.client.end(true) }
    await Promise.all(round.map(p => p.done))
    publishers.push(...round)
  }
  const acked = publishers.reduce((n, p) => n + p.acked.length, 0)
  t.ok(acked >= CYCLES * KILL_AFTER_ACKS, `${acked} publishes acknowledged over ${CYCLES} kills`)

  // restart on the same data, publish once more, stop cleanly
  const again = await startChild(t, configFile)
  const after = await mqtt.connectAsync(`mqtt://127.0.0.1:${again.port}`, { clientId: 'after', reconnectPeriod: 0 })
  await after.publishAsync('crash/after', 'after:0', { qos: 1 })
  await after.endAsync()
  again.proc.kill('SIGTERM')
  t.equal((await again.exited).code, 0, 'clean stop after the restart')

  const store = await Store.open(dataDir)
  t.teardown(async () => await store.close())
  const log = await EventLog.open(store, { durability: 'sync', maxAgeMs: 0, maxBytes: 0, whenFull: 'drop-oldest' })
  const records = await log.read(1, Number.MAX_SAFE_INTEGER)

  const seqs = records.map(r => r.seq)
  t.ok(seqs.every((s, i) => i === 0 || s > (seqs[i - 1] as number)), 'sequence numbers strictly increase (none reused)')
  t.equal(new Set(seqs).size, seqs.length, 'no sequence number appears twice')
  t.equal(records[records.length - 1]?.payload.toString(), 'after:0', 'the post-restart publish comes last')

  const logged = new Map<number, number[]>()
  for (const r of records) {
    if (r.topic === 'crash/after') continue
    const [id, n] = r.payload.toString().split(':').map(Number) as [number, number]
    const list = logged.get(id) ?? []
    list.push(n)
    logged.set(id, list)
  }
  let lost = 0
  let outOfOrder = 0
  publishers.forEach((p, id) => {
    const list = logged.get(id) ?? []
    const have = new Set(list)
    for (const n of p.acked) if (!have.has(n)) lost++
    for (let k = 1; k < list.length; k++) if ((list[k] as number) < (list[k - 1] as number)) outOfOrder++
  })
  t.equal(lost, 0, `acknowledged messages missing from the log: ${lost}`)
  t.equal(outOfOrder, 0, 'per-publisher order is kept')
})
