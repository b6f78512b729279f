/**
 * What the broker restart test cannot easily provoke over MQTT: each kind of
 * broker state, changed and then reloaded from LevelDB by a fresh store on the
 * same directory, plus the store's own lifecycle and failure behaviour.
 */
import t from 'tap'
import { createBrokerPersistence, isBrokerStateError, type BrokerLike, type BrokerPacket, type BrokerPersistence } from '../../storage/broker-persistence/index.js'
import { openLevel, tempDir, type Teardown } from '../helpers/broker-persistence-fixtures.js'

interface Opened {
  store: BrokerPersistence
  broker: BrokerLike
  close: () => Promise<void>
}

/** A store on the LevelDB in `dir`, set up with a broker; `view` opens its sublevel with Uint8Array values. */
async function open (t: Teardown, dir: string, brokerId = 'gw', view = false): Promise<Opened> {
  const db = await openLevel(dir)
  const store = view
    ? createBrokerPersistence(db.sublevel<string, Uint8Array>('broker', { keyEncoding: 'utf8', valueEncoding: 'view' }))
    : createBrokerPersistence(db.sublevel<string, Buffer>('broker', { keyEncoding: 'utf8', valueEncoding: 'buffer' }))
  const broker: BrokerLike = { id: brokerId, counter: 0 }
  await store.setup(broker)
  const close = async (): Promise<void> => {
    await store.close()
    await db.close()
  }
  t.teardown(close)
  return { store, broker, close }
}

async function all<T> (stream: AsyncIterable<unknown>): Promise<T[]> {
  const out: T[] = []
  for await (const item of stream) out.push(item as T)
  return out
}

function publish (brokerCounter: number, text: string, qos = 1): BrokerPacket {
  return { cmd: 'publish', topic: 'cmd/x', payload: Buffer.from(text), qos, retain: false, dup: false, brokerId: 'gw', brokerCounter }
}

const summary = (packets: BrokerPacket[]): Array<[string | undefined, string | undefined, number | undefined]> =>
  packets.map(p => [p.cmd, Buffer.isBuffer(p.payload) ? p.payload.toString() : undefined, p.messageId])

t.test('outgoing queues keep order, delivered messageIds and PUBRELs across a reload', async t => {
  const dir = await tempDir(t)
  // a client id that ends like a queue key must not confuse the key parser
  const x = { id: 'x' }
  const tricky = { id: 'x!0000000000000002' }

  let run = await open(t, dir)
  await run.store.outgoingEnqueueCombi([{ clientId: x.id }, { clientId: tricky.id }], publish(1, 'p1'))
  await run.store.outgoingEnqueue({ clientId: x.id }, publish(2, 'p2'))
  await run.store.outgoingEnqueue({ clientId: x.id }, publish(3, 'p3', 2))
  await run.store.outgoingUpdate(x, { ...publish(1, 'p1'), messageId: 10 })
  await run.store.outgoingUpdate(x, { ...publish(3, 'p3', 2), messageId: 12 })
  await run.store.outgoingUpdate(x, { cmd: 'pubrel', messageId: 12 })
  await run.close()

  run = await open(t, dir)
  t.equal(run.broker.counter, 2, 'broker counter moved past the packets queued under the same broker id (p3 became a PUBREL)')
  t.same(summary(await all(run.store.outgoingStream(x))), [['publish', 'p1', 10], ['publish', 'p2', undefined], ['pubrel', undefined, 12]])
  t.same(summary(await all(run.store.outgoingStream(tricky))), [['publish', 'p1', undefined]])

  await run.store.outgoingEnqueue({ clientId: x.id }, publish(4, 'p4'))
  const acked = await run.store.outgoingClearMessageId(x, { cmd: 'puback', messageId: 10 })
  t.equal(Buffer.isBuffer(acked?.payload) && acked.payload.toString(), 'p1', 'PUBACK returns the queued packet')
  await run.close()

  run = await open(t, dir)
  t.same(summary(await all(run.store.outgoingStream(x))), [['publish', 'p2', undefined], ['pubrel', undefined, 12], ['publish', 'p4', undefined]],
    'acknowledged packet gone, new packet queued after the older ones')
})

t.test('incoming QoS 2 packets and wills survive a reload, and so does their removal', async t => {
  const dir = await tempDir(t)
  const c = { id: 'dev-1' }
  const other = { id: 'dev-10' }
  const qos2 = { cmd: 'publish', topic: 'up/dev-1', payload: Buffer.from('reading'), qos: 2, retain: false, dup: false, messageId: 7 }

  let run = await open(t, dir)
  await run.store.incomingStorePacket(c, qos2)
  await run.store.incomingStorePacket(other, qos2)
  await run.store.putWill(c, { topic: 'status/dev-1', payload: Buffer.from('offline'), qos: 1, retain: true })
  await run.close()

  run = await open(t, dir, 'gw-2')
  const kept = await run.store.incomingGetPacket(c, { messageId: 7 })
  t.same([kept.topic, kept.payload, kept.messageId], ['up/dev-1', Buffer.from('reading'), 7])
  const will = await run.store.getWill(c)
  t.same([will?.topic, will?.brokerId, will?.clientId], ['status/dev-1', 'gw', 'dev-1'])
  const orphaned = await all<BrokerPacket>(run.store.streamWill({ 'gw-2': Date.now() }))
  t.same(orphaned.map(w => w.clientId), ['dev-1'], 'the will of the previous broker run is offered for publishing')

  await run.store.cleanIncoming(c)
  await run.store.delWill(c)
  await run.close()

  run = await open(t, dir, 'gw-3')
  await t.rejects(run.store.incomingGetPacket(c, { messageId: 7 }), { code: 'FG_ERR_BROKER_NO_SUCH_PACKET' })
  t.equal((await run.store.incomingGetPacket(other, { messageId: 7 })).messageId, 7, 'a client whose id extends the cleaned one keeps its packet')
  t.equal(await run.store.getWill(c), undefined)
})

t.test('subscriptions and retained messages survive a reload (view-encoded sublevel)', async t => {
  const dir = await tempDir(t)
  const c = { id: 'dev-s' }
  const leaver = { id: 'dev-leaver' }

  let run = await open(t, dir, 'gw', true)
  await run.store.addSubscriptions(c, [{ topic: 'тема/+', qos: 1 }, { topic: 'quiet', qos: 0 }, { topic: 'gone', qos: 1 }])
  await run.store.removeSubscriptions(c, ['gone'])
  await run.store.addSubscriptions(leaver, [{ topic: 'x', qos: 1 }])
  await run.store.cleanSubscriptions(leaver)
  await run.store.storeRetained({ cmd: 'publish', topic: '主题', payload: Buffer.from([1, 2, 3]), qos: 0, retain: true })
  await run.store.storeRetained({ cmd: 'publish', topic: 'r/gone', payload: Buffer.from('x'), qos: 0, retain: true })
  await run.store.storeRetained({ cmd: 'publish', topic: 'r/gone', payload: Buffer.alloc(0), qos: 0, retain: true })
  await run.close()

  run = await open(t, dir, 'gw', true)
  t.same((await run.store.subscriptionsByClient(c)).map(s => [s.topic, s.qos]), [['тема/+', 1], ['quiet', 0]])
  t.same((await run.store.subscriptionsByTopic('тема/a')).map(s => s.clientId), ['dev-s'])
  t.same(await run.store.subscriptionsByTopic('quiet'), [], 'QoS 0 subscriptions are restored but not queued for')
  t.same(await run.store.countOffline(), { subsCount: 1, clientsCount: 1 })
  const retained = await all<BrokerPacket>(run.store.createRetainedStream('#'))
  t.same(retained.map(p => p.topic), ['主题'])
  t.ok(Buffer.isBuffer(retained[0]?.payload), 'payload comes back as a Buffer')
  t.same(retained[0]?.payload, Buffer.from([1, 2, 3]))
})

t.test('changes issued together are applied in call order', async t => {
  const dir = await tempDir(t)
  let run = await open(t, dir)
  const writes = []
  for (let i = 1; i <= 50; i++) {
    writes.push(run.store.storeRetained({ cmd: 'publish', topic: 'last', payload: Buffer.from(String(i)), qos: 0, retain: true }))
  }
  await Promise.all(writes)
  await run.close()

  run = await open(t, dir)
  const [last] = await all<BrokerPacket>(run.store.createRetainedStream('last'))
  t.equal(String(last?.payload), '50')
})

t.test('close() is idempotent and later changes are refused', async t => {
  const run = await open(t, await tempDir(t))
  await Promise.all([run.store.close(), run.store.close()])
  await run.store.close()
  await t.rejects(run.store.storeRetained({ topic: 'a', payload: Buffer.from('x') }), { code: 'FG_ERR_BROKER_STATE_CLOSED' })
})

t.test('a failed write stops the store', async t => {
  const dir = await tempDir(t)
  const db = await openLevel(dir)
  t.teardown(async () => await db.close())
  const reported: unknown[] = []
  const store = createBrokerPersistence(db.sublevel<string, Buffer>('broker', { keyEncoding: 'utf8', valueEncoding: 'buffer' }), {
    onFailure: err => reported.push(err)
  })
  await store.setup({ id: 'gw', counter: 0 })

  await db.close()
  const failed = await store.addSubscriptions({ id: 'c' }, [{ topic: 'a', qos: 1 }]).catch((err: unknown) => err)
  t.ok(isBrokerStateError(failed, 'FG_ERR_BROKER_STATE_WRITE'), 'the write fails with FG_ERR_BROKER_STATE_WRITE')
  t.equal((failed as Error).cause instanceof Error && ((failed as Error).cause as { code?: string }).code, 'LEVEL_DATABASE_NOT_OPEN', 'and names the LevelDB error as its cause')

  // memory may now differ from disk, so even a working database gets no more writes
  await db.open()
  await t.rejects(store.storeRetained({ topic: 'a', payload: Buffer.from('x') }), { code: 'FG_ERR_BROKER_STATE_WRITE' })
  t.same(reported, [failed], 'onFailure is told once, with the error')
  await store.close()
})
