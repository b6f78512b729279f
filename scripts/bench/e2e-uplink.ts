/**
 * bench:e2e (d): a distant upstream. A backlog is drained through an upstream that answers
 * every request 50 ms late (a WAN round trip), and through one on loopback, with one request
 * in flight (the baseline, measured in the same run) and with sink.maxInFlight requests.
 * Rates run from the first request's arrival to the last event's; every case checks that
 * every event arrived (requests in flight may arrive out of order, so arrivals are counted
 * by sequence number, not in order).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startE2eGateway } from './e2e-child.js'
import { fillLog } from './e2e-fill.js'
import { startBenchReceiver, type BenchReceiver } from './e2e-receiver.js'
import { fmt, median } from './stats.js'

interface Case {
  label: string
  mode: 'binary' | 'batch'
  maxInFlight: number
  latencyMs: number
  backlog: number
  /** Events per second this case must reach (the issue's targets), if any. */
  target?: number
  /** The case this one is compared with. */
  baseline?: string
}

const CASES: Case[] = [
  { label: 'binary, 1 in flight, 50 ms', mode: 'binary', maxInFlight: 1, latencyMs: 50, backlog: 100 },
  { label: 'binary, 64 in flight, 50 ms', mode: 'binary', maxInFlight: 64, latencyMs: 50, backlog: 10_000, target: 1_000, baseline: 'binary, 1 in flight, 50 ms' },
  { label: 'batch, 1 in flight, 50 ms', mode: 'batch', maxInFlight: 1, latencyMs: 50, backlog: 50_000 },
  { label: 'batch, 4 in flight, 50 ms', mode: 'batch', maxInFlight: 4, latencyMs: 50, backlog: 200_000, target: 20_000, baseline: 'batch, 1 in flight, 50 ms' },
  { label: 'binary, 1 in flight, loopback', mode: 'binary', maxInFlight: 1, latencyMs: 0, backlog: 5_000 },
  { label: 'binary, 16 in flight, loopback', mode: 'binary', maxInFlight: 16, latencyMs: 0, backlog: 50_000, target: 10_000, baseline: 'binary, 1 in flight, loopback' }
]

async function drainRound (receiver: BenchReceiver, dataDir: string, c: Case, name: string, cpuProf: string | undefined): Promise<{ rate: number, cpu: number, receiverCpu: number, lost: number, repeats: number }> {
  receiver.reset()
  const own = process.cpuUsage()
  const gw = await startE2eGateway({
    dataDir,
    durability: 'sync',
    bridge: { name, url: receiver.url, mode: c.mode, start: 'earliest', maxInFlight: c.maxInFlight }
  }, cpuProf)
  const doneAt = await receiver.untilDistinct(c.backlog)
  const firstAt = receiver.firstAt ?? gw.startedAt
  const { cpu } = await gw.status()
  const used = process.cpuUsage(own)
  await gw.stop()
  return {
    receiverCpu: (used.user + used.system) / c.backlog,
    rate: (c.backlog - 1) / ((doneAt - firstAt) / 1000),
    cpu: (cpu - gw.cpuAtStart) / c.backlog,
    lost: c.backlog - receiver.distinct,
    repeats: receiver.events - receiver.distinct
  }
}

export async function uplink (rounds: number, only: string | undefined, cpuProf: string | undefined): Promise<void> {
  console.log('\n(d) a distant upstream: backlogs drained through an upstream that answers 50 ms late, and on loopback; sink.maxInFlight against 1 in flight')
  const receivers = new Map<number, BenchReceiver>()
  const medians = new Map<string, number>()
  const dir = await mkdtemp(join(tmpdir(), 'flowgate-uplink-'))
  const filled = new Set<number>()
  try {
    for (const [k, c] of CASES.entries()) {
      if (only !== undefined && !c.label.includes(only)) continue
      let receiver = receivers.get(c.latencyMs)
      if (receiver === undefined) {
        receiver = await startBenchReceiver({ latencyMs: c.latencyMs })
        receivers.set(c.latencyMs, receiver)
      }
      // one log per backlog size; each round is a new bridge reading it from the start
      const dataDir = join(dir, `log-${c.backlog}`)
      if (!filled.has(c.backlog)) await fillLog(dataDir, c.backlog)
      filled.add(c.backlog)
      const rates: number[] = []
      const cpus: number[] = []
      let lost = 0
      for (let r = 0; r < rounds; r++) {
        const got = await drainRound(receiver, dataDir, c, `up-${k}-${r}`, cpuProf)
        rates.push(got.rate)
        cpus.push(got.cpu)
        lost += got.lost
        console.log(`  ${c.label}: round ${r + 1}: ${fmt(got.rate)} events/s (${fmt(c.backlog)} events), gateway CPU ${fmt(got.cpu, 1)} µs/event, receiver CPU ${fmt(got.receiverCpu, 1)} µs/event${got.repeats > 0 ? `, ${got.repeats} sent twice` : ''}${got.lost > 0 ? `, !! ${got.lost} LOST` : ''}`)
      }
      const m = median(rates)
      medians.set(c.label, m)
      const base = c.baseline === undefined ? undefined : medians.get(c.baseline)
      const vs = base === undefined ? '' : `, ${fmt(m / base, 1)}x ${c.baseline}`
      const target = c.target === undefined ? '' : `; target >= ${fmt(c.target)}: ${m >= c.target ? 'met' : 'NOT met'}`
      console.log(`  ${c.label}: median ${fmt(m)} events/s${vs}, CPU ${fmt(median(cpus), 1)} µs/event, ${lost === 0 ? 'nothing lost' : `!! ${lost} LOST`}${target}`)
    }
  } finally {
    for (const r of receivers.values()) await r.close()
    await rm(dir, { recursive: true, force: true })
  }
}
