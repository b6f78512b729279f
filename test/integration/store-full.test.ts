/**
 * A full disk, on a real small file system (a tmpfs of a few MiB): publishes wait unacknowledged,
 * the gateway stays up and says so (status, /readyz), and when space returns every acknowledged
 * message is stored and delivered, in order, without a restart.
 */
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { createGateway, type Gateway } from '../../gateway/index.js'
import { CursorStore, DeadLetterStore, Store, type DeadLetter } from '../../storage/index.js'
import { brokerUrl, connect, startGateway, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, seqOf } from '../helpers/receiver-control.js'
import { smallDisk, smallDiskSupport } from '../helpers/small-disk.js'
import { publishing, readyz, storeStatus, writable } from '../helpers/store-load.js'
import { eventually, within } from '../helpers/wait.js'

const MiB = 1024 * 1024
const support = await smallDiskSupport()
/** Tests that need a small disk are skipped, with the reason, where none can be mounted. */
const needsDisk = { skip: support === true ? false : support }

t.test('disk full mid-stream: publishes wait unacknowledged, the gateway stays up, and every acknowledged message is delivered once space returns', needsDisk, async t => {
  const d = await smallDisk(t, 24 * MiB)
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(join(d.dir, 'data'), `storage:
  whenFull: reject-new
  reserveFreeBytes: "0"
  maxPendingBytes: 64MiB
bridges:
  - name: up
    topics: ["load/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch }
    retry: { initialDelay: 10ms, maxDelay: 200ms }
`))
  const client = await connect(t, brokerUrl(gw), { clientId: 'loader' })
  const pub = publishing(client, 'load/a')
  await eventually('2000 acknowledged publishes', () => pub.acked.length >= 2000, { seen: () => pub.acked.length })
  t.equal(await readyz(gw), 200, 'ready before the disk fills')

  const unfill = await within(20_000, 'filling the disk', d.fill())
  await eventually('the store to report it cannot write', () => !writable(gw), { timeoutMs: 20_000, seen: () => [gw.log.writeCondition(), gw.store.writeCondition(), pub.acked.length] })
  const full = await storeStatus(gw)
  t.equal(full.state, 'full', 'status says the store is full')
  t.equal(full.code, 'ENOSPC', 'with the error code')
  t.equal(await readyz(gw), 503, '/readyz answers 503 while the store cannot write')
  await eventually('a publish waiting for its acknowledgement', () => pub.pending() > 0, { timeoutMs: 20_000 })
  const stalled = pub.acked.length
  t.ok(pub.pending() > 0, `${pub.pending()} publishes wait for their acknowledgement`)

  await unfill()
  await eventually('the store to write again once space returned', () => writable(gw), { timeoutMs: 20_000, seen: () => [gw.log.writeCondition(), gw.store.writeCondition()] })
  t.equal(await readyz(gw), 200, '/readyz answers 200 once space returned, without a restart')
  t.equal((await storeStatus(gw)).state, 'ok')
  await eventually(`${stalled + 2000} acknowledged publishes`, () => pub.acked.length >= stalled + 2000, { timeoutMs: 20_000, seen: () => pub.acked.length })
  await within(20_000, 'the publishers to stop', pub.stop())
  t.ok(pub.acked.length > stalled + 2000, `ingest continued after the disk freed (${pub.acked.length} acknowledged, ${stalled} before)`)

  await within(20_000, `${pub.acked.length} distinct events upstream`, receiver.untilDistinct(pub.acked.length))
  const first = receiver.firstArrivals()
  const delivered = new Set(first.map(e => (e.data as { i: number }).i))
  t.equal(pub.acked.filter(i => !delivered.has(i)).length, 0, 'every acknowledged publish was delivered upstream')
  const seqs = first.map(seqOf)
  t.ok(seqs.every((s, k) => k === 0 || s > (seqs[k - 1] as number)), 'in log order')
  const drops = gw.log.stats().drops
  t.same([drops.maxBytes, drops.reserveFreeBytes, drops.corrupt, drops.rejected], [0, 0, 0, 0], 'nothing dropped or refused')
  // the log's commits wait on the state store (their sequence numbers' reservation): either may fail first
  t.ok(gw.metrics !== undefined && (await gw.metrics.text()).match(/flowgate_store_write_errors_total\{store="(log|state)"\} [1-9]/) !== null, '/metrics counts the failed writes')
})

t.test('a full disk at start: the gateway waits for room instead of exiting, then starts and delivers', needsDisk, async t => {
  const d = await smallDisk(t, 8 * MiB)
  const receiver = await ControlledReceiver.start(t)
  const unfill = await d.fill()
  const lines: Array<{ event?: string }> = []
  const logger = pino({ level: 'info' }, new Writable({ write (chunk: Buffer, _enc, cb) { lines.push(JSON.parse(chunk.toString()) as { event?: string }); cb() } }))
  const loaded = testConfig(join(d.dir, 'data'), `storage: { reserveFreeBytes: "0" }
bridges:
  - name: up
    topics: ["start/#"]
    start: earliest
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch }
`)
  let started: Gateway | undefined
  const starting = createGateway(loaded.config, { logger }).then(gw => { started = gw; return gw })
  t.teardown(async () => { await (await starting).close() })
  await eventually('a store-full log line', () => lines.some(l => l.event === 'store-full'), { seen: () => lines.map(l => l.event) })
  t.equal(started, undefined, 'the gateway waits while the disk has no room')
  t.equal(lines.filter(l => l.event === 'store-full').length, 1, 'and says so once')
  await unfill()
  const gw = await starting
  const client = await connect(t, brokerUrl(gw), { clientId: 'late' })
  for (let i = 0; i < 100; i++) await client.publishAsync('start/a', JSON.stringify({ i }), { qos: 1 })
  await receiver.untilDistinct(100)
  t.equal(receiver.distinctIds().size, 100, 'every publish acknowledged after the start was delivered')
  t.equal(await readyz(gw), 200)
})

t.test('a gateway stopped while its disk is full stops: what waits for a write is given up, not waited for', needsDisk, async t => {
  const d = await smallDisk(t, 8 * MiB)
  const receiver = await ControlledReceiver.start(t)
  const gw = await startGateway(t, testConfig(join(d.dir, 'data'), `storage: { reserveFreeBytes: "0", whenFull: reject-new }
bridges:
  - name: up
    topics: ["stop/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch }
`))
  const client = await connect(t, brokerUrl(gw), { clientId: 'stopper' })
  const pub = publishing(client, 'stop/a', 4)
  await eventually('200 acknowledged publishes', () => pub.acked.length >= 200, { seen: () => pub.acked.length })
  await d.fill()
  await eventually('the store to report it cannot write', () => !writable(gw))
  const waiting = pub.pending()
  await gw.close()
  t.pass('the gateway stopped')
  t.ok(waiting > 0, `${waiting} publishes were never acknowledged (they were never stored)`)
  // their promises never settle: MQTT.js keeps an unacknowledged publish for a reconnect
  void pub.stop()
})

t.test('the state store stays readable while a write waits for room: reads answer at once, the write lands once space returns', needsDisk, async t => {
  const d = await smallDisk(t, 8 * MiB)
  const store = await Store.open(join(d.dir, 'state'))
  t.teardown(async () => await store.close())
  const cursors = new CursorStore(store)
  const dlq = new DeadLetterStore(store)
  await cursors.set('up', 41)
  const letter = (seq: number): DeadLetter => ({ seq, time: Date.now(), event: { id: `gw-${seq}`, specversion: '1.0', data: 'x'.repeat(64 * 1024) }, status: 400, body: 'rejected' })
  await dlq.add('up', [letter(1)])

  const unfill = await within(20_000, 'filling the disk', d.fill())
  let stored = false
  const held = dlq.add('up', [letter(2)]).then(() => { stored = true })
  await eventually('the state store to report the disk full', () => store.writeCondition().state === 'full', { timeoutMs: 20_000, seen: () => store.writeCondition() })
  // reads made through the first retries of the held write (they come at 50, 100, 200, 400 ms...)
  const answers: unknown[] = []
  for (const end = performance.now() + 1500; performance.now() < end;) {
    answers.push(await cursors.get('up').catch((err: Error) => err.message))
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  t.same([...new Set(answers)], [41], `a cursor is read while the disk is full (${answers.length} reads over 1.5 s)`)
  t.same((await within(5_000, 'a dead-letter list while a write waits', dlq.list('up'))).map(l => l.seq), [1], 'and the dead letters stored before')
  t.notOk(stored, 'the held write has not been acknowledged')

  await unfill()
  await within(20_000, 'the held write once space returned', held)
  t.equal(store.writeCondition().state, 'ok', 'the store writes again')
  t.same((await dlq.list('up')).map(l => l.seq), [1, 2], 'the held dead letter is stored')
})

t.test('while the full disk leaves no room to reopen the state store, its reads fail at once with a clear error (503), and work again once space returns', needsDisk, async t => {
  const d = await smallDisk(t, 8 * MiB)
  const gw = await startGateway(t, testConfig(join(d.dir, 'data'), `storage: { reserveFreeBytes: "0" }
bridges:
  - name: up
    topics: ["unused/#"]
    sink: { url: "http://127.0.0.1:9/events", mode: batch }
`))
  const letter = (seq: number): DeadLetter => ({ seq, time: Date.now(), event: { id: `gw-${seq}`, specversion: '1.0', data: 'x'.repeat(64 * 1024) }, status: 400, body: 'rejected' })
  await gw.bridges.deadLetters.add('up', [letter(1)])
  const deadLetters = async (): Promise<{ status: number, body: { count?: number, error?: { code: string, message: string } } }> => {
    const res = await fetch(`${gw.admin?.url ?? ''}/api/bridges/up/dead-letters`)
    return { status: res.status, body: await res.json() as { count?: number, error?: { code: string, message: string } } }
  }
  t.equal((await deadLetters()).body.count, 1, 'a dead letter is listed')

  const unfill = await within(20_000, 'filling the disk', d.fill())
  let stored = false
  const held = gw.bridges.deadLetters.add('up', [letter(2)]).then(() => { stored = true })
  held.catch(() => {}) // awaited below; given up when the test stops early
  await eventually('the state store to report the disk full', () => gw.store.writeCondition().state === 'full', { timeoutMs: 20_000, seen: () => gw.store.writeCondition() })
  // the held write's retry reopens the store once there is room, or after 30 s without it: this
  // reopen stands for the latter, and fails, as LevelDB cannot write out its log on a full disk
  await t.rejects(gw.store.reopen(), 'reopening the state store fails on the full disk')

  const answer = await within(5_000, 'the dead-letter list while the store cannot reopen', deadLetters())
  t.equal(answer.status, 503, 'the dead-letter list answers 503')
  t.equal(answer.body.error?.code, 'FG_ERR_ADMIN_UNAVAILABLE', `with its code (${answer.body.error?.message ?? ''})`)
  await t.rejects(within(5_000, 'a cursor read while the store cannot reopen', new CursorStore(gw.store).get('up')), { code: 'FG_ERR_STORE_UNAVAILABLE' }, 'a cursor read fails at once, with its code')
  t.equal((await storeStatus(gw)).state, 'full', 'status still answers, and shows the store full')
  t.notOk(stored, 'the held write has not been acknowledged')

  await unfill()
  await within(20_000, 'the held write once space returned', held)
  const after = await deadLetters()
  t.equal(after.status, 200, 'the dead-letter list answers again once space returned')
  t.equal(after.body.count, 2, 'with the held dead letter')
})
