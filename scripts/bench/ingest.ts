/**
 * bench:ingest — QoS 1 ingest rate of flowgate against plain Aedes, measured
 * in alternation in one run (same load generator, same machine state), plus the
 * time to open a log of 1,000,000 records.
 *
 *   npm run bench:ingest [-- --rounds 9 --messages 3000 --warmup 0 --open-records 1000000]
 *
 * Each round starts a fresh broker process, so by default a round measures a broker
 * whose JIT compiler has not yet seen the load. --warmup N first sends N messages per
 * publisher to that broker, unmeasured, so the round measures it in steady state.
 *
 * On a shared machine one round's ratio can be off by 20% either way, so the
 * verdict is the median of several rounds, printed with the spread (quartiles).
 * The CPU each broker process used per message (all its threads) is printed
 * too: it tells a gap in CPU from a gap in latency.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startServer } from './child.js'
import { runLoad } from './loadgen.js'
import { measureOpen } from './open.js'
import { fmt, median, mib, percentile } from './stats.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '9' },
    messages: { type: 'string', default: '3000' },
    warmup: { type: 'string', default: '0' },
    window: { type: 'string', default: '64' },
    durability: { type: 'string', default: 'sync' },
    'open-records': { type: 'string', default: '1000000' }
  }
})
const rounds = Number(values.rounds)
const messagesPerPublisher = Number(values.messages)
const window = Number(values.window)
const warmup = Number(values.warmup)
const durability = values.durability === 'async' ? 'async' : 'sync'

interface Measured { rate: number, maxRss: number, cpuPerMessage: number }

async function measure (kind: 'plain' | 'flowgate', subscriber: boolean): Promise<Measured> {
  const dir = await mkdtemp(join(tmpdir(), 'flowgate-bench-'))
  try {
    const server = await startServer([kind, join(dir, 'data'), durability])
    const load = { port: server.port, publishers: 10, window, minPayload: 64, maxPayload: 256, subscriber }
    if (warmup > 0) await runLoad({ ...load, messagesPerPublisher: warmup })
    const before = await server.stats()
    const result = await runLoad({ ...load, messagesPerPublisher })
    const after = await server.stats()
    await server.stop()
    return { rate: result.rate, maxRss: after.maxRss, cpuPerMessage: (after.cpu - before.cpu) / result.messages }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Ratios to plain Aedes that flowgate is to reach, with sync durability and --warmup 3000. */
const TARGET = { noSubscriber: 0.85, oneSubscriber: 1.0, cpu: 1.3 }

console.log(`bench:ingest  10 publishers, QoS 1, 64-256 byte payloads, ${messagesPerPublisher} msgs each, window ${window}, ${rounds} rounds, durability ${durability}, ${warmup > 0 ? `each broker warmed up with ${warmup} msgs per publisher` : 'a fresh broker process per round, no warm-up'}`)
for (const subscriber of [false, true]) {
  const plain: number[] = []
  const gw: number[] = []
  const ratios: number[] = []
  const plainCpu: number[] = []
  const gwCpu: number[] = []
  let plainRss = 0
  let gwRss = 0
  for (let r = 0; r < rounds; r++) {
    // alternate which goes first, so drift on a shared machine hits both
    const order: Array<'plain' | 'flowgate'> = r % 2 === 0 ? ['plain', 'flowgate'] : ['flowgate', 'plain']
    const got: Record<string, Measured> = {}
    for (const kind of order) got[kind] = await measure(kind, subscriber)
    const p = got.plain as Measured
    const f = got.flowgate as Measured
    plain.push(p.rate)
    gw.push(f.rate)
    ratios.push(f.rate / p.rate)
    plainCpu.push(p.cpuPerMessage)
    gwCpu.push(f.cpuPerMessage)
    plainRss = Math.max(plainRss, p.maxRss)
    gwRss = Math.max(gwRss, f.maxRss)
    console.log(`  round ${r + 1}${subscriber ? ' (1 subscriber)' : ''}: plain ${fmt(p.rate)} msg/s, flowgate ${fmt(f.rate)} msg/s, ratio ${fmt(f.rate / p.rate, 2)}; broker CPU ${fmt(p.cpuPerMessage, 1)} vs ${fmt(f.cpuPerMessage, 1)} µs/msg`)
  }
  const target = subscriber ? TARGET.oneSubscriber : TARGET.noSubscriber
  const cpuRatio = median(gwCpu) / median(plainCpu)
  console.log(`${subscriber ? 'with one subscriber' : 'no subscribers'}: median plain Aedes ${fmt(median(plain))} msg/s, flowgate ${fmt(median(gw))} msg/s, median ratio ${fmt(median(ratios), 2)}x (target >= ${fmt(target, 2)}x: ${median(ratios) >= target ? 'met' : 'NOT met'}; quartiles ${fmt(percentile(ratios, 25), 2)}-${fmt(percentile(ratios, 75), 2)}); broker process CPU per message (all threads) plain ${fmt(median(plainCpu), 1)} µs, flowgate ${fmt(median(gwCpu), 1)} µs, ${fmt(cpuRatio, 2)}x${subscriber ? '' : ` (target <= ${fmt(TARGET.cpu, 2)}x: ${cpuRatio <= TARGET.cpu ? 'met' : 'NOT met'})`}; peak RSS plain ${mib(plainRss)}, flowgate ${mib(gwRss)}`)
}

const openRecords = Number(values['open-records'])
if (openRecords > 0) {
  const open = await measureOpen(openRecords)
  console.log(`open time: empty log ${fmt(open.emptyMs, 1)} ms, ${fmt(openRecords)} records ${fmt(open.fullMs, 1)} ms (median of ${open.samples}; fill took ${fmt(open.fillSeconds, 1)} s, ${mib(open.bytes)} on disk)`)
}
