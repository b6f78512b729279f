/**
 * storage.maxPendingBytes: when the disk stalls, the gateway stops reading publishing clients (TCP
 * backpressure, QoS 0 too) instead of queueing their publishes in memory; it does not disconnect
 * them, and reads them again once the disk takes writes. On a real small file system.
 */
import { join } from 'node:path'
import t from 'tap'
import { startGateway, testConfig } from '../helpers/gateway.js'
import { RawClient } from '../helpers/raw-mqtt.js'
import { smallDisk, smallDiskSupport } from '../helpers/small-disk.js'
import { storeStatus, writable } from '../helpers/store-load.js'
import { eventually } from '../helpers/wait.js'

const MiB = 1024 * 1024
const KiB = 1024
const support = await smallDiskSupport()
const needsDisk = { skip: support === true ? false : support }

/** QoS 0 publishes of `size` bytes written as fast as the connection takes them, until stopped. */
function flood (client: RawClient, topic: string, size: number): { written: () => number, blocked: () => boolean, stop: () => Promise<void> } {
  const payload = Buffer.alloc(size, 0x61)
  let written = 0
  let blocked = false
  let stopped = false
  const run = (async () => {
    while (!stopped && !client.closed) {
      client.send({ cmd: 'publish', topic, payload, qos: 0, retain: false, dup: false })
      written++
      if (client.socket.writableNeedDrain) {
        blocked = true
        await new Promise<void>(resolve => {
          const done = (): void => { client.socket.off('drain', done).off('close', done); resolve() }
          client.socket.on('drain', done).on('close', done)
        })
        blocked = false
      }
    }
  })()
  return { written: () => written, blocked: () => blocked, stop: async () => { stopped = true; await run } }
}

t.test('a stalled disk pauses QoS 0 publishers by TCP backpressure: memory stays bounded, no one is disconnected, and every publish is stored once the disk takes writes', needsDisk, async t => {
  const d = await smallDisk(t, 64 * MiB)
  const maxPending = 256 * KiB
  const gw = await startGateway(t, testConfig(join(d.dir, 'data'), `storage:
  whenFull: reject-new
  reserveFreeBytes: "0"
  maxPendingBytes: 256KiB
`))
  const client = await RawClient.open(gw.listeners[0]?.port ?? 0)
  // keepalive 1 s: the broker closes a client it hears nothing from for 1.5 s
  client.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: 'qos0-flood', keepalive: 1 })
  t.equal((await client.next())?.cmd, 'connack')
  const pub = flood(client, 'flood/a', 256)
  await eventually('records reaching the log', () => gw.log.stats().records > 1000)

  let maxSeen = 0
  const sampler = setInterval(() => { maxSeen = Math.max(maxSeen, gw.log.pendingBytes) }, 5)
  t.teardown(() => { clearInterval(sampler) })
  const unfill = await d.fill()
  await eventually('the store to report it cannot write', () => !writable(gw))
  await eventually('the publisher to be held back (its socket cannot write)', () => pub.blocked())
  const store = await storeStatus(gw) as { state: string, backpressure?: boolean }
  t.equal(store.backpressure, true, 'status says reading from clients is paused')

  // held for several keepalive periods: the broker hears nothing from the client all that time
  const heldFrom = performance.now()
  const writtenThen = pub.written()
  // a retry may still find a few KiB free on the full file system and commit: the gate then opens
  // for as many publishes as were stored, which is not a leak
  let committed = 0
  const onCommit = (e: { records: number }): void => { committed += e.records }
  gw.log.on('commit', onCommit)
  await eventually('the client held for 5 s (three times its keepalive timeout)', () => performance.now() - heldFrom > 5000, { timeoutMs: 20_000 })
  gw.log.off('commit', onCommit)
  t.notOk(client.closed, 'the paused client is still connected')
  const moved = pub.written() - writtenThen
  t.ok(moved < committed + 2000, `the publisher is held: ${moved} publishes written in 5 s, ${committed} records stored meanwhile`)
  // what was read before the pause plus one read of each connection: far from the unbounded queue of before
  t.ok(maxSeen <= maxPending + 256 * KiB, `bytes waiting to be stored stayed bounded: at most ${Math.round(maxSeen / KiB)} KiB (maxPendingBytes 256 KiB)`)

  await unfill()
  await eventually('the store to write again once space returned', () => writable(gw))
  const target = pub.written() + 2000
  await eventually(`${target} publishes written: the publisher is read from again`, () => pub.written() >= target, { seen: () => pub.written() })
  await pub.stop()
  // a PINGREQ after the last publish: its PINGRESP says the broker has read everything before it
  client.send({ cmd: 'pingreq' })
  let p = await client.next()
  while (p !== null && p.cmd !== 'pingresp') p = await client.next()
  t.equal(p?.cmd, 'pingresp', 'the client was never disconnected')
  await gw.log.flush()
  const stored = gw.log.stats()
  t.equal(stored.records, pub.written(), `every publish written (${pub.written()}) is in the log`)
  t.same([stored.drops.maxBytes, stored.drops.rejected, stored.drops.reserveFreeBytes], [0, 0, 0], 'nothing dropped')
  t.equal((await storeStatus(gw) as { backpressure?: boolean }).backpressure, false, 'and reading is no longer paused')
})
