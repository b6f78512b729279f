/**
 * GET /api/events is bounded in bytes: with 1,000 events of 250 KB in the log,
 * a request for 10,000 events returns at most 4 MiB and says where to go on,
 * and the gateway's memory stays where it was. The gateway runs as a child
 * process so that its resident memory can be read on its own.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import { startChild, writeConfig } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'
import { publishMany, within } from '../helpers/load.js'

const EVENTS = 1000
const SIZE = 250_000
const MiB = 1024 * 1024

async function rssMiB (pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]) / 1024
}

t.test('1,000 events of 250 KB: at most 4 MiB a response, paged to the end, memory within 100 MiB of before', async t => {
  const dir = await tempDir(t)
  const gw = await startChild(t, await writeConfig(dir, join(dir, 'data')))
  const pid = gw.proc.pid as number
  const { url } = await gw.waitForLog(e => e.event === 'admin-listening', true) as { url: string }
  const run = await within(300_000, `${EVENTS} events of ${SIZE} bytes to be logged`, publishMany(gw.port, { name: 'big', count: EVENTS, window: 8, size: SIZE }))
  t.equal(run.acked, EVENTS, 'all logged')

  const get = async (path: string): Promise<{ bytes: number, page: { lastSeq: number, nextSeq: number, truncated: boolean, events: Array<{ seq: number, payload: string }> } }> => {
    const res = await request(`${url}${path}`)
    const body = Buffer.from(await res.body.arrayBuffer())
    t.equal(res.statusCode, 200, path)
    return { bytes: body.length, page: JSON.parse(body.toString()) }
  }
  const before = await rssMiB(pid)
  t.comment((await readFile(`/proc/${pid}/status`, 'utf8')).split('\n').filter(l => /^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM)/.test(l)).join('; '))
  let peak = before
  // what took the gateway from 681 MiB to 4.9 GiB before responses were bounded in bytes
  for (let i = 0; i < 3; i++) {
    const { bytes, page } = await get('/api/events?limit=10000')
    t.ok(bytes <= 4 * MiB, `limit=10000: ${(bytes / MiB).toFixed(2)} MiB, ${page.events.length} events`)
    t.match(page, { truncated: true, nextSeq: page.events.length + 1 }, 'says it stopped short and where to go on')
    peak = Math.max(peak, await rssMiB(pid))
  }
  const seen: number[] = []
  let next = 1
  let pages = 0
  for (;;) {
    const { bytes, page } = await get(`/api/events?fromSeq=${next}&limit=10000`)
    t.ok(bytes <= 4 * MiB, `page ${++pages}: ${(bytes / MiB).toFixed(2)} MiB`)
    peak = Math.max(peak, await rssMiB(pid))
    seen.push(...page.events.map(e => e.seq))
    if (page.events.some(e => e.payload.length !== SIZE)) t.fail('an event arrived cut')
    if (page.nextSeq > page.lastSeq) break
    next = page.nextSeq
  }
  t.same(seen, Array.from({ length: EVENTS }, (_, i) => i + 1), 'every event once, in order, across the pages')
  t.comment(`gateway RSS ${before.toFixed(0)} MiB before the reads, at most ${peak.toFixed(0)} MiB during them (${pages} pages)`)
  t.comment((await readFile(`/proc/${pid}/status`, 'utf8')).split('\n').filter(l => /^(VmRSS|RssAnon|RssFile|RssShmem|VmHWM)/.test(l)).join('; '))
  t.ok(peak - before < 100, `memory stays within 100 MiB of before (+${(peak - before).toFixed(0)} MiB)`)
})
