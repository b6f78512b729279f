/**
 * bench:wire — what an event costs on the uplink: request bytes on the wire per event, and
 * CPU per event, for binary, structured, batch, batch+gzip and batch+br (batches of 100),
 * with a realistic telemetry payload (a device id, a time stamp and four readings, about
 * 130 bytes of JSON). A backlog is appended to a log, then drained by a gateway (its own
 * process) with one bridge into a receiver that meters the bytes its connections read
 * (request line, headers, body as sent; TCP/IP framing not included) and checks that every
 * event arrived. Each case is set against structured mode measured in the same run.
 * Target: batch+gzip of 100 events at most 1/8 of structured mode's bytes per event.
 *
 *   npm run bench:wire [-- --rounds 3 --events 10000 --cpu-prof DIR]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { startE2eGateway } from './e2e-child.js'
import { fillLog } from './e2e-fill.js'
import { startBenchReceiver, type BenchReceiver } from './e2e-receiver.js'
import { fmt, median } from './stats.js'

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    events: { type: 'string', default: '10000' },
    'cpu-prof': { type: 'string' }
  }
})
const rounds = Number(values.rounds)
const EVENTS = Number(values.events)
const cpuProf = values['cpu-prof']
const BATCH = 100
/** Per-event modes go with requests in flight so that the run is short; it does not change their bytes. */
const PER_EVENT_IN_FLIGHT = 16

interface Case {
  label: string
  mode: 'binary' | 'structured' | 'batch'
  compression: 'none' | 'gzip' | 'br'
  maxEvents: number
}

const CASES: Case[] = [
  { label: 'structured', mode: 'structured', compression: 'none', maxEvents: 1 },
  { label: 'binary', mode: 'binary', compression: 'none', maxEvents: 1 },
  { label: `batch ${BATCH}`, mode: 'batch', compression: 'none', maxEvents: BATCH },
  { label: `batch ${BATCH} + gzip`, mode: 'batch', compression: 'gzip', maxEvents: BATCH },
  { label: `batch ${BATCH} + br`, mode: 'batch', compression: 'br', maxEvents: BATCH },
  { label: 'batch 10 + gzip', mode: 'batch', compression: 'gzip', maxEvents: 10 }
]
const BASELINE = 'structured'
const GZIP_100 = `batch ${BATCH} + gzip`

/** A device's reading as devices send it: an id, a time stamp (epoch ms) and four numbers. */
export function telemetry (k: number): Buffer {
  const device = k % 50
  return Buffer.from(JSON.stringify({
    deviceId: `th-${String(device).padStart(4, '0')}`,
    ts: 1_767_225_600_000 + k * 1000 + (k * 7919) % 1000,
    temperature: Math.round((21 + 4 * Math.sin(k / 300) + device / 10) * 100) / 100,
    humidity: Math.round((45 + 10 * Math.cos(k / 500)) * 10) / 10,
    pressure: Math.round((1013.25 + 3 * Math.sin(k / 2000)) * 100) / 100,
    battery: Math.round((3.7 - (k % 1000) / 10_000) * 1000) / 1000
  }))
}

interface Round { wire: number, before: number, counted: number, cpu: number, receiverCpu: number, lost: number, requests: number }

async function round (receiver: BenchReceiver, dataDir: string, c: Case, name: string): Promise<Round> {
  receiver.reset()
  const gw = await startE2eGateway({
    dataDir,
    durability: 'async',
    bridge: {
      name,
      url: receiver.url,
      mode: c.mode,
      start: 'earliest',
      compression: c.compression,
      maxEvents: c.maxEvents,
      maxInFlight: c.mode === 'batch' ? 1 : PER_EVENT_IN_FLIGHT
    }
  }, cpuProf)
  // CPU from the first request on, so that the gateway's start does not count
  await receiver.untilDistinct(1)
  const first = await gw.status()
  const ownAtFirst = process.cpuUsage()
  const deliveredAtFirst = receiver.distinct
  await receiver.untilDistinct(EVENTS)
  const last = await gw.status()
  const own = process.cpuUsage(ownAtFirst)
  await gw.stop()
  const after = EVENTS - deliveredAtFirst
  return {
    wire: receiver.wireBytes / EVENTS,
    before: (last.status?.bytesBeforeCompression ?? NaN) / EVENTS,
    counted: (last.status?.bytesSent ?? NaN) / EVENTS,
    cpu: (last.cpu - first.cpu) / after,
    receiverCpu: (own.user + own.system) / after,
    lost: EVENTS - receiver.distinct,
    requests: receiver.requests
  }
}

console.log(`bench:wire  ${rounds} rounds per case, ${fmt(EVENTS)} events, node ${process.version}`)
const dir = await mkdtemp(join(tmpdir(), 'flowgate-wire-'))
const receiver = await startBenchReceiver()
try {
  const dataDir = join(dir, 'data')
  await fillLog(dataDir, EVENTS, telemetry)
  console.log(`payload: ${telemetry(0).length} bytes of JSON, e.g. ${telemetry(0).toString()}`)
  console.log('per event: request bytes on the wire (receiver-metered; the gateway\'s own count), before compression, gateway CPU, receiver CPU (decoding)')
  const results = new Map<string, { wire: number, cpu: number }>()
  for (const [k, c] of CASES.entries()) {
    const got: Round[] = []
    for (let r = 0; r < rounds; r++) got.push(await round(receiver, dataDir, c, `wire-${k}-${r}`))
    const lost = got.reduce((n, g) => n + g.lost, 0)
    const m = (f: (g: Round) => number): number => median(got.map(f))
    const wire = m(g => g.wire)
    const cpu = m(g => g.cpu)
    results.set(c.label, { wire, cpu })
    const base = results.get(BASELINE)
    const vs = base === undefined || c.label === BASELINE ? '' : `; ${fmt(wire / base.wire, 3)}x structured's bytes, ${fmt(cpu / base.cpu, 2)}x its CPU`
    console.log(`  ${c.label.padEnd(16)} ${fmt(wire, 1).padStart(7)} B/event (gateway counted ${fmt(m(g => g.counted), 1)}), ${fmt(m(g => g.before), 1)} before compression (${fmt(m(g => g.before) / wire, 1)}x), ` +
      `${fmt(m(g => g.requests))} requests, gateway CPU ${fmt(cpu, 1)} µs/event, receiver CPU ${fmt(m(g => g.receiverCpu), 1)} µs/event, ` +
      `${lost === 0 ? 'nothing lost' : `!! ${lost} LOST`}${vs}`)
  }
  const gz = results.get(GZIP_100)
  const structured = results.get(BASELINE)
  if (gz !== undefined && structured !== undefined) {
    const ratio = gz.wire / structured.wire
    console.log(`${GZIP_100}: ${fmt(gz.wire, 1)} B/event, 1/${fmt(1 / ratio, 1)} of structured mode's ${fmt(structured.wire, 1)} (target at most 1/8): ${ratio <= 1 / 8 ? 'met' : 'NOT met'}`)
  }
} finally {
  await receiver.close()
  await rm(dir, { recursive: true, force: true })
}
