/** Time to open a store and its log: empty, and holding N records. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EventLog, Store } from '../../storage/index.js'
import { median } from './stats.js'

const logOptions = { durability: 'async', maxAgeMs: 0, maxBytes: 0, whenFull: 'drop-oldest' } as const

async function openOnce (dir: string): Promise<number> {
  const started = performance.now()
  const store = await Store.open(dir)
  const log = await EventLog.open(store, logOptions)
  const ms = performance.now() - started
  await log.close()
  await store.close()
  return ms
}

/** Appends `count` records of 64-256 bytes in commit groups of 1000. */
export async function fill (dir: string, count: number): Promise<number> {
  const store = await Store.open(dir)
  const log = await EventLog.open(store, logOptions)
  const payload = Buffer.alloc(128, 0x62)
  for (let done = 0; done < count;) {
    const n = Math.min(1000, count - done)
    await new Promise<void>((resolve, reject) => {
      for (let i = 0; i < n; i++) {
        log.append({ topic: `devices/th-${i % 50}/telemetry`, payload: payload.subarray(0, 64 + (i % 193)), qos: 1, retain: false, clientId: `th-${i % 50}` },
          i === n - 1 ? err => err !== null ? reject(err) : resolve() : undefined)
      }
    })
    done += n
  }
  const bytes = log.stats().bytes
  await log.close()
  await store.close()
  return bytes
}

export async function measureOpen (records: number, samples = 5): Promise<{ emptyMs: number, fullMs: number, fillSeconds: number, bytes: number, samples: number }> {
  const emptyDir = await mkdtemp(join(tmpdir(), 'flowgate-open-empty-'))
  const fullDir = await mkdtemp(join(tmpdir(), 'flowgate-open-full-'))
  try {
    const t0 = performance.now()
    const bytes = await fill(fullDir, records)
    const fillSeconds = (performance.now() - t0) / 1000
    await openOnce(emptyDir)
    const empty: number[] = []
    const full: number[] = []
    for (let i = 0; i < samples; i++) {
      empty.push(await openOnce(emptyDir))
      full.push(await openOnce(fullDir))
    }
    return { emptyMs: median(empty), fullMs: median(full), fillSeconds, bytes, samples }
  } finally {
    await rm(emptyDir, { recursive: true, force: true })
    await rm(fullDir, { recursive: true, force: true })
  }
}
