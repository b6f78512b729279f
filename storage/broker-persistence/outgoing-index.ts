/**
 * The queues of outgoing QoS 1/2 packets per persistent client, as an index in
 * memory: order, brokerId/brokerCounter and the assigned messageId of each
 * entry. The packets themselves stay on disk (o! keys) and are read when a
 * queue is streamed or an entry acknowledged, so a client that stays offline
 * for days grows the disk, not the heap. Returns the LevelDB operations for
 * each change; the caller commits them.
 *
 * Matching follows aedes-persistence's in-memory queue, which defines what
 * aedes expects of outgoingUpdate and outgoingClearMessageId.
 */
import type { DbOp } from './db.js'
import { encodeValue, packetRecord } from './codec.js'
import { outgoingIdKey, outgoingKey } from './keys.js'
import type { BrokerPacket } from './types.js'

export interface QueueEntry {
  readonly clientId: string
  readonly seq: number
  brokerId: string | undefined
  brokerCounter: number | undefined
  messageId: number | undefined
  /** Set once the entry left its queue, so a stream snapshot skips it. */
  removed: boolean
}

export interface OutgoingIndex {
  /** Appends one (already encoded) packet to each client's queue. */
  enqueue: (clientIds: readonly string[], packet: BrokerPacket, value: Buffer) => DbOp[]
  /** Records a delivery (new messageId) or a replacement (PUBREL); undefined when nothing matches. */
  update: (clientId: string, packet: BrokerPacket) => DbOp[] | undefined
  /** Removes the entry an acknowledgement refers to; the caller reads its packet, then deletes it. */
  take: (clientId: string, packet: unknown) => QueueEntry | undefined
  deleteOps: (entry: QueueEntry) => DbOp[]
  snapshot: (clientId: string) => QueueEntry[]
  /** Setup: adds an entry read from disk. Call sortAll() once all are in. */
  restore: (clientId: string, seq: number, packet: BrokerPacket) => QueueEntry
  sortAll: () => void
  /** The highest brokerCounter queued under a broker id. */
  highestCounter: (brokerId: string) => number
}

function entryFields (entry: QueueEntry, packet: BrokerPacket): void {
  entry.brokerId = packet.brokerId
  entry.brokerCounter = packet.brokerCounter
  entry.messageId = packet.messageId
}

export function createOutgoingIndex (): OutgoingIndex {
  const queues = new Map<string, QueueEntry[]>()
  let nextSeq = 1

  function queueOf (clientId: string): QueueEntry[] {
    let queue = queues.get(clientId)
    if (queue === undefined) {
      queue = []
      queues.set(clientId, queue)
    }
    return queue
  }

  function newEntry (clientId: string, seq: number, packet: BrokerPacket): QueueEntry {
    const entry: QueueEntry = { clientId, seq, brokerId: undefined, brokerCounter: undefined, messageId: undefined, removed: false }
    entryFields(entry, packet)
    queueOf(clientId).push(entry)
    return entry
  }

  function findIndex (queue: QueueEntry[], packet: unknown): number {
    const p = (typeof packet === 'object' && packet !== null ? packet : {}) as BrokerPacket
    if (p.messageId !== undefined) return queue.findIndex(e => e.messageId === p.messageId)
    // not delivered yet (aedes drops a packet it will not forward): when the
    // packet names its origin, remove exactly that one rather than the first
    // undelivered entry
    if (p.brokerId !== undefined) {
      return queue.findIndex(e => e.messageId === undefined && e.brokerId === p.brokerId && e.brokerCounter === p.brokerCounter)
    }
    return queue.findIndex(e => e.messageId === undefined)
  }

  return {
    enqueue (clientIds, packet, value) {
      const ops: DbOp[] = []
      for (const clientId of clientIds) {
        const entry = newEntry(clientId, nextSeq++, packet)
        ops.push({ type: 'put', key: outgoingKey(clientId, entry.seq), value })
      }
      return ops
    },

    update (clientId, packet) {
      for (const entry of queues.get(clientId) ?? []) {
        if (entry.brokerId === packet.brokerId) {
          // the same packet, now delivered under a messageId; brokerCounter
          // keeps two packets that reuse a messageId apart
          if (entry.brokerCounter !== packet.brokerCounter) continue
          entry.messageId = packet.messageId
          const key = outgoingIdKey(clientId, entry.seq)
          return [packet.messageId === undefined
            ? { type: 'del', key }
            : { type: 'put', key, value: encodeValue(packet.messageId) }]
        }
        if (entry.messageId === packet.messageId) {
          // a different packet under the same messageId: PUBREL replaces PUBLISH
          entryFields(entry, packet)
          return [
            { type: 'put', key: outgoingKey(clientId, entry.seq), value: encodeValue(packetRecord(packet)) },
            { type: 'del', key: outgoingIdKey(clientId, entry.seq) }
          ]
        }
      }
      return undefined
    },

    take (clientId, packet) {
      const queue = queues.get(clientId)
      if (queue === undefined) return undefined
      const i = findIndex(queue, packet)
      const entry = queue[i]
      if (entry === undefined) return undefined
      queue.splice(i, 1)
      if (queue.length === 0) queues.delete(clientId)
      entry.removed = true
      return entry
    },

    deleteOps (entry) {
      return [
        { type: 'del', key: outgoingKey(entry.clientId, entry.seq) },
        { type: 'del', key: outgoingIdKey(entry.clientId, entry.seq) }
      ]
    },

    snapshot (clientId) {
      return [...(queues.get(clientId) ?? [])]
    },

    restore (clientId, seq, packet) {
      if (seq >= nextSeq) nextSeq = seq + 1
      return newEntry(clientId, seq, packet)
    },

    sortAll () {
      // keys sort by client id first, and a client id may itself end in
      // '!<digits>', so one client's entries need not arrive contiguously
      for (const queue of queues.values()) queue.sort((a, b) => a.seq - b.seq)
    },

    highestCounter (brokerId) {
      let highest = 0
      for (const queue of queues.values()) {
        for (const e of queue) {
          if (e.brokerId === brokerId && e.brokerCounter !== undefined && e.brokerCounter > highest) highest = e.brokerCounter
        }
      }
      return highest
    }
  }
}
