/**
 * storage.reserveFreeBytes on a real small file system (a tmpfs of a few MiB): below the reserve
 * the log is full and whenFull applies, with either policy, and it recovers by itself.
 */
import { join } from 'node:path'
import t from 'tap'
import { brokerUrl, connect, startGateway, testConfig } from '../helpers/gateway.js'
import { smallDisk, smallDiskSupport } from '../helpers/small-disk.js'
import { readyz, storeStatus, writable } from '../helpers/store-load.js'
import { eventually } from '../helpers/wait.js'

const MiB = 1024 * 1024
const support = await smallDiskSupport()
/** Tests that need a small disk are skipped, with the reason, where none can be mounted. */
const needsDisk = { skip: support === true ? false : support }

t.test('reserveFreeBytes with drop-oldest: the oldest records make room, counted, and ingest never stops', needsDisk, async t => {
  const d = await smallDisk(t, 48 * MiB)
  const gw = await startGateway(t, testConfig(join(d.dir, 'data'), `storage:
  reserveFreeBytes: 16MiB
  retention: { maxBytes: 1GiB }
`))
  const client = await connect(t, brokerUrl(gw), { clientId: 'flood' })
  const payload = Buffer.alloc(8192, 0x61)
  let minFree = Infinity
  for (let i = 0; i < 6_000; i++) {
    await client.publishAsync('flood/a', payload, { qos: i % 16 === 0 ? 1 : 0 })
    if (i % 125 === 0) minFree = Math.min(minFree, await d.free())
  }
  await client.publishAsync('flood/a', payload, { qos: 1 })
  await gw.log.flush()
  const drops = gw.log.stats().drops
  t.ok(drops.reserveFreeBytes > 0, `${drops.reserveFreeBytes} of the oldest records dropped to keep room (reason reserveFreeBytes)`)
  t.equal(drops.rejected, 0, 'no publish refused')
  t.ok(gw.log.stats().lastSeq >= 6_001, 'every publish is in the log')
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
