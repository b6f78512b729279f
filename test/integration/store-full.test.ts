/**
 * A full disk, on a real small file system (a tmpfs of a few MiB): publishes wait unacknowledged,
 * the gateway stays up and says so (status, /readyz), and when space returns every acknowledged
 * message is stored and delivered, in order, without a restart. storage.reserveFreeBytes keeps room
 * with either whenFull policy.
 */
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import type { MqttClient } from 'mqtt'
import { pino } from 'pino'
import { createGateway, type Gateway } from '../../gateway/index.js'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, seqOf } from '../helpers/receiver-control.js'
import { smallDisk, smallDiskSupport } from '../helpers/small-disk.js'

const MiB = 1024 * 1024

const support = await smallDiskSupport()
/** Tests that need a small disk are skipped, with the reason, where none can be mounted. */
const needsDisk = { skip: support === true ? false : support }

/** QoS 1 publishes of {"i": n} with `window` in flight, until stopped; `acked` in acknowledgement order. */
function publishing (client: MqttClient, topic: string, window = 16): { acked: number[], pending: () => number, stop: () => Promise<void> } {
  const acked: number[] = []
  let next = 0
  let stopped = false
  let pending = 0
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const i = next++
      pending++
      try {
        await client.publishAsync(topic, JSON.stringify({ i }), { qos: 1 })
        acked.push(i)
      } catch {
        // the connection closed (the gateway stopped): the lane ends, its publish unacknowledged
        return
      } finally {
        pending--
      }
    }
  }
  const lanes = Promise.all(Array.from({ length: window }, lane))
  return { acked, pending: () => pending, stop: async () => { stopped = true; await lanes } }
}

async function readyz (gw: Gateway): Promise<number> {
  return (await fetch(`${gw.admin?.url ?? ''}/readyz`)).status
}

async function storeStatus (gw: Gateway): Promise<{ state: string, reason?: string, code?: string }> {
  const body = await (await fetch(`${gw.admin?.url ?? ''}/api/status`)).json() as { store: { state: string, reason?: string, code?: string } }
  return body.store
}

const writable = (gw: Gateway): boolean => gw.log.writeCondition().state === 'ok' && gw.store.writeCondition().state === 'ok'

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

  const unfill = await d.fill()
  await eventually('the store to report it cannot write', () => !writable(gw))
  const full = await storeStatus(gw)
  t.equal(full.state, 'full', 'status says the store is full')
  t.equal(full.code, 'ENOSPC', 'with the error code')
  t.equal(await readyz(gw), 503, '/readyz answers 503 while the store cannot write')
  await eventually('a publish waiting for its acknowledgement', () => pub.pending() > 0)
  const stalled = pub.acked.length
  t.ok(pub.pending() > 0, `${pub.pending()} publishes wait for their acknowledgement`)

  await unfill()
  await eventually('the store to write again once space returned', () => writable(gw))
  t.equal(await readyz(gw), 200, '/readyz answers 200 once space returned, without a restart')
  t.equal((await storeStatus(gw)).state, 'ok')
  await eventually(`${stalled + 2000} acknowledged publishes`, () => pub.acked.length >= stalled + 2000, { seen: () => pub.acked.length })
  await pub.stop()
  t.ok(pub.acked.length > stalled + 2000, `ingest continued after the disk freed (${pub.acked.length} acknowledged, ${stalled} before)`)

  await receiver.untilDistinct(pub.acked.length)
  const first = receiver.firstArrivals()
  const delivered = new Set(first.map(e => (e.data as { i: number }).i))
  t.equal(pub.acked.filter(i => !delivered.has(i)).length, 0, 'every acknowledged publish was delivered upstream')
  const seqs = first.map(seqOf)
  t.ok(seqs.every((s, k) => k === 0 || s > (seqs[k - 1] as number)), 'in log order')
  const drops = gw.log.stats().drops
  t.same([drops.maxBytes, drops.reserveFreeBytes, drops.corrupt, drops.rejected], [0, 0, 0, 0], 'nothing dropped or refused')
  t.ok(gw.metrics !== undefined && (await gw.metrics.text()).match(/flowgate_store_write_errors_total\{store="log"\} [1-9]/) !== null, '/metrics counts the failed writes')
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

t.test('reserveFreeBytes with drop-oldest: the oldest records make room, counted, and ingest never stops', needsDisk, async t => {
  const d = await smallDisk(t, 48 * MiB)
  const gw = await startGateway(t, testConfig(join(d.dir, 'data'), `storage:
  reserveFreeBytes: 16MiB
  retention: { maxBytes: 1GiB }
`))
  const client = await connect(t, brokerUrl(gw), { clientId: 'flood' })
  const payload = Buffer.alloc(2048, 0x61)
  let minFree = Infinity
  for (let i = 0; i < 24_000; i++) {
    await client.publishAsync('flood/a', payload, { qos: i % 64 === 0 ? 1 : 0 })
    if (i % 500 === 0) minFree = Math.min(minFree, await d.free())
  }
  await client.publishAsync('flood/a', payload, { qos: 1 })
  await gw.log.flush()
  const drops = gw.log.stats().drops
  t.ok(drops.reserveFreeBytes > 0, `${drops.reserveFreeBytes} of the oldest records dropped to keep room (reason reserveFreeBytes)`)
  t.equal(drops.rejected, 0, 'no publish refused')
  t.ok(gw.log.stats().lastSeq >= 24_001, 'every publish is in the log')
  t.ok(minFree >= 4 * MiB, `free space stayed near the reserve (lowest seen ${(minFree / MiB).toFixed(1)} MiB of 16 MiB reserved)`)
  t.equal(await readyz(gw), 200, 'still ready: dropping makes room')
})

t.test('reserveFreeBytes with reject-new: publishes are refused while the disk is low, and accepted again when it is not', needsDisk, async t => {
  const d = await smallDisk(t, 24 * MiB)
  const gw = await startGateway(t, testConfig(join(d.dir, 'data'), `storage:
  whenFull: reject-new
  reserveFreeBytes: 8MiB
`))
  const payload = Buffer.alloc(2048, 0x62)
  const unfill = await d.fill(10 * MiB)
  const client = await connect(t, brokerUrl(gw), { clientId: 'filler' })
  let accepted = 0
  // MQTT 3.1.1 has no negative acknowledgement: a refused publish closes the connection
  const closed = new Promise<void>(resolve => client.once('close', () => resolve()))
  let open = true
  void closed.then(() => { open = false })
  await Promise.race([closed, Promise.all(Array.from({ length: 8 }, async () => {
    while (open && accepted < 20_000) await client.publishAsync('fill/a', payload, { qos: 1 }).then(() => { accepted++ }, () => {})
  }))])
  t.notOk(open, `the client was disconnected once the disk ran low (after ${accepted} accepted)`)
  await eventually('the refused client to be disconnected', () => !client.connected)
  t.ok(gw.log.stats().drops.rejected > 0, 'the refusal is counted')
  const status = await storeStatus(gw)
  t.same([status.state, status.reason], ['full', 'reserveFreeBytes'], 'status says why')
  t.equal(await readyz(gw), 503, 'not ready while publishes are refused')

  await unfill()
  gw.log.retryNow()
  await eventually('the store to write again once space returned', () => writable(gw))
  const again = await connect(t, brokerUrl(gw), { clientId: 'again' })
  await again.publishAsync('fill/a', payload, { qos: 1 })
  t.pass('accepted again once the disk has room')
  t.equal(await readyz(gw), 200)
})

t.test('the byte budget holds under load: the log never holds more than maxBytes plus the group being committed', async t => {
  const dir = await tempDir(t)
  for (const [label, paced] of [['full speed', false], ['paced', true]] as const) {
    const gw = await startGateway(t, testConfig(join(dir, label.replace(' ', '-')), `storage:
  retention: { maxBytes: 256KiB }
  reserveFreeBytes: "0"
`))
    const budget = 256 * 1024
    let worst = 0
    let commits = 0
    gw.log.on('commit', (e: { bytes: number }) => {
      commits++
      worst = Math.max(worst, gw.log.stats().bytes - e.bytes)
    })
    const clients = await Promise.all(Array.from({ length: 4 }, async (_, c) => await connect(t, brokerUrl(gw), { clientId: `${label}-${c}` })))
    const payload = Buffer.alloc(700, 0x63)
    const started = performance.now()
    await Promise.all(clients.map(async (client, c) => {
      for (let i = 0; i < 1500; i++) {
        if (paced) {
          // about 1,000 msg/s in all
          const due = started + (i * 4 + c) * 1
          const wait = due - performance.now()
          if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        }
        await client.publishAsync(`budget/${c}`, payload, { qos: 1 })
      }
    }))
    const s = gw.log.stats()
    t.ok(worst <= budget, `${label}: ${commits} commits, the log before each commit's group held at most ${worst} bytes (budget ${budget})`)
    t.ok(s.drops.maxBytes > 0 && s.drops.maxBytes + s.records === 6000, `${label}: every record is kept or counted as dropped (${s.drops.maxBytes} dropped)`)
    await gw.close()
  }
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
