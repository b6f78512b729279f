/**
 * bench:wear — bytes written to the device per byte of record kept, at steady state with
 * retention churn: what wears an SD card.
 *
 *   npm run bench:wear [-- --budget 64MiB --durability sync --rate 0 --commit-window 0ms]
 *
 * A gateway with a byte budget and a batch bridge to a local receiver (caught up, as in a healthy
 * site) takes QoS 1 telemetry (a JSON object with a device id, a timestamp and four numbers) from
 * 10 publishers. Once the log has filled its budget (retention removes the oldest records from
 * then on), the bench writes twice the budget more and reads the gateway process's
 * `/proc/<pid>/io` `write_bytes` before and after: bytes that reached the block device, LevelDB's
 * write-ahead logs, tables, compactions and the state store included. The ratio is that over the
 * bytes of the records written meanwhile (payload, topic and client id). `--rate N` paces the
 * publishers to N messages per second in all (0: as fast as they go); by default both are run, the
 * paced one at 2,000 msg/s with a budget of at most 4 MiB, so it takes a minute or two, and with
 * `storage.commitWindow` 0ms, 1ms (the default), 20ms and 50ms (`--commit-window` runs one).
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import mqtt, { type MqttClient } from 'mqtt'
import { parseSize } from '../../config/index.js'
import { startServer } from './child.js'
import { startBenchReceiver } from './e2e-receiver.js'
import { fmt, mib } from './stats.js'

const { values } = parseArgs({
  options: {
    budget: { type: 'string', default: '64MiB' },
    durability: { type: 'string', default: 'sync' },
    rate: { type: 'string' },
    'commit-window': { type: 'string' }
  }
})
const budget = parseSize(values.budget)
const durability = values.durability === 'async' ? 'async' : 'sync'
const rates = values.rate === undefined ? [0, 2000] : [Number(values.rate)]
/** A flood fills groups by itself: the window matters to a paced stream. */
const windowsFor = (rate: number): string[] => values['commit-window'] !== undefined ? [values['commit-window']] : rate > 0 ? ['0ms', '1ms', '20ms', '50ms'] : ['0ms']
const PUBLISHERS = 10
const WINDOW = 32

async function writeBytes (pid: number): Promise<number> {
  const io = await readFile(`/proc/${pid}/io`, 'utf8')
  return Number(/write_bytes: (\d+)/.exec(io)?.[1] ?? NaN)
}

function telemetry (device: number, n: number): Buffer {
  return Buffer.from(JSON.stringify({
    device: `th-${String(device).padStart(4, '0')}`,
    ts: Date.now(),
    temperature: Math.round((20 + Math.sin(n / 50) * 5 + Math.random()) * 100) / 100,
    humidity: Math.round((45 + Math.random() * 10) * 10) / 10,
    pressure: Math.round((1013 + Math.random() * 8) * 10) / 10,
    battery: Math.round((3.7 - n / 1e7 + Math.random() / 50) * 1000) / 1000
  }))
}

/** Publishes until `bytes` of records were written; returns the record bytes written. */
async function publish (clients: MqttClient[], bytes: number, rate: number, counter: { n: number }): Promise<number> {
  let written = 0
  const started = performance.now()
  let sent = 0
  await Promise.all(clients.map(async (client, id) => {
    const topic = `sites/a/devices/th-${id}/telemetry`
    const lane = async (): Promise<void> => {
      while (written < bytes) {
        if (rate > 0) {
          const due = started + (sent++ / rate) * 1000
          const wait = due - performance.now()
          if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        }
        const payload = telemetry(id, counter.n++)
        written += payload.length + topic.length + `wear-${id}`.length
        await client.publishAsync(topic, payload, { qos: 1 })
      }
    }
    await Promise.all(Array.from({ length: WINDOW }, lane))
  }))
  return written
}

async function run (rate: number, budget: number, commitWindow: string): Promise<{ ratio: number, recordBytes: number, deviceBytes: number, seconds: number }> {
  const dir = await mkdtemp(join(tmpdir(), 'flowgate-wear-'))
  const receiver = await startBenchReceiver()
  const server = await startServer(['flowgate', join(dir, 'data'), durability, receiver.url, String(budget), commitWindow])
  const pid = server.proc.pid as number
  const clients: MqttClient[] = []
  try {
    for (let i = 0; i < PUBLISHERS; i++) clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${server.port}`, { clientId: `wear-${i}`, reconnectPeriod: 0 }))
    const counter = { n: 0 }
    // fill the budget, and a little more, so retention is removing records from here on
    await publish(clients, budget * 1.25, rate, counter)
    const before = await writeBytes(pid)
    const started = performance.now()
    const recordBytes = await publish(clients, budget * 2, rate, counter)
    const seconds = (performance.now() - started) / 1000
    const deviceBytes = await writeBytes(pid) - before
    return { ratio: deviceBytes / recordBytes, recordBytes, deviceBytes, seconds }
  } finally {
    await Promise.all(clients.map(async c => await c.endAsync(true)))
    await server.stop()
    await receiver.close()
    await rm(dir, { recursive: true, force: true })
  }
}

console.log(`bench:wear  budget ${mib(budget)}, durability ${durability}, ${PUBLISHERS} QoS 1 publishers of JSON telemetry, a batch bridge caught up`)
for (const rate of rates) {
  // a paced run writes less in the same time: a smaller budget keeps it to a minute or two
  const size = rate > 0 && values.rate === undefined ? Math.min(budget, 4 * 1024 * 1024) : budget
  for (const commitWindow of windowsFor(rate)) {
    const r = await run(rate, size, commitWindow)
    const what = `${rate > 0 ? `paced at ${fmt(rate)} msg/s` : 'as fast as the publishers go'}, budget ${mib(size)}, commitWindow ${commitWindow}`
    console.log(`  ${what}: ${mib(r.recordBytes)} of records in ${fmt(r.seconds, 1)} s, ${mib(r.deviceBytes)} written to the device: ${fmt(r.ratio, 2)} bytes written per byte kept (target <= 1.50)`)
  }
}
