/** Fills a data directory's event log straight through storage (no broker): the drain benchmark's backlog. */
import { EventLog, Store } from '../../storage/index.js'

const GROUP = 1000 // records per commit, like a busy group commit

/** The drain benchmark's payload: small JSON (about 60 bytes). */
export function smallReading (k: number): Buffer {
  return Buffer.from(`{"temp":${(20 + (k % 97) / 10).toFixed(1)},"hum":${40 + (k % 31)},"bat":3.${k % 10}7,"n":${k}}`)
}

/** Appends `count` telemetry records (`payload(k)`, by default smallReading) from 50 devices. */
export async function fillLog (dataDir: string, count: number, payload: (k: number) => Buffer = smallReading): Promise<{ bytes: number, seconds: number }> {
  const started = performance.now()
  const store = await Store.open(dataDir)
  const log = await EventLog.open(store, { durability: 'async', maxAgeMs: 0, maxBytes: 0, whenFull: 'drop-oldest' })
  const topics = Array.from({ length: 50 }, (_, d) => `devices/th-${d}/telemetry`)
  for (let done = 0; done < count;) {
    const n = Math.min(GROUP, count - done)
    await new Promise<void>((resolve, reject) => {
      for (let i = 0; i < n; i++) {
        const k = done + i
        const d = k % 50
        log.append({ topic: topics[d] as string, payload: payload(k), qos: 1, retain: false, clientId: `th-${d}` },
          i === n - 1 ? err => { if (err !== null) reject(err); else resolve() } : undefined)
      }
    })
    done += n
  }
  const bytes = log.stats().bytes
  await log.close()
  await store.close()
  return { bytes, seconds: (performance.now() - started) / 1000 }
}
