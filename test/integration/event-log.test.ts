import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { EventLog, Store, type DropEvent, type EventLogOptions } from '../../storage/index.js'
import { tempDir, type TestContext } from '../helpers/gateway.js'

interface Opts { maxAgeMs?: number, maxBytes?: number, whenFull?: 'drop-oldest' | 'reject-new', now?: () => number, elapsed?: () => number, boot?: EventLogOptions['boot'], clockSynced?: EventLogOptions['clockSynced'], commitWindowMs?: number }

async function openLog (t: TestContext, dir: string, o: Opts = {}): Promise<{ store: Store, log: EventLog }> {
  const store = await Store.open(dir)
  const log = await EventLog.open(store, { durability: 'sync', maxAgeMs: o.maxAgeMs ?? 0, maxBytes: o.maxBytes ?? 0, whenFull: o.whenFull ?? 'drop-oldest', ...(o.now !== undefined ? { now: o.now } : {}), ...(o.elapsed !== undefined ? { elapsed: o.elapsed } : {}), ...(o.boot !== undefined ? { boot: o.boot } : {}), ...(o.clockSynced !== undefined ? { clockSynced: o.clockSynced } : {}), ...(o.commitWindowMs !== undefined ? { commitWindowMs: o.commitWindowMs } : {}) })
  t.teardown(async () => { await log.close(); await store.close() })
  return { store, log }
}

/**
 * A first run of the log in a process of its own, killed (no close) after `body`, which sees
 * `log`, `append(payload)`, `wall` and `elapsed` (the clocks, from 2026-01-01 and 0; the boot is
 * 'boot-1', its monotonic clock `elapsed`) and `out(value)` (returned here).
 */
async function firstRunKilled (t: Test, dir: string, body: string): Promise<unknown> {
  const script = `
    import { EventLog, Store } from ${JSON.stringify(new URL('../../storage/index.js', import.meta.url).href)}
    let wall = ${Date.parse('2026-01-01T00:00:00Z')}, elapsed = 0, result = null
    const out = value => { result = value }
    const store = await Store.open(${JSON.stringify(dir)})
    const log = await EventLog.open(store, { durability: 'sync', maxAgeMs: ${7 * 24 * 60 * 60_000}, now: () => wall, elapsed: () => elapsed, boot: () => ({ id: 'boot-1', monotonicMs: elapsed }) })
    const append = async p => await new Promise((resolve, reject) => log.append({ topic: 't', payload: Buffer.from(p), qos: 1, retain: false, clientId: 'c' }, (err, seq) => err ? reject(err) : resolve(seq)))
    ${body}
    console.log(JSON.stringify(result))
    process.kill(process.pid, 'SIGKILL')`
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  t.equal(child.signal, 'SIGKILL', `the first run was killed: ${child.stderr}`)
  return JSON.parse(child.stdout) as unknown
}

async function append (log: EventLog, topic: string, payload: string | Buffer): Promise<number> {
  return await new Promise<number>((resolve, reject) => log.append(
    { topic, payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload), qos: 1, retain: false, clientId: 'c' },
    (err, seq) => err !== null ? reject(err) : resolve(seq as number)))
}

t.test('appends arriving together are committed as one group, callbacks in order', async t => {
  const { log } = await openLog(t, await tempDir(t))
  const commits: number[] = []
  log.on('commit', (e: { records: number }) => commits.push(e.records))
  const order: number[] = []
  const all = []
  for (let i = 0; i < 100; i++) all.push(append(log, 't', String(i)).then(seq => { order.push(seq); return seq }))
  const seqs = await Promise.all(all)
  t.same(seqs, [...Array(100).keys()].map(i => i + 1))
  t.same(order, seqs, 'callbacks run in append order')
  t.equal(commits.length, 1, 'one LevelDB write for appends of one tick')
})

t.test('a commit window gathers appends that arrive one by one into one write; flush and close do not wait for it', async t => {
  const dir = await tempDir(t)
  const { log } = await openLog(t, dir, { commitWindowMs: 60_000 })
  const commits: number[] = []
  log.on('commit', (e: { records: number }) => commits.push(e.records))
  const acked: number[] = []
  const all: Array<Promise<number>> = []
  for (let i = 0; i < 20; i++) {
    all.push(append(log, 't', String(i)).then(seq => { acked.push(seq); return seq }))
    // each append in a turn of the event loop of its own: without a window, most would be written alone
    await new Promise(resolve => setImmediate(resolve))
  }
  t.same(commits, [], 'nothing is written while the window is open')
  t.same(acked, [], 'and nothing is acknowledged')
  t.ok(log.pendingBytes > 0, 'the group waits in memory')
  await log.flush()
  t.same(commits, [20], 'flush writes the group at once, as one write')
  t.same(await Promise.all(all), [...Array(20).keys()].map(i => i + 1), 'acknowledged in order')

  // a window that passes by itself
  log.setRetention({ commitWindowMs: 20 })
  const more = await Promise.all([append(log, 't', 'a'), append(log, 't', 'b'), append(log, 't', 'c')])
  t.same(more, [21, 22, 23])
  t.same(commits, [20, 3], 'the window ended and wrote its group')

  // close writes what waits, as flush does
  log.setRetention({ commitWindowMs: 60_000 })
  const last = append(log, 't', 'last')
  await log.close()
  t.equal(await last, 24, 'close writes the group waiting in its window')
  t.same(commits, [20, 3, 1])
})

t.test('a group that reaches 256 KiB is written at once, whatever the window', async t => {
  const { log } = await openLog(t, await tempDir(t), { commitWindowMs: 60_000 })
  const commits: number[] = []
  log.on('commit', (e: { records: number }) => commits.push(e.records))
  const payload = Buffer.alloc(64 * 1024, 1)
  const seqs = await Promise.all([...Array(4).keys()].map(async () => await append(log, 't', payload)))
  t.same(seqs, [1, 2, 3, 4], 'acknowledged without a flush')
  t.same(commits, [4])
})

t.test('read from any sequence number, across batches', async t => {
  const { log } = await openLog(t, await tempDir(t))
  for (let b = 0; b < 5; b++) {
    await Promise.all([...Array(10).keys()].map(i => append(log, 't', `${b}-${i}`)))
  }
  t.same((await log.read(23, 5)).map(r => r.payload.toString()), ['2-2', '2-3', '2-4', '2-5', '2-6'])
  t.same((await log.read(48, 100)).map(r => r.seq), [48, 49, 50])
  t.same(await log.read(51, 10), [])
  t.equal((await log.read(0, 1000)).length, 50)
})

t.test('reads are the same whether or not a reader follows the tail', async t => {
  // the newest records are kept in memory only while some reader reads or waits; a reader that
  // stops and comes back must get the same records as from disk, gaps included
  let now = 1_000_000
  const { log } = await openLog(t, await tempDir(t), { now: () => now })
  const group = async (n: number): Promise<void> => {
    await Promise.all([...Array(n).keys()].map(async () => await append(log, 't', 'r')))
  }
  const seqs = async (from: number, limit: number): Promise<number[]> => (await log.read(from, limit)).map(r => r.seq)
  const payloadsMatch = async (from: number, limit: number): Promise<boolean> =>
    (await log.read(from, limit)).every((r, i) => r.seq === from + i && r.payload.toString() === 'r' && r.topic === 't')
  await group(10) // 1-10, nobody following
  t.same(await seqs(1, 100), [...Array(10).keys()].map(i => i + 1), 'first read, from disk')
  await group(10) // 11-20, read by a follower
  t.same(await seqs(11, 100), [...Array(10).keys()].map(i => i + 11), 'at the tail')
  t.same(await seqs(5, 8), [5, 6, 7, 8, 9, 10, 11, 12], 'across what was read from disk and what is in memory')
  now += 60_000 // the reader goes away
  await group(10) // 21-30
  now += 1
  await group(5) // 31-35
  t.same(await seqs(21, 100), [...Array(15).keys()].map(i => i + 21), 'records committed while nobody followed')
  await group(5) // 36-40, the reader is back
  t.same(await seqs(21, 100), [...Array(20).keys()].map(i => i + 21), 'a range reaching back before the reader returned')
  t.same(await seqs(38, 2), [38, 39])
  t.same(await seqs(41, 10), [], 'nothing past the end')
  const waiting = log.waitFor(41) // a reader waiting through a quiet minute still follows
  now += 60_000
  await group(5) // 41-45
  await waiting
  t.same(await seqs(41, 100), [41, 42, 43, 44, 45], 'records the waiting reader was woken for')
  t.ok(await payloadsMatch(1, 100), 'every record carries its own contents')
})

t.test('seek to a time without scanning', async t => {
  let now = 1_000_000
  const { log } = await openLog(t, await tempDir(t), { now: () => now })
  for (let i = 0; i < 20; i++) {
    now += 1000
    await append(log, 't', String(i)) // record i at 1_001_000 + i*1000
  }
  t.equal(await log.seekTime(0), 1)
  t.equal(await log.seekTime(1_001_000), 1)
  t.equal(await log.seekTime(1_005_500), 6, 'first record at or after the time')
  t.equal(await log.seekTime(1_006_000), 6)
  t.equal(await log.seekTime(9_999_999), 21, 'after the end: the next sequence number')
})

t.test('waitFor resolves when a record is committed (tail)', async t => {
  const { log } = await openLog(t, await tempDir(t))
  const waiting = log.waitFor(1)
  let done = false
  void waiting.then(() => { done = true })
  await new Promise(resolve => setImmediate(resolve))
  t.equal(done, false, 'nothing yet')
  await append(log, 't', 'x')
  await waiting
  t.equal(done, true)
  const ac = new AbortController()
  const aborted = log.waitFor(5, ac.signal)
  ac.abort()
  await aborted
  t.pass('an aborted wait resolves')
})

t.test('a wait ends with its record or with its cancel, whichever comes first', async t => {
  const { log } = await openLog(t, await tempDir(t))
  const settled = (p: Promise<void>): Promise<boolean> => Promise.race([p.then(() => true), new Promise<boolean>(resolve => setImmediate(() => resolve(false)))])
  const first = log.wait(1)
  const second = log.wait(2)
  t.equal(await settled(first.done), false, 'nothing committed yet')
  await append(log, 't', 'x')
  t.equal(await settled(first.done), true, 'record 1 ends the wait for it')
  t.equal(await settled(second.done), false, 'the wait for record 2 goes on')
  first.cancel() // over already: nothing happens
  second.cancel()
  t.equal(await settled(second.done), true, 'cancel ends it')
  await append(log, 't', 'y')
  t.equal(await settled(log.wait(2).done), true, 'a wait for a committed record is over at once')
  const third = log.wait(3)
  await log.close()
  t.equal(await settled(third.done), true, 'closing the log ends every wait')
  t.equal(await settled(log.wait(10).done), true, 'and a closed log has no waits')
})

t.test('age retention removes old records, counts them and keeps sequence numbers', async t => {
  let now = 0
  const dir = await tempDir(t)
  const { log, store } = await openLog(t, dir, { maxAgeMs: 10_000, now: () => now })
  const drops: DropEvent[] = []
  log.on('drop', (e: DropEvent) => drops.push(e))
  for (let i = 0; i < 10; i++) { now = i * 1000; await append(log, 't', String(i)) }
  now = 15_500 // records at 0..5000 are older than 10s
  t.equal(await log.sweep(), 6)
  t.same((await log.read(0, 100)).map(r => r.payload.toString()), ['6', '7', '8', '9'])
  const s = log.stats()
  t.equal(s.firstSeq, 7)
  t.equal(s.records, 4)
  t.equal(s.drops.maxAge, 6)
  t.same(drops, [{ reason: 'maxAge', records: 6, fromSeq: 1, toSeq: 6 }])
  now = 100_000
  t.equal(await log.sweep(), 4, 'everything expires')
  t.equal(log.stats().records, 0)
  await log.close()
  await store.close()

  const again = await openLog(t, dir, { now: () => now })
  t.equal(again.log.stats().drops.maxAge, 10, 'drop counters survive a restart')
  t.equal(await append(again.log, 't', 'new'), 11, 'an emptied log never reuses a sequence number')
})

t.test('a step of the system clock ages nothing: what this run stored is aged from when it arrived', async t => {
  // a Pi has no battery-backed clock: it starts at the time it last saved (or 1970) and steps to the
  // right time once it reaches a time server, typically when the uplink returns
  let wall = Date.parse('2026-01-01T00:00:00Z')
  let elapsed = 0
  const steps: Array<{ stepMs: number }> = []
  const { log } = await openLog(t, await tempDir(t), { maxAgeMs: 60 * 60_000, now: () => wall, elapsed: () => elapsed })
  log.on('clock-step', (e: { stepMs: number }) => steps.push(e))
  t.equal(await log.sweep(), 0)
  for (let i = 0; i < 10; i++) { wall += 1000; elapsed += 1000; await append(log, 't', String(i)) }

  const DAY = 24 * 60 * 60_000
  // 10 s pass, and the clock is set 30 days forward
  wall += 10_000 + 30 * DAY
  elapsed += 10_000
  t.equal(await log.sweep(), 0, 'no record is older than an hour: none is dropped')
  t.equal(log.stats().records, 10, 'every record is kept')
  t.same(steps.map(s => s.stepMs), [30 * DAY], 'the step is reported once, with its size')
  const after = await append(log, 't', 'after')
  t.equal(log.timeShift(1), 30 * DAY, 'a record stored before the step reads 30 days later on today\'s clock')
  t.equal(log.timeShift(after), 0, 'one stored after it, as stored')
  // record i (seq i + 1) arrived 19 - i seconds ago, and is stored with a time 30 days earlier
  t.equal(await log.seekTime(wall - 15_500), 5, 'seeking a time finds the records stored before the step by when they arrived')
  t.equal(await log.seekTime(wall - 60 * 60_000), 1, 'an hour ago is before them all')
  t.equal(await log.seekTime(wall), after, 'and now is after them')

  wall += 2 * 60 * 60_000 // two hours later, by both clocks
  elapsed += 2 * 60 * 60_000
  t.equal(await log.sweep(), 11, 'records age by the time since they arrived')
  t.equal(steps.length, 1, 'time passing is no step')
})

t.test('a step of the system clock is remembered across a restart: the backlog from before it is not aged out', async t => {
  // the clock is set while a backlog waits for the uplink; then the gateway restarts (a crash, an
  // upgrade, a change that needs a restart) before the backlog is delivered
  const DAY = 24 * 60 * 60_000
  const dir = await tempDir(t)
  const start = Date.parse('2026-01-01T00:00:00Z')
  // the first run, in a process of its own: ten records, the clock set 30 days forward, one more
  // record, and the process killed (no close)
  const { after, shift } = await firstRunKilled(t, dir, `
    for (let i = 0; i < 10; i++) { wall += 1000; elapsed += 1000; await append(String(i)) }
    wall += ${30 * DAY}
    out({ after: await append('after'), shift: log.timeShift(1) })`) as { after: number, shift: number }
  t.equal(shift, 30 * DAY, 'the first run read its records 30 days later')

  // the next run starts on the right clock, an hour later
  let wall = start + 10_000 + 30 * DAY + 60 * 60_000
  let elapsed = 0
  const steps: unknown[] = []
  const second = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, elapsed: () => elapsed })
  second.log.on('clock-step', e => steps.push(e))
  t.equal(second.log.timeShift(1), 30 * DAY, 'a record stored before the step still reads 30 days later')
  t.equal(second.log.timeShift(after), 0, 'one stored after it, as stored')
  t.equal(await second.log.sweep(), 0, 'nothing is an hour old: nothing is dropped')
  t.equal(second.log.stats().records, 11, 'the backlog is kept')
  t.same(steps, [], 'the step is not reported again')

  // records still age: 7 days later they all expire, and the step is forgotten with them
  wall += 7 * DAY
  elapsed += 7 * DAY
  t.equal(await second.log.sweep(), 11, 'they age out when they are a week old')
  t.equal(second.log.timeShift(0), 0, 'the step is forgotten with them')
  await append(second.log, 't', 'new')
  await second.log.close()
  await second.store.close()
  const third = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, elapsed: () => elapsed })
  t.equal(third.log.timeShift(0), 0, 'a step no record predates is not kept')
})

t.test('a step of the system clock while the gateway was stopped, in the same boot, is noticed at the next open', async t => {
  const DAY = 24 * 60 * 60_000
  const dir = await tempDir(t)
  const start = Date.parse('2026-01-01T00:00:00Z')
  // the first run stores ten records on a clock 30 days behind, and is killed
  await firstRunKilled(t, dir, 'for (let i = 0; i < 10; i++) { wall += 1000; elapsed += 1000; await append(String(i)) }')
  // while the gateway is stopped (an hour), the clock is set 30 days forward; the machine is not restarted
  let wall = start + 10_000 + 60 * 60_000 + 30 * DAY
  const monotonic = 10_000 + 60 * 60_000
  const second = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, boot: () => ({ id: 'boot-1', monotonicMs: monotonic }) })
  const step = second.log.atOpen.clockStep
  t.equal(step?.stepMs, 30 * DAY, 'the step is found at the open')
  t.ok((step?.seq ?? 0) > 10, `it falls after the records stored (before ${step?.seq})`)
  t.equal(second.log.timeShift(1), 30 * DAY, 'the records stored before it read 30 days later')
  t.equal(await second.log.sweep(), 0, 'none is dropped: they are an hour old')
  await append(second.log, 't', 'after')
  await second.log.close()
  await second.store.close()

  // after a reboot: no step can be told, and the one found is remembered
  wall += 60_000
  const third = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, boot: () => ({ id: 'boot-2', monotonicMs: 5000 }) })
  t.equal(third.log.atOpen.clockStep, undefined, 'a new boot: no step is assumed')
  t.equal(third.log.timeShift(1), 30 * DAY, 'the step found before is kept')
  t.equal(await third.log.sweep(), 0)
  t.equal(third.log.stats().records, 11)
})

t.test('after a reboot, records stored by a clock never set from a time server are aged from the start that finds it set', async t => {
  const DAY = 24 * 60 * 60_000
  const dir = await tempDir(t)
  // the first boot: offline since it started, its clock 30 days behind and never set; ten records, a minute apart
  let wall = Date.parse('2026-01-01T00:00:00Z')
  const first = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, boot: () => ({ id: 'boot-1', monotonicMs: 1000 }), clockSynced: () => false })
  for (let i = 0; i < 10; i++) {
    wall += 60_000
    await append(first.log, 't', String(i))
  }
  t.equal(await first.log.sweep(), 0)
  await first.log.close()
  await first.store.close()

  // a reboot 10 minutes later; the uplink is back and the clock was set before the gateway started
  wall += 30 * DAY + 10 * 60_000
  const second = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, boot: () => ({ id: 'boot-2', monotonicMs: 1000 }), clockSynced: () => true })
  const step = second.log.atOpen.clockStep
  t.equal(step?.found, 'unsynced', 'the open says the records were stored by a clock never set')
  t.equal(step?.stepMs, 30 * DAY + 10 * 60_000, 'the newest record reads as stored at this start')
  t.equal(second.log.timeShift(1), 30 * DAY + 10 * 60_000, 'the others as far before it as their times say')
  t.equal(await second.log.sweep(), 0, 'none is dropped by the age limit (7 days)')
  t.equal(second.log.stats().records, 10)
  await append(second.log, 't', 'after')
  await second.log.close()
  await second.store.close()

  // a later boot with the clock set, before and now: nothing more is assumed, and the age limit applies
  wall += 8 * DAY
  const third = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, boot: () => ({ id: 'boot-3', monotonicMs: 1000 }), clockSynced: () => true })
  t.equal(third.log.atOpen.clockStep, undefined, 'a boot whose clock was set: its records\' times are trusted')
  t.equal(await third.log.sweep(), 11, 'eight days on, every record is past the age limit')
})

/**
 * A first boot stores five records and closes; while it runs, the time service reports `seen` in
 * turn (the first at the open, each later one at a retention sweep). Then a second boot opens the
 * log 30 days later with the service reporting `now`.
 */
async function rebootAfter (t: Test, seen: Array<boolean | undefined>, now: boolean | undefined): Promise<EventLog> {
  const DAY = 24 * 60 * 60_000
  const dir = await tempDir(t)
  let wall = Date.parse('2026-01-01T00:00:00Z')
  let synced = seen[0]
  const first = await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, boot: () => ({ id: 'boot-1', monotonicMs: 1000 }), clockSynced: () => synced })
  for (let i = 0; i < 5; i++) await append(first.log, 't', String(i))
  for (const state of seen.slice(1)) {
    synced = state
    await first.log.sweep()
  }
  await first.log.close()
  await first.store.close()

  wall += 30 * DAY
  return (await openLog(t, dir, { maxAgeMs: 7 * DAY, now: () => wall, boot: () => ({ id: 'boot-2', monotonicMs: 1000 }), clockSynced: () => now })).log
}

t.test('a clock found not set only after the open (the time service started later) counts at the next boot', async t => {
  // unknown at the open, then not set; then the service stops again: what was learnt is kept
  const second = await rebootAfter(t, [undefined, false, undefined], true)
  t.equal(second.atOpen.clockStep?.found, 'unsynced', 'the records of the first boot were stamped by a clock never set')
  t.equal(await second.sweep(), 0, 'none is dropped')
})

t.test('after a reboot, records stored once the clock was set are aged by their times; so are those where that cannot be told', async t => {
  for (const [name, before, after] of [['set while the log was open', false, true], ['not known', undefined, true], ['not known now', false, undefined], ['set then unknown', true, undefined]] as const) {
    // the clock is set with no step (it was right), or its state changes: the retention sweep notes it
    const second = await rebootAfter(t, [before, after], after)
    t.equal(second.atOpen.clockStep, undefined, `${name}: no step is assumed`)
    t.equal(await second.sweep(), 5, `${name}: records 30 days old are past the age limit`)
  }
})

t.test('drop-oldest keeps the log within its byte budget', async t => {
  const { log } = await openLog(t, await tempDir(t), { maxBytes: 20_000, whenFull: 'drop-oldest' })
  const drops: DropEvent[] = []
  log.on('drop', (e: DropEvent) => drops.push(e))
  const payload = Buffer.alloc(1000, 1)
  for (let i = 0; i < 100; i++) await append(log, 't', payload)
  await log.flush()
  const s = log.stats()
  t.ok(s.bytes <= 20_000, `log bytes ${s.bytes} within budget`)
  t.ok(s.records >= 15, `recent records kept (${s.records})`)
  t.equal(s.drops.maxBytes, 100 - s.records, 'every dropped record is counted')
  t.equal(drops.reduce((n, d) => n + d.records, 0), s.drops.maxBytes, 'and reported')
  const kept = await log.read(0, 1000)
  t.equal(kept[0]?.seq, s.firstSeq)
  t.equal(kept[kept.length - 1]?.seq, 100, 'the newest records are the ones kept')
})

t.test('reject-new refuses appends once the budget is reached, and counts them', async t => {
  const { log } = await openLog(t, await tempDir(t), { maxBytes: 10_000, whenFull: 'reject-new' })
  const payload = Buffer.alloc(1000, 1)
  let accepted = 0
  let refused = 0
  for (let i = 0; i < 30; i++) {
    await append(log, 't', payload).then(() => accepted++, (err: { code?: string }) => {
      t.equal(err.code, 'FG_ERR_STORE_FULL')
      refused++
    })
  }
  t.ok(accepted >= 5 && accepted < 11, `accepted ${accepted} until full`)
  t.equal(refused, 30 - accepted)
  t.equal(log.stats().drops.rejected, refused)
  t.equal(log.stats().drops.maxBytes, 0, 'nothing already stored was dropped')
  t.same((await log.read(0, 100)).map(r => r.seq), [...Array(accepted).keys()].map(i => i + 1))
})

t.test('a read under way when its segment is closed (a held write retried, the reader cache) still returns every batch', async t => {
  const { Segment } = await import('../../storage/log/segment.js')
  const { seqKey } = await import('../../storage/keys.js')
  const seg = new Segment(join(await tempDir(t), '000000000001'), 1, { writeBufferSize: 4 * 1024 * 1024 })
  await seg.create()
  t.teardown(async () => await seg.close())
  for (let seq = 1; seq <= 3; seq++) await seg.put(seqKey(seq), Buffer.from(`batch ${seq}`), true)
  // the segment is closed while the read waits for each of its steps in turn
  for (let step = 0; step < 4; step++) {
    const reading = (async () => {
      const seen: number[] = []
      for await (const b of seg.batches(1)) seen.push(b.seq)
      return seen
    })()
    for (let i = 0; i < step; i++) await Promise.resolve()
    await seg.close()
    t.same(await reading, [1, 2, 3], `closed after ${step} turns: every batch read`)
  }
  const closing = seg.close()
  t.same(await seg.lastBatch(), { seq: 3, value: Buffer.from('batch 3') }, 'the newest batch, read while the segment closes')
  await closing
  const keys = seg.keys()
  await seg.close()
  t.same(await keys, [1, 2, 3], 'its keys, read while it closed')
})
