/**
 * A torn or damaged store, on a copy of a gateway's data after it stopped: the newest write-ahead
 * log cut short (a power cut on a disk that lied about its writes), bytes flipped inside a LevelDB
 * table. Each time the gateway starts without a stack trace, says what was lost, delivers every
 * record that is still readable and no altered one, and never issues an id twice.
 */
import { cp, open, readdir, stat, truncate } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import mqtt from 'mqtt'
import { runCli, startChild, writeConfig, type ChildGateway } from '../helpers/child.js'
import { eventually, tempDir, type TestContext } from '../helpers/gateway.js'
import { ControlledReceiver, seqOf } from '../helpers/receiver-control.js'
import { EventLog, Store } from '../../storage/index.js'
import { systemBootClock } from '../../storage/log/base.js'

const PAD = 'x'.repeat(120)

async function publish (port: number, from: number, count: number): Promise<void> {
  const clients = await Promise.all(Array.from({ length: 4 }, async (_, c) => await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `dev-${c}`, reconnectPeriod: 0 })))
  let next = from
  await Promise.all(clients.map(async client => {
    await Promise.all(Array.from({ length: 8 }, async () => {
      while (next < from + count) {
        const i = next++
        await client.publishAsync('dmg/a', JSON.stringify({ i, pad: PAD }), { qos: 1 })
      }
    }))
  }))
  await Promise.all(clients.map(async c => await c.endAsync()))
}

async function adminUrl (gw: ChildGateway): Promise<string> {
  return String((await gw.waitForLog(e => e.event === 'admin-listening', true)).url)
}

async function status (url: string): Promise<{ log: { lastSeq: number, drops: Record<string, number> }, bridges: Array<{ name: string, cursor: number }> }> {
  return await (await fetch(`${url}/api/status`)).json() as Awaited<ReturnType<typeof status>>
}

/** The newest segment that holds records (the one after it may be made ahead of need, still empty). */
async function newestSegment (dataDir: string): Promise<string> {
  const names = (await readdir(join(dataDir, 'events'))).filter(n => /^\d{12}$/.test(n)).sort().reverse()
  for (const name of names) {
    const dir = join(dataDir, 'events', name)
    let bytes = 0
    for (const file of await readdir(dir)) if (/\.(log|ldb)$/.test(file)) bytes += (await stat(join(dir, file))).size
    if (bytes > 0) return dir
  }
  throw new Error('no segment holds records')
}

async function stopped (gw: ChildGateway, signal: NodeJS.Signals): Promise<void> {
  gw.proc.kill(signal)
  await gw.exited
}

const bridge = (url: string): string => `bridges:
  - name: up
    topics: ["dmg/#"]
    start: earliest
    sink: { url: ${JSON.stringify(url)}, mode: batch }
    retry: { initialDelay: 10ms, maxDelay: 200ms }
`

function parseLine (line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>
  } catch {
    return undefined
  }
}

/** The second life: on the damaged copy, with a bridge delivering everything from the start. */
async function restart (t: TestContext, dir: string, dataDir: string): Promise<{ gw: ChildGateway, admin: string, receiver: ControlledReceiver }> {
  const receiver = await ControlledReceiver.start(t)
  const gw = await startChild(t, await writeConfig(dir, dataDir, bridge(receiver.url('/events'))))
  return { gw, admin: await adminUrl(gw), receiver }
}

/** Every event delivered carries exactly what was published for its `i`. */
function unaltered (receiver: ControlledReceiver): { ok: boolean, count: number, seen: Set<number> } {
  const seen = new Set<number>()
  let ok = true
  for (const a of receiver.arrivals) {
    const data = a.event.data as { i?: unknown, pad?: unknown } | undefined
    if (typeof data?.i !== 'number' || data.pad !== PAD) ok = false
    else seen.add(data.i)
  }
  return { ok, count: receiver.firstArrivals().length, seen }
}

t.test('a write-ahead log cut short after kill -9: the gateway starts, keeps every readable record, and never issues an id twice', async t => {
  const dir = await tempDir(t)
  const data = join(dir, 'data')
  const gw = await startChild(t, await writeConfig(dir, data))
  await publish(gw.port, 0, 17_000)
  await stopped(gw, 'SIGKILL')

  const copy = join(dir, 'copy')
  await cp(data, copy, { recursive: true })
  const seg = await newestSegment(copy)
  const wal = (await readdir(seg)).filter(n => n.endsWith('.log')).sort().pop() as string
  const size = (await stat(join(seg, wal))).size
  await truncate(join(seg, wal), size - 300)
  t.comment(`cut ${wal} of ${seg} from ${size} bytes`)

  const again = await restart(t, dir, copy)
  t.notOk(again.gw.stderr.some(l => l.includes('    at ')), 'no stack trace')
  const unclean = await again.gw.waitForLog(e => e.event === 'unclean-stop', true)
  // the lost records are reported as such when the tail mark (written ~100 ms after the commits)
  // reached the disk before the kill; then the log's numbering ends past them
  const lost = again.gw.stderr.map(parseLine).find(e => e?.event === 'drop' && e.reason === 'corrupt')
  const kept = lost === undefined ? unclean.lastSeq as number : (lost.fromSeq as number) - 1
  t.ok(kept < 17_000, `it says where the readable log now ends (${kept}) and that the stop was unclean`)
  if (lost !== undefined) t.equal(lost.toSeq, unclean.lastSeq, `and that ${kept + 1}-${String(lost.toSeq)} were lost`)
  await publish(again.gw.port, 17_000, 100)
  const s = await status(again.admin)
  await again.receiver.untilDistinct(kept + 100)
  const { ok, seen } = unaltered(again.receiver)
  t.ok(ok, 'every delivered event is what was published')
  const seqs = again.receiver.firstArrivals().map(seqOf)
  t.same(seqs.slice(0, kept), Array.from({ length: kept }, (_, k) => k + 1), `every record still readable (1-${kept}) was delivered, in order`)
  const newSeqs = seqs.slice(kept)
  t.equal(newSeqs.length, 100, 'and the new publishes')
  t.ok(newSeqs.every(q => q > 17_000), `the new publishes got ids never issued before (from ${Math.min(...newSeqs)}, the lost ones ended at most at 17000)`)
  t.equal(seen.size, kept + 100)
  t.ok(s.log.lastSeq > 17_000, 'the log continues past every number issued before the stop')
  await stopped(again.gw, 'SIGTERM')
})

t.test('bytes flipped inside a LevelDB table: no altered record reaches the upstream, the loss is counted and said, the rest is delivered', async t => {
  const dir = await tempDir(t)
  const data = join(dir, 'data')
  const cfg = await writeConfig(dir, data)
  let gw = await startChild(t, cfg)
  await publish(gw.port, 0, 6_000)
  await stopped(gw, 'SIGTERM')
  // a second start that reads the segment opens it, and LevelDB turns its write-ahead log into a table
  gw = await startChild(t, cfg)
  const read = await (await fetch(`${await adminUrl(gw)}/api/events?fromSeq=1&limit=1`)).json() as { events: unknown[] }
  t.equal(read.events.length, 1, 'the log reads back after a clean stop')
  await stopped(gw, 'SIGTERM')

  const copy = join(dir, 'copy')
  await cp(data, copy, { recursive: true })
  const seg = await newestSegment(copy)
  const tables = (await readdir(seg)).filter(n => n.endsWith('.ldb'))
  let largest = ''
  let largestSize = 0
  for (const name of tables) {
    const size = (await stat(join(seg, name))).size
    if (size > largestSize) { largest = name; largestSize = size }
  }
  // 6,000 records of 140 bytes that compress well: how small the table is depends on how they were
  // grouped into commits
  t.ok(largestSize > 50_000, `the segment has a table (${largest}, ${largestSize} bytes)`)
  const fh = await open(join(seg, largest), 'r+')
  const at = Math.floor(largestSize / 2)
  const bytes = Buffer.alloc(32)
  await fh.read(bytes, 0, 32, at)
  for (let k = 0; k < 32; k++) bytes[k] = (bytes[k] as number) ^ 0xff
  await fh.write(bytes, 0, 32, at)
  await fh.close()

  const again = await restart(t, dir, copy)
  await publish(again.gw.port, 6_000, 10)
  await eventually('the bridge to deliver everything after the restart', async () => {
    const s = await status(again.admin)
    return (s.bridges.find(b => b.name === 'up')?.cursor ?? 0) >= s.log.lastSeq
  })
  const s = await status(again.admin)
  const { ok, count, seen } = unaltered(again.receiver)
  t.ok(ok, 'no altered record reached the upstream')
  const corrupt = s.log.drops.corrupt ?? 0
  t.ok(corrupt > 0, `the damaged records are counted as lost (${corrupt})`)
  t.equal(count + corrupt, 6_010, `every record is delivered or counted lost (${count} delivered)`)
  t.ok(seen.has(6_009) && seen.has(0), 'records on both sides of the damage arrived')
  const said = await again.gw.waitForLog(e => e.event === 'drop' && e.reason === 'corrupt', true)
  t.ok(typeof said.fromSeq === 'number', `the log says which records were lost (${String(said.fromSeq)}-${String(said.toSeq)})`)
  t.notOk(again.gw.stderr.some(l => l.includes('    at ')), 'no stack trace')
  await stopped(again.gw, 'SIGTERM')

  // the same damage found by hand on a stopped gateway, and not counted twice
  const copy2 = join(dir, 'copy2')
  await cp(data, copy2, { recursive: true })
  const seg2 = await newestSegment(copy2)
  const fh2 = await open(join(seg2, largest), 'r+')
  await fh2.write(bytes, 0, 32, at)
  await fh2.close()
  const cfg2 = await writeConfig(join(dir), copy2)
  const first = await runCli(['repair', '--config', cfg2])
  t.equal(first.code, 0, 'flowgate repair exits 0')
  t.match(first.stdout, /lost: sequence numbers \d+-\d+ \(\d+ records\)/, 'and prints what was lost')
  t.match(first.stdout, /result: damage found and repaired/)
  const second = await runCli(['repair', '--config', cfg2])
  t.match(second.stdout, /result: no damage found \(\d+ records lost to damage before\)/, 'a second run finds nothing new')
})

const bootClock = { skip: systemBootClock() === undefined ? 'this system has no boot id (/proc/sys/kernel/random/boot_id): a step made while stopped cannot be told' : false }

t.test('flowgate repair says so when the clock was set while the gateway was stopped', bootClock, async t => {
  const DAY = 86_400_000
  const dir = await tempDir(t)
  const data = join(dir, 'data')
  // a run on a clock 30 days behind, in this boot, stores a few records and stops
  const store = await Store.open(data)
  const log = await EventLog.open(store, { durability: 'sync', maxAgeMs: 7 * DAY, maxBytes: 0, whenFull: 'drop-oldest', now: () => Date.now() - 30 * DAY, boot: systemBootClock })
  for (let i = 0; i < 3; i++) {
    await new Promise<void>((resolve, reject) => log.append(
      { topic: 'dmg/a', payload: Buffer.from(String(i)), qos: 1, retain: false, clientId: 'c' },
      err => err !== null ? reject(err) : resolve()))
  }
  await log.close()
  await store.close()

  // the clock is now right: repair, run before the gateway starts again, finds the step and says so
  const cfg = await writeConfig(dir, data)
  const run = await runCli(['repair', '--config', cfg])
  t.equal(run.code, 0, 'flowgate repair exits 0')
  t.match(run.stdout, /clock: the system clock was set forward by 30\.0 d while the gateway was stopped/, 'it prints the step')
  t.match(run.stdout, /event log: 1 segments, 3 records readable/, 'and keeps every record')
})
