/**
 * bench:e2e — MQTT in, CloudEvents over HTTP out, through flowgate running as a
 * child process, to a minimal HTTP receiver in this process. Three measurements,
 * each against a baseline taken in the same run:
 *
 *   (a) throughput: 10 QoS 1 publishers at full speed into a gateway with a batch
 *       bridge; ingest rate, delivered rate and their ratio (target delivered >= 0.9x
 *       ingest). Baseline: the same load into a gateway without a bridge.
 *   (b) latency: 2,000 msg/s paced, binary mode; publish-to-receiver p50/p99 from
 *       the publish time carried in the payload (target p99 < 20 ms). Baseline: an
 *       MQTT subscriber of the same gateway receiving the same messages at the same
 *       time (it waits for the same group commit; the difference is the bridge).
 *   (c) drain: a 1,000,000-event backlog delivered to a batch receiver (target
 *       >= 100,000 events/s). The backlog is appended straight to the event log with
 *       the gateway stopped (storage EventLog.append, no broker); then a gateway
 *       starts with a bridge at `start: earliest`. Baseline: reading the same log
 *       (EventLog.read, no mapping, no HTTP). The gateway's CPU time per event is
 *       printed too: it is steadier than rates on a shared machine. With --signing, each
 *       round drains the backlog a second time with gateway.signing on (ECDSA P-256,
 *       every event signed) and prints the signed drain against the unsigned one.
 *   (d) a distant upstream: backlogs drained through an upstream that answers every
 *       request 50 ms late, and on loopback, with sink.maxInFlight requests in flight
 *       against one at a time (targets: binary with 64 in flight >= 1,000 events/s and
 *       batch >= 20,000 events/s at 50 ms; binary with 16 in flight >= 10,000 events/s on
 *       loopback; nothing lost). See e2e-uplink.ts.
 *
 *   npm run bench:e2e [-- --rounds 3 --only abcd --uplink 'in flight' (cases whose label contains it) --messages 3000 --rate 2000 --seconds 5
 *                        --backlog 1000000 --drain-mode batch|structured|binary --signing
 *                        --cpu-prof DIR (runs the gateways under node --cpu-prof)]
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt from 'mqtt'
import { EventLog, Store } from '../../storage/index.js'
import { startE2eGateway } from './e2e-child.js'
import { fillLog } from './e2e-fill.js'
import { connectPublishers } from './e2e-load.js'
import { epochNow, startBenchReceiver, type BenchReceiver } from './e2e-receiver.js'
import { uplink } from './e2e-uplink.js'
import { fmt, median, mib, percentile } from './stats.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    only: { type: 'string', default: 'abcd' },
    uplink: { type: 'string' },
    messages: { type: 'string', default: '3000' },
    rate: { type: 'string', default: '2000' },
    seconds: { type: 'string', default: '5' },
    backlog: { type: 'string', default: '1000000' },
    'drain-mode': { type: 'string', default: 'batch' },
    signing: { type: 'boolean', default: false },
    'cpu-prof': { type: 'string' }
  }
})
const rounds = Number(values.rounds)
const cpuProf = values['cpu-prof']
const drainMode = values['drain-mode'] === 'binary' ? 'binary' : values['drain-mode'] === 'structured' ? 'structured' : 'batch'
const PUBLISHERS = 10
const WINDOW = 16

async function tempDir (): Promise<string> {
  return await mkdtemp(join(tmpdir(), 'flowgate-e2e-'))
}

function check (receiver: BenchReceiver, what: string): void {
  if (receiver.gaps > 0 || receiver.repeats > 0) console.log(`  !! ${what}: ${receiver.gaps} gaps, ${receiver.repeats} repeats in the sequence received`)
}

// ---- (a) throughput -------------------------------------------------------------------------

async function floodRound (receiver: BenchReceiver, withBridge: boolean, perClient: number): Promise<{ ingest: number, delivered: number }> {
  const dir = await tempDir()
  try {
    const gw = await startE2eGateway({
      dataDir: join(dir, 'data'),
      durability: 'sync',
      ...(withBridge ? { bridge: { name: 'up', url: receiver.url, mode: 'batch', start: 'end' } } : {})
    })
    const pubs = await connectPublishers(gw.port, PUBLISHERS)
    const total = PUBLISHERS * perClient
    receiver.reset()
    const delivered = withBridge ? receiver.until(total) : undefined
    const { started, acked } = await pubs.flood(perClient, WINDOW)
    const deliveredAt = await delivered
    await pubs.close()
    await gw.stop()
    if (withBridge) check(receiver, 'throughput')
    return {
      ingest: total / ((acked - started) / 1000),
      delivered: deliveredAt === undefined ? NaN : total / ((deliveredAt - started) / 1000)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function throughput (receiver: BenchReceiver): Promise<void> {
  const perClient = Number(values.messages)
  console.log(`\n(a) throughput: ${PUBLISHERS} publishers x ${fmt(perClient)} QoS 1 messages (JSON, ~60-190 bytes), window ${WINDOW}, durability sync, batch bridge (maxEvents 500, lingerMs 5)`)
  const base: number[] = []
  const ingest: number[] = []
  const delivered: number[] = []
  const ratios: number[] = []
  for (let r = 0; r < rounds; r++) {
    // alternate which goes first, so drift on a shared machine hits both
    const order = r % 2 === 0 ? [false, true] : [true, false]
    let b = 0
    let w = { ingest: 0, delivered: 0 }
    for (const withBridge of order) {
      const got = await floodRound(receiver, withBridge, perClient)
      if (withBridge) w = got
      else b = got.ingest
    }
    base.push(b)
    ingest.push(w.ingest)
    delivered.push(w.delivered)
    ratios.push(w.delivered / w.ingest)
    console.log(`  round ${r + 1}: no bridge ingest ${fmt(b)} msg/s | with bridge ingest ${fmt(w.ingest)} msg/s, delivered ${fmt(w.delivered)} events/s, delivered/ingest ${fmt(w.delivered / w.ingest, 2)}`)
  }
  const ratio = median(ratios)
  console.log(`  median: baseline ingest (no bridge) ${fmt(median(base))} msg/s; with bridge ingest ${fmt(median(ingest))} msg/s (${fmt(median(ingest) / median(base), 2)}x baseline), delivered ${fmt(median(delivered))} events/s (${fmt(median(delivered) / median(base), 2)}x baseline)`)
  console.log(`  delivered/ingest median ${fmt(ratio, 2)}x (target >= 0.90x): ${ratio >= 0.9 ? 'met' : 'NOT met'}`)
}

// ---- (b) latency ----------------------------------------------------------------------------

async function latencyRound (receiver: BenchReceiver, rate: number, total: number): Promise<{ bridge: number[], sub: number[], ack: number[] }> {
  const dir = await tempDir()
  try {
    const gw = await startE2eGateway({ dataDir: join(dir, 'data'), durability: (process.env.E2E_DURABILITY ?? 'sync') as 'sync' | 'async', bridge: { name: 'live', url: receiver.url, mode: 'binary', start: 'end' } }, cpuProf)
    const pubs = await connectPublishers(gw.port, 1)
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { clientId: 'e2e-sub', reconnectPeriod: 0 })
    let subLat: number[] = []
    sub.on('message', (_topic, payload) => {
      const at = epochNow()
      subLat.push(at - (JSON.parse(payload.toString()) as { t: number }).t)
    })
    await sub.subscribeAsync('devices/#', { qos: 0 })
    // warm-up: two seconds at the same rate, not measured
    receiver.reset()
    const warm = 2 * rate
    await pubs.paced(warm, rate, 'devices/th-1/telemetry')
    await receiver.until(warm)
    receiver.reset()
    subLat = []
    const ack = await pubs.paced(total, rate, 'devices/th-1/telemetry')
    await receiver.until(total)
    check(receiver, 'latency')
    const bridge = receiver.latencies
    const subs = subLat
    await sub.endAsync(true)
    await pubs.close()
    await gw.stop()
    return { bridge, sub: subs, ack }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

async function latency (receiver: BenchReceiver): Promise<void> {
  const rate = Number(values.rate)
  const total = rate * Number(values.seconds)
  console.log(`\n(b) latency: ${fmt(total)} QoS 1 publishes paced at ${fmt(rate)} msg/s, durability sync, binary-mode bridge; publish time in the payload, receiver's clock (same machine)`)
  const p50: number[] = []
  const p99: number[] = []
  const s50: number[] = []
  const s99: number[] = []
  const a99: number[] = []
  for (let r = 0; r < rounds; r++) {
    const { bridge, sub, ack } = await latencyRound(receiver, rate, total)
    p50.push(percentile(bridge, 50))
    p99.push(percentile(bridge, 99))
    s50.push(percentile(sub, 50))
    s99.push(percentile(sub, 99))
    a99.push(percentile(ack, 99))
    console.log(`  round ${r + 1}: bridge -> HTTP receiver p50 ${fmt(percentile(bridge, 50), 2)} ms, p99 ${fmt(percentile(bridge, 99), 2)} ms, max ${fmt(Math.max(...bridge), 1)} ms (${fmt(bridge.length)} events) | MQTT subscriber p50 ${fmt(percentile(sub, 50), 2)} ms, p99 ${fmt(percentile(sub, 99), 2)} ms | publish -> PUBACK p99 ${fmt(percentile(ack, 99), 2)} ms`)
  }
  const m99 = median(p99)
  console.log(`  median: bridge p50 ${fmt(median(p50), 2)} ms, p99 ${fmt(m99, 2)} ms; baseline MQTT subscriber p50 ${fmt(median(s50), 2)} ms, p99 ${fmt(median(s99), 2)} ms (bridge p99 ${fmt(m99 / median(s99), 2)}x subscriber p99); publish -> PUBACK p99 ${fmt(median(a99), 2)} ms`)
  console.log(`  bridge p99 target < 20 ms: ${m99 < 20 ? 'met' : 'NOT met'}`)
}

// ---- (c) drain ------------------------------------------------------------------------------

async function scanLog (dataDir: string): Promise<number> {
  const store = await Store.open(dataDir)
  const log = await EventLog.open(store, { durability: 'async', maxAgeMs: 0, maxBytes: 0, whenFull: 'drop-oldest' })
  const started = performance.now()
  let n = 0
  for (let from = log.firstSeq; from <= log.lastSeq;) {
    const records = await log.read(from, 2000)
    if (records.length === 0) break
    n += records.length
    from = (records[records.length - 1]?.seq ?? from) + 1
  }
  const rate = n / ((performance.now() - started) / 1000)
  await log.close()
  await store.close()
  return rate
}

async function drain (receiver: BenchReceiver): Promise<void> {
  const backlog = Number(values.backlog)
  const dir = await tempDir()
  const dataDir = join(dir, 'data')
  try {
    console.log(`\n(c) drain: a backlog of ${fmt(backlog)} events, ${drainMode === 'batch' ? 'batch bridge (maxEvents 500)' : `${drainMode}-mode bridge`} from start: earliest`)
    const filled = await fillLog(dataDir, backlog)
    console.log(`  backlog appended straight to the event log with the gateway stopped (EventLog.append, commit groups of 1,000, no MQTT): ${fmt(filled.seconds, 1)} s, ${mib(filled.bytes)}`)
    let signingKey: string | undefined
    if (values.signing === true) {
      signingKey = join(dir, 'signing.pem')
      await writeFile(signingKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }))
    }
    const scans: number[] = []
    const drains: number[] = []
    const cpus: number[] = []
    const signedDrains: number[] = []
    const signedCpus: number[] = []
    const drainOnce = async (name: string, key: string | undefined): Promise<{ rate: number, cpuPerEvent: number, maxRss: number, requests: number }> => {
      receiver.reset()
      const gw = await startE2eGateway({ dataDir, durability: 'sync', ...(key !== undefined ? { signingKey: key } : {}), bridge: { name, url: receiver.url, mode: drainMode, start: 'earliest' } }, cpuProf)
      const doneAt = await receiver.until(backlog)
      const rate = backlog / ((doneAt - gw.startedAt) / 1000)
      const { maxRss, cpu } = await gw.status()
      await gw.stop()
      check(receiver, name)
      return { rate, cpuPerEvent: (cpu - gw.cpuAtStart) / backlog, maxRss, requests: receiver.requests }
    }
    for (let r = 0; r < rounds; r++) {
      const scan = await scanLog(dataDir)
      // with --signing, alternate which goes first, so drift on a shared machine hits both
      const signedFirst = signingKey !== undefined && r % 2 === 1
      const signedRun = async (): Promise<void> => {
        if (signingKey === undefined) return
        const s = await drainOnce(`drain-signed-${r + 1}`, signingKey)
        signedDrains.push(s.rate)
        signedCpus.push(s.cpuPerEvent)
        console.log(`  round ${r + 1} signed: drain ${fmt(s.rate)} events/s in ${fmt(backlog / s.rate, 2)} s (${fmt(s.requests)} requests); gateway CPU ${fmt(s.cpuPerEvent, 2)} µs/event, peak RSS ${mib(s.maxRss)}`)
      }
      if (signedFirst) await signedRun()
      const { rate, cpuPerEvent, maxRss, requests } = await drainOnce(`drain-${r + 1}`, undefined)
      scans.push(scan)
      drains.push(rate)
      cpus.push(cpuPerEvent)
      console.log(`  round ${r + 1}: log read alone ${fmt(scan)} records/s | drain ${fmt(rate)} events/s in ${fmt(backlog / rate, 2)} s (${fmt(requests)} requests), ${fmt(rate / scan, 2)}x the read rate; gateway CPU ${fmt(cpuPerEvent, 2)} µs/event, peak RSS ${mib(maxRss)}`)
      if (!signedFirst) await signedRun()
    }
    const m = median(drains)
    console.log(`  median: drain ${fmt(m)} events/s; baseline log read ${fmt(median(scans))} records/s (drain ${fmt(m / median(scans), 2)}x read); gateway CPU ${fmt(median(cpus), 2)} µs/event`)
    console.log(`  drain target >= 100,000 events/s: ${m >= 100_000 ? 'met' : 'NOT met'}`)
    if (signingKey !== undefined) {
      const sm = median(signedDrains)
      console.log(`  signing (gateway.signing, ECDSA P-256 per event): drain ${fmt(sm)} events/s, ${fmt(sm / m, 2)}x the unsigned drain; gateway CPU ${fmt(median(signedCpus), 2)} µs/event, +${fmt(median(signedCpus) - median(cpus), 2)} µs/event for signing`)
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

console.log(`bench:e2e  ${rounds} rounds per measurement, node ${process.version}`)
const receiver = await startBenchReceiver()
try {
  if (values.only.includes('a')) await throughput(receiver)
  if (values.only.includes('b')) await latency(receiver)
  if (values.only.includes('c')) await drain(receiver)
  if (values.only.includes('d')) await uplink(rounds, values.uplink, cpuProf)
} finally {
  await receiver.close()
}
