/**
 * bench:pi — the gateway on a Raspberry Pi's budget: the `flowgate start`
 * command confined to one CPU (taskset) under a memory ceiling (a cgroup
 * memory limit, v2 where its memory controller is available, else v1; without
 * either, RSS only), with a batch bridge to a receiver in this process. This
 * process (publishers and receiver) runs on the other CPUs.
 *
 *   (1) start to /readyz, with a log of --records records and, as a baseline,
 *       with an empty one (median of --starts starts each);
 *   (2) idle RSS, --idle seconds after ready (and 2 s after: V8 gives back
 *       the young generation that start-up grew some 15-20 s later);
 *   (3) --publishers QoS 1 publishers paced at --rate msg/s in total for
 *       --seconds: no loss (every publish acknowledged and delivered once, in
 *       order), publish-to-upstream and PUBACK latency, RSS under load, CPU.
 *
 * Each figure is printed beside its target.
 *
 *   npm run bench:pi [-- --seconds 60 --rate 2000 --publishers 10 --records 1000000
 *                       --starts 5 --idle 30 --memory 256 --cpu 0
 *                       --node-flags="--max-semi-space-size=16" (instead of the runtime flags)]
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { availableParallelism, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { memoryCeiling, type MemoryCeiling } from './cgroup.js'
import { startBenchReceiver, type BenchReceiver } from './e2e-receiver.js'
import { fill } from './open.js'
import { procStats, startPiGateway, untilReady, type PiGateway } from './pi-gateway.js'
import { connectDevices } from './pi-load.js'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import { fmt, median, mib, percentile } from './stats.js'

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '2000' },
    publishers: { type: 'string', default: '10' },
    records: { type: 'string', default: '1000000' },
    starts: { type: 'string', default: '5' },
    idle: { type: 'string', default: '30' },
    memory: { type: 'string', default: '256' },
    cpu: { type: 'string', default: '0' },
    'node-flags': { type: 'string' }
  }
})
const MiB = 1024 * 1024
const seconds = Number(values.seconds)
const rate = Number(values.rate)
const publishers = Number(values.publishers)
const records = Number(values.records)
const starts = Number(values.starts)
const idleSeconds = Number(values.idle)
const ceilingBytes = Number(values.memory) * MiB
const nodeFlags = values['node-flags'] === undefined ? GATEWAY_NODE_FLAGS : values['node-flags'].split(/\s+/).filter(Boolean)

const TARGET = { readyS: 0.5, idleMiB: 60, loadMiB: 120, upstreamP99: 50, pubackP99: 10 }
const verdict = (ok: boolean): string => ok ? 'met' : 'NOT met'
const line = (what: string, figure: string, target: string, ok: boolean): void => {
  console.log(`  ${what.padEnd(34)} ${figure.padEnd(48)} target ${target.padEnd(14)} ${verdict(ok)}`)
}
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/** The gateway on CPU --cpu, this process on the others (when there are others and taskset is here). */
function placeCpus (): number | undefined {
  if (spawnSync('taskset', ['--version']).status !== 0) {
    console.log('  taskset is not installed: the gateway is not confined to one CPU')
    return undefined
  }
  const cpu = Number(values.cpu)
  const others = Array.from({ length: availableParallelism() }, (_, i) => i).filter(i => i !== cpu)
  if (others.length > 0) spawnSync('taskset', ['-a', '-pc', others.join(','), String(process.pid)], { stdio: 'ignore' })
  return cpu
}

async function writeGatewayConfig (dir: string, dataDir: string, receiver: BenchReceiver): Promise<string> {
  const file = join(dir, `flowgate-${Math.random().toString(36).slice(2)}.yaml`)
  await writeFile(file, `gateway: { id: bench-pi, dataDir: ${JSON.stringify(dataDir)}, logLevel: info }
broker: { listeners: [{ host: 127.0.0.1, port: 0 }] }
admin: { port: 0 }
bridges:
  - name: upstream
    topics: ["devices/#"]
    event: { topicPattern: "devices/{deviceid}/{kind}", type: "com.example.{kind}", source: "/sites/pi/{deviceid}" }
    sink: { url: ${JSON.stringify(receiver.url)}, mode: batch }
`)
  return file
}

async function stopChecked (gw: PiGateway, what: string): Promise<{ code: number | null, signal: NodeJS.Signals | null }> {
  const exit = await gw.stop()
  if (exit.code !== 0) console.log(`  !! ${what}: the gateway exited with ${exit.code ?? exit.signal}${gw.problems.length > 0 ? `: ${gw.problems.join(' | ')}` : ''}`)
  return exit
}

/** Wall time from spawn to the first 200 from /readyz, and the CPU time the gateway used until then (ms). */
async function timeToReady (config: string, cpu: number | undefined, ceiling: MemoryCeiling): Promise<{ wall: number[], cpu: number[] }> {
  const wall: number[] = []
  const cpuMs: number[] = []
  for (let i = 0; i < starts; i++) {
    const gw = startPiGateway(config, cpu, ceiling, nodeFlags)
    wall.push((await untilReady(gw.admin)) - gw.spawnedAt)
    cpuMs.push((await procStats(gw.proc.pid as number)).cpuMs)
    await stopChecked(gw, 'start to /readyz')
  }
  return { wall, cpu: cpuMs }
}

async function readiness (dir: string, receiver: BenchReceiver, cpu: number | undefined): Promise<void> {
  const ceiling = await memoryCeiling(ceilingBytes, `flowgate-bench-pi-start-${process.pid}`)
  try {
    const t0 = performance.now()
    const full = join(dir, 'full')
    const bytes = await fill(full, records)
    // on the disk before the starts, as a restarting gateway's log is: the kernel's writeback of the
    // fill would otherwise run beside the first starts
    spawnSync('sync')
    console.log(`\n(1) start to /readyz: log of ${fmt(records)} records (${mib(bytes)}, filled and synced in ${fmt((performance.now() - t0) / 1000, 1)} s), ${starts} starts each`)
    const withLog = await timeToReady(await writeGatewayConfig(dir, full, receiver), cpu, ceiling)
    const empty = await timeToReady(await writeGatewayConfig(dir, join(dir, 'empty'), receiver), cpu, ceiling)
    const m = median(withLog.wall) / 1000
    const range = (ms: number[]): string => `median ${fmt(median(ms) / 1000, 3)} s (min ${fmt(Math.min(...ms) / 1000, 3)}, max ${fmt(Math.max(...ms) / 1000, 3)})`
    line(`start to /readyz, ${fmt(records)} records`, range(withLog.wall), `<= ${TARGET.readyS} s`, m <= TARGET.readyS)
    console.log(`  ${'baseline: empty log'.padEnd(34)} ${range(empty.wall)}; the log adds ${fmt((median(withLog.wall) - median(empty.wall)) / 1000, 3)} s`)
    // CPU time is steadier than wall time on a shared machine (10 ms resolution)
    console.log(`  ${'gateway CPU time until ready'.padEnd(34)} ${fmt(median(withLog.cpu) / 1000, 2)} s with the log, ${fmt(median(empty.cpu) / 1000, 2)} s with an empty one`)
  } finally {
    await ceiling.close()
  }
}

async function sustained (dir: string, receiver: BenchReceiver, cpu: number | undefined): Promise<void> {
  const ceiling = await memoryCeiling(ceilingBytes, `flowgate-bench-pi-load-${process.pid}`)
  try {
    const total = Math.round(rate * seconds / publishers) * publishers
    const gw = startPiGateway(await writeGatewayConfig(dir, join(dir, 'load'), receiver), cpu, ceiling, nodeFlags)
    const pid = gw.proc.pid as number
    await untilReady(gw.admin)
    const port = await gw.port
    console.log(`\n(2) idle, then (3) ${publishers} QoS 1 publishers paced at ${fmt(rate)} msg/s in total for ${seconds} s (${fmt(total)} messages), durability sync, batch bridge to a receiver on this machine`)
    await sleep(2000)
    const early = (await procStats(pid)).rss
    await sleep(Math.max(0, idleSeconds - 2) * 1000)
    const idle = (await procStats(pid)).rss
    line(`idle RSS, ${idleSeconds} s after ready`, `${mib(idle)} (2 s after ready: ${mib(early)})`, `<= ${TARGET.idleMiB} MiB`, idle <= TARGET.idleMiB * MiB)

    const devices = await connectDevices(port, publishers)
    receiver.reset()
    const samples: number[] = []
    const cpuBefore = (await procStats(pid)).cpuMs
    // the gateway's CPU time at each 10 s of the run: its share of the core, warm-up included
    const cpuMarks: number[] = [cpuBefore]
    const loadStart = performance.now()
    let sampling = true
    const sampler = (async () => {
      while (sampling) {
        const st = await procStats(pid).catch(() => ({ rss: NaN, cpuMs: NaN }))
        samples.push(st.rss)
        if (performance.now() - loadStart >= cpuMarks.length * 10_000 && cpuMarks.length <= seconds / 10) cpuMarks.push(st.cpuMs)
        await sleep(250)
      }
    })()
    const result = await devices.run(rate, seconds)
    const deadline = sleep(30_000).then(() => undefined)
    const deliveredAt = await Promise.race([receiver.until(total), deadline])
    sampling = false
    await sampler
    const cpuEnd = (await procStats(pid)).cpuMs
    const cpuMs = cpuEnd - cpuBefore
    if (cpuMarks.length <= seconds / 10) cpuMarks.push(cpuEnd)
    await devices.close()
    const exit = await stopChecked(gw, 'load')
    const mem = await ceiling.stats()

    const lost = total - receiver.events + receiver.repeats
    const ackRate = result.acked / ((result.ended - result.started) / 1000)
    const deliveredRate = deliveredAt === undefined ? NaN : receiver.events / ((deliveredAt - result.started) / 1000)
    const drainMs = deliveredAt === undefined ? NaN : deliveredAt - result.ended
    line('messages lost', `${fmt(result.published)} published, ${fmt(result.acked)} acknowledged, ${fmt(receiver.events)} delivered (${receiver.gaps} gaps, ${receiver.repeats} repeats)`, '0', result.acked === total && lost === 0 && receiver.gaps === 0)
    if (deliveredAt === undefined) console.log(`  !! ${fmt(total - receiver.events)} events not delivered 30 s after the last PUBACK`)
    line('rate sustained', `${fmt(ackRate)} msg/s acknowledged, ${fmt(deliveredRate)} events/s delivered`, `${fmt(rate)} msg/s`, ackRate >= rate * 0.98 && deliveredRate >= rate * 0.98)
    console.log(`  ${''.padEnd(34)} the last event reached the receiver ${fmt(drainMs, 1)} ms after the last PUBACK`)
    const up = receiver.latencies
    line('publish -> upstream', `p50 ${fmt(percentile(up, 50), 1)} ms, p99 ${fmt(percentile(up, 99), 1)} ms, max ${fmt(Math.max(...up), 1)} ms`, `p99 <= ${TARGET.upstreamP99} ms`, percentile(up, 99) <= TARGET.upstreamP99)
    const ack = result.ackMs
    line('publish -> PUBACK', `p50 ${fmt(percentile(ack, 50), 1)} ms, p99 ${fmt(percentile(ack, 99), 1)} ms, max ${fmt(Math.max(...ack), 1)} ms`, `p99 <= ${TARGET.pubackP99} ms`, percentile(ack, 99) <= TARGET.pubackP99)
    // in arrival order, so each slice is about 10 s of the run: shows a warm-up or a late drift
    const slices = (values: number[]): string => {
      const size = Math.max(1, rate * 10)
      const out: string[] = []
      for (let i = 0; i < values.length; i += size) out.push(fmt(percentile(values.slice(i, i + size), 99), 1))
      return out.join(' | ')
    }
    console.log(`  ${'p99 by 10 s of messages'.padEnd(34)} upstream ${slices(up)} ms; PUBACK ${slices(ack)} ms`)
    // the first seconds of load run code the JIT compiler has not yet optimised, on the one core
    const firstSeconds = Array.from({ length: Math.min(10, seconds) }, (_, i) => fmt(percentile(ack.slice(i * rate, (i + 1) * rate), 99), 0)).join(' | ')
    const late = ack.slice(rate)
    console.log(`  ${'PUBACK p99 by second, first 10 s'.padEnd(34)} ${firstSeconds} ms; after the first second p99 ${fmt(percentile(late, 99), 1)} ms, ${fmt(ack.slice(0, rate).filter(ms => ms > TARGET.pubackP99).length)} of the first second's ${fmt(rate)} and ${fmt(late.filter(ms => ms > TARGET.pubackP99).length)} of the other ${fmt(late.length)} over ${TARGET.pubackP99} ms`)
    const rss = samples.filter(Number.isFinite)
    line('RSS under load', `max ${mib(Math.max(...rss))}, median ${mib(median(rss))}`, `<= ${TARGET.loadMiB} MiB`, Math.max(...rss) <= TARGET.loadMiB * MiB)
    const killed = exit.signal === 'SIGKILL' || (mem.oomKills ?? 0) > 0
    const memFigure = ceiling.kind === 'none'
      ? 'no ceiling could be set (RSS only)'
      : `${mem.oomKills ?? '?'} OOM kills, cgroup peak ${mem.peak !== undefined ? mib(mem.peak) : '?'} (RSS + page cache), reached the limit ${mem.limitHits ?? '?'} times`
    line(`killed by the ${Number(values.memory)} MiB ceiling`, memFigure, 'never', !killed && ceiling.kind !== 'none')
    const byTen = cpuMarks.slice(1).map((c, i) => `${fmt((c - (cpuMarks[i] as number)) / 100, 0)}%`).join(' | ')
    console.log(`  ${'gateway CPU'.padEnd(34)} ${fmt(cpuMs / (seconds * 10), 0)}% of one core over the load (${fmt(cpuMs * 1000 / total, 0)} µs per message), by 10 s: ${byTen}; SIGTERM: exit ${exit.code ?? exit.signal}`)
  } finally {
    await ceiling.close()
  }
}

const cpu = placeCpus()
const probe = await memoryCeiling(ceilingBytes, `flowgate-bench-pi-probe-${process.pid}`)
await probe.close()
console.log(`bench:pi  node ${process.version} ${nodeFlags.join(' ')}; gateway ${cpu === undefined ? 'on any CPU' : `pinned to CPU ${cpu} (taskset), this process on the others`}; ` +
  (probe.kind === 'none' ? `no memory ceiling: ${probe.where}; RSS only` : `memory ceiling ${values.memory} MiB (${probe.kind}, swap included where accounted)`))
const dir = await mkdtemp(join(tmpdir(), 'flowgate-bench-pi-'))
const receiver = await startBenchReceiver()
try {
  await readiness(dir, receiver, cpu)
  await sustained(dir, receiver, cpu)
} finally {
  await receiver.close()
  await rm(dir, { recursive: true, force: true })
}
