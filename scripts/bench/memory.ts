/**
 * bench:memory — RSS of a gateway holding a 1,000,000-event backlog for a
 * bridge, against the same gateway with an empty log, in one run. The bridge's
 * upstream is down (connection refused), so the backlog is held and retried.
 *
 *   npm run bench:memory [-- --records 1000000 --samples 10]
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { startServer } from './child.js'
import { fill } from './open.js'
import { fmt, median, mib } from './stats.js'

const { values } = parseArgs({ options: { records: { type: 'string', default: '1000000' }, samples: { type: 'string', default: '10' }, rounds: { type: 'string', default: '3' } } })
const records = Number(values.records)
const samples = Number(values.samples)
const rounds = Number(values.rounds)
const DOWN = 'http://127.0.0.1:9/events' // discard port: nothing listens, connections are refused

async function measure (dataDir: string): Promise<{ rss: number, peak: number }> {
  const server = await startServer(['flowgate', dataDir, 'sync', DOWN])
  await sleep(2000) // settle: bridge started, first batch read, retrying
  const rss: number[] = []
  for (let i = 0; i < samples; i++) {
    await sleep(300)
    rss.push((await server.stats()).rss)
  }
  const { maxRss } = await server.stats()
  await server.stop()
  return { rss: median(rss), peak: maxRss }
}

const empty = await mkdtemp(join(tmpdir(), 'flowgate-mem-empty-'))
const full = await mkdtemp(join(tmpdir(), 'flowgate-mem-full-'))
try {
  const t0 = performance.now()
  const bytes = await fill(join(full, 'data'), records)
  console.log(`bench:memory  backlog of ${fmt(records)} records (${mib(bytes)}), filled in ${fmt((performance.now() - t0) / 1000, 1)} s; upstream down`)
  const ratios: number[] = []
  for (let r = 0; r < rounds; r++) {
    const e = await measure(join(empty, 'data'))
    const f = await measure(join(full, 'data'))
    ratios.push(f.rss / e.rss)
    console.log(`  round ${r + 1}: RSS empty log ${mib(e.rss)} (peak ${mib(e.peak)}), with backlog ${mib(f.rss)} (peak ${mib(f.peak)}), ratio ${fmt(f.rss / e.rss, 3)}`)
  }
  console.log(`median RSS ratio backlog/empty: ${fmt(median(ratios), 3)} (target <= 1.10)`)
} finally {
  await rm(empty, { recursive: true, force: true })
  await rm(full, { recursive: true, force: true })
}
