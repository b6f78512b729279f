// Not aedes-persistence-level 9.2: it keys queued messages by brokerId+brokerCounter, and aedes restarts that counter at 0, so after a restart
// new messages overwrite still-queued ones (fixed broker id) or jump ahead of them (random id); its multi-key updates are separate, unsynced writes; destroy() closes the shared LevelDB.
/**
 * The aedes 1.x persistence (promise API) over flowgate's LevelDB.
 *
 * MUST: every change is in LevelDB before its promise resolves; a change that
 * spans keys goes in one atomic batch; with durability 'sync' that batch is
 * fsynced. Memory indexes change synchronously, in call order, so reads see
 * every change already issued; LevelDB receives the batches in the same order.
 * MUST: a failed write stops the store (see batch-writer.ts).
 * SHOULD: read paths (matching a publish, retained lookups) touch no disk;
 * queued packets are the exception, read when a queue is drained.
 *
 * The LevelDB handed in belongs to the caller: close() flushes and stops this
 * store but never closes the database.
 */
import { Readable } from 'node:stream'
import aedesPacket from 'aedes-packet'
import { createBatchWriter, type BatchWriter } from './batch-writer.js'
import { decodePacket, encodeValue, packetRecord } from './codec.js'
import type { DbOp, StateDb } from './db.js'
import { BrokerStateError } from './errors.js'
import { incomingKey, outgoingKey, retainedKey, subscriptionsKey, willKey } from './keys.js'
import { loadState, type BrokerState } from './load.js'
import { topicFilter } from './matching.js'
import { createOutgoingIndex, type QueueEntry } from './outgoing-index.js'
import { createSubscriptionIndex } from './subscriptions.js'
import type { BrokerClient, BrokerLike, BrokerPacket, OfflineSubscription, Subscription } from './types.js'

// aedes-packet's typings declare a namespace, but the module exports the constructor
const Packet = aedesPacket as unknown as new (original: object, broker?: BrokerLike) => BrokerPacket

const READ_CHUNK = 64

export interface BrokerPersistenceOptions {
  /** 'sync' (default): fsync every batch before acknowledging; 'async': safe against a process crash, not a power cut. */
  durability?: 'sync' | 'async'
  /**
   * Called once if a LevelDB write fails. From then on every change is refused
   * (FG_ERR_BROKER_STATE_WRITE), so the gateway should log it and shut down.
   */
  onFailure?: (err: BrokerStateError) => void
  /** Entries that did not decode at start (a damaged store): removed, and reported here. */
  onDamaged?: (entries: Array<{ key: string, message: string }>) => void
}

function noSuchPacket (): BrokerStateError {
  return new BrokerStateError('FG_ERR_BROKER_NO_SUCH_PACKET', 'no such packet')
}

function payloadLength (packet: BrokerPacket): number {
  return packet.payload?.length ?? 0
}

export class BrokerPersistence {
  readonly #db: StateDb
  readonly #writer: BatchWriter
  readonly #state: BrokerState = {
    retained: new Map(),
    subscriptions: createSubscriptionIndex(),
    outgoing: createOutgoingIndex(),
    incoming: new Map(),
    wills: new Map()
  }

  #broker: BrokerLike | undefined
  #loading: Promise<void> | undefined
  #loaded = false
  #closing: Promise<void> | undefined

  readonly #onDamaged: BrokerPersistenceOptions['onDamaged']

  constructor (db: StateDb, options: BrokerPersistenceOptions = {}) {
    this.#onDamaged = options.onDamaged
    const sync = (options.durability ?? 'sync') === 'sync'
    this.#db = db
    this.#writer = createBatchWriter(async (ops) => await db.batch(ops, sync), options.onFailure)
  }

  /** The broker passed to setup() (aedes-persistence exposes it for tests). */
  get broker (): BrokerLike | undefined {
    return this.#broker
  }

  /** Called by aedes in listen(): loads the stored state once. */
  async setup (broker: BrokerLike): Promise<void> {
    this.#broker = broker
    this.#loading ??= loadState(this.#db, this.#state).then(async damaged => {
      if (damaged.length === 0) return
      await this.#commit(damaged.map(d => ({ type: 'del' as const, key: d.key })))
      this.#onDamaged?.(damaged)
    })
    await this.#loading
    this.#loaded = true
    // aedes restarts brokerCounter at 0; under a fixed broker id, outgoingUpdate
    // would then match a new packet to an older queued one with the same counter
    const highest = this.#state.outgoing.highestCounter(broker.id)
    if (typeof broker.counter === 'number' && broker.counter < highest) broker.counter = highest
  }

  // retained messages

  async storeRetained (packet: BrokerPacket): Promise<void> {
    this.#assertOpen()
    const topic = String(packet.topic)
    if (payloadLength(packet) === 0) {
      this.#state.retained.delete(topic)
      await this.#commit([{ type: 'del', key: retainedKey(topic) }])
      return
    }
    const record = packetRecord(packet)
    this.#state.retained.set(topic, record)
    await this.#commit([{ type: 'put', key: retainedKey(topic), value: encodeValue(record) }])
  }

  createRetainedStream (pattern: string): Readable {
    return Readable.from(this.#retainedMatching([pattern]))
  }

  createRetainedStreamCombi (patterns: string[]): Readable {
    return Readable.from(this.#retainedMatching(patterns))
  }

  * #retainedMatching (patterns: readonly string[]): Generator<BrokerPacket> {
    for (const pattern of patterns) {
      const matches = topicFilter(pattern)
      for (const [topic, packet] of this.#state.retained) {
        if (matches(topic)) yield packet
      }
    }
  }

  // subscriptions of persistent sessions

  async addSubscriptions (client: BrokerClient, subs: Subscription[]): Promise<void> {
    this.#assertOpen()
    const list = this.#state.subscriptions.add(client.id, subs)
    await this.#commit([{ type: 'put', key: subscriptionsKey(client.id), value: encodeValue(list) }])
  }

  async removeSubscriptions (client: BrokerClient, topics: string[]): Promise<void> {
    this.#assertOpen()
    const subscriptions = this.#state.subscriptions
    if (!subscriptions.has(client.id)) return
    const list = subscriptions.remove(client.id, topics)
    const key = subscriptionsKey(client.id)
    await this.#commit([list === undefined ? { type: 'del', key } : { type: 'put', key, value: encodeValue(list) }])
  }

  async cleanSubscriptions (client: BrokerClient): Promise<void> {
    this.#assertOpen()
    if (!this.#state.subscriptions.clean(client.id)) return
    await this.#commit([{ type: 'del', key: subscriptionsKey(client.id) }])
  }

  async subscriptionsByClient (client: BrokerClient): Promise<Subscription[]> {
    return this.#state.subscriptions.byClient(client.id)
  }

  async subscriptionsByTopic (topic: string): Promise<OfflineSubscription[]> {
    return this.#state.subscriptions.byTopic(topic)
  }

  async countOffline (): Promise<{ subsCount: number, clientsCount: number }> {
    return this.#state.subscriptions.count()
  }

  getClientList (topic: string): Readable {
    return Readable.from(this.#state.subscriptions.clientsSubscribedTo(topic))
  }

  // outgoing queues

  async outgoingEnqueue (sub: { clientId: string }, packet: BrokerPacket): Promise<void> {
    await this.outgoingEnqueueCombi([sub], packet)
  }

  /** One packet for several clients: one batch, so either all queues get it or none. */
  async outgoingEnqueueCombi (subs: ReadonlyArray<{ clientId: string }>, packet: BrokerPacket): Promise<void> {
    this.#assertOpen()
    if (subs.length === 0) return
    // queued packets never carry a messageId: one is assigned on delivery
    const record = packetRecord(new Packet(packet))
    const ops = this.#state.outgoing.enqueue(subs.map(s => s.clientId), record, encodeValue(record))
    await this.#commit(ops)
  }

  async outgoingUpdate (client: BrokerClient, packet: BrokerPacket): Promise<void> {
    this.#assertOpen()
    const ops = this.#state.outgoing.update(client.id, packet)
    if (ops === undefined) throw noSuchPacket()
    await this.#commit(ops)
  }

  /** Removes the acknowledged packet and returns it as queued (aedes emits it with 'ack'). */
  async outgoingClearMessageId (client: BrokerClient, packet: unknown): Promise<BrokerPacket | undefined> {
    this.#assertOpen()
    const entry = this.#state.outgoing.take(client.id, packet)
    if (entry === undefined) return undefined
    await this.#writer.idle()
    const [stored] = await this.#readQueued([entry], true)
    await this.#commit(this.#state.outgoing.deleteOps(entry))
    return stored
  }

  outgoingStream (client: BrokerClient): Readable {
    const entries = this.#state.outgoing.snapshot(client.id)
    const read = this.#readQueued.bind(this)
    const writer = this.#writer
    return Readable.from((async function * () {
      await writer.idle()
      for (let i = 0; i < entries.length; i += READ_CHUNK) {
        yield * await read(entries.slice(i, i + READ_CHUNK), false)
      }
    })())
  }

  /** Reads queued packets; skips entries acknowledged meanwhile unless `evenRemoved`. */
  async #readQueued (entries: QueueEntry[], evenRemoved: boolean): Promise<BrokerPacket[]> {
    const keys = entries.map(e => outgoingKey(e.clientId, e.seq))
    const values = await this.#db.getMany(keys)
    const packets: BrokerPacket[] = []
    entries.forEach((entry, i) => {
      const value = values[i]
      const key = keys[i]
      if (value === undefined || key === undefined || (entry.removed && !evenRemoved)) return
      const packet = decodePacket(key, value)
      if (entry.messageId !== undefined || 'messageId' in packet) packet.messageId = entry.messageId
      packets.push(packet)
    })
    return packets
  }

  // incoming QoS 2 packets, kept until PUBREL

  async incomingStorePacket (client: BrokerClient, packet: BrokerPacket): Promise<void> {
    this.#assertOpen()
    const messageId = packet.messageId
    if (messageId === undefined || !Number.isInteger(messageId) || messageId < 0 || messageId > 65535) {
      throw new TypeError('incoming packet needs a messageId in 0..65535')
    }
    const stored = new Packet(packet)
    stored.messageId = messageId
    const record = packetRecord(stored)
    let packets = this.#state.incoming.get(client.id)
    if (packets === undefined) {
      packets = new Map()
      this.#state.incoming.set(client.id, packets)
    }
    packets.set(messageId, record)
    await this.#commit([{ type: 'put', key: incomingKey(client.id, messageId), value: encodeValue(record) }])
  }

  async incomingGetPacket (client: BrokerClient, packet: BrokerPacket): Promise<BrokerPacket> {
    const stored = this.#incoming(client.id, packet.messageId)
    if (stored === undefined) throw noSuchPacket()
    return { ...stored }
  }

  async incomingDelPacket (client: BrokerClient, packet: BrokerPacket): Promise<void> {
    this.#assertOpen()
    const messageId = packet.messageId
    if (messageId === undefined || this.#incoming(client.id, messageId) === undefined) throw noSuchPacket()
    const packets = this.#state.incoming.get(client.id)
    packets?.delete(messageId)
    if (packets?.size === 0) this.#state.incoming.delete(client.id)
    await this.#commit([{ type: 'del', key: incomingKey(client.id, messageId) }])
  }

  /** [MQTT-3.1.2-6] a clean session drops the client's QoS 2 dedup state. */
  async cleanIncoming (client: BrokerClient): Promise<void> {
    this.#assertOpen()
    const packets = this.#state.incoming.get(client.id)
    if (packets === undefined) return
    this.#state.incoming.delete(client.id)
    await this.#commit([...packets.keys()].map((messageId): DbOp => ({ type: 'del', key: incomingKey(client.id, messageId) })))
  }

  #incoming (clientId: string, messageId: number | undefined): BrokerPacket | undefined {
    return messageId === undefined ? undefined : this.#state.incoming.get(clientId)?.get(messageId)
  }

  // wills

  /** Stamps the will with this broker's id and the client id, as aedes-persistence does. */
  async putWill (client: BrokerClient, packet: BrokerPacket): Promise<void> {
    this.#assertOpen()
    packet.brokerId = this.#broker?.id
    packet.clientId = client.id
    const record = packetRecord(packet)
    this.#state.wills.set(client.id, record)
    await this.#commit([{ type: 'put', key: willKey(client.id), value: encodeValue(record) }])
  }

  async getWill (client: BrokerClient): Promise<BrokerPacket | undefined> {
    return this.#state.wills.get(client.id)
  }

  async delWill (client: BrokerClient): Promise<BrokerPacket | undefined> {
    this.#assertOpen()
    const will = this.#state.wills.get(client.id)
    if (will === undefined) return undefined
    this.#state.wills.delete(client.id)
    await this.#commit([{ type: 'del', key: willKey(client.id) }])
    return will
  }

  /** Wills of clients whose broker is not among `brokers` (aedes publishes those). */
  streamWill (brokers: Record<string, unknown> = {}): Readable {
    const wills = this.#state.wills
    return Readable.from((function * () {
      for (const will of wills.values()) {
        if (!brokers[String(will.brokerId)]) yield will
      }
    })())
  }

  // lifecycle

  /** Idempotent: waits for pending writes, then refuses changes. Leaves the LevelDB open. */
  async close (): Promise<void> {
    this.#closing ??= this.#writer.close()
    await this.#closing
  }

  /** The aedes-persistence name for close(). */
  async destroy (): Promise<void> {
    await this.close()
  }

  #assertOpen (): void {
    if (this.#closing !== undefined) throw new BrokerStateError('FG_ERR_BROKER_STATE_CLOSED', 'broker state store is closed')
    if (!this.#loaded) throw new TypeError('setup() must complete before the broker state store is used')
  }

  async #commit (ops: DbOp[]): Promise<void> {
    if (ops.length > 0) await this.#writer.write(ops)
  }
}
