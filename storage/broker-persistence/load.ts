/**
 * Rebuilds the in-memory state from LevelDB at setup: one range scan per kind.
 */
import { decodePacket, decodeValue } from './codec.js'
import type { StateDb } from './db.js'
import { BrokerStateError, isBrokerStateError } from './errors.js'
import { keySuffix, outgoingKey, parseNumberedKey, PREFIX } from './keys.js'
import type { OutgoingIndex, QueueEntry } from './outgoing-index.js'
import type { StoredSubscriptions, SubscriptionIndex } from './subscriptions.js'
import type { BrokerPacket } from './types.js'

export interface BrokerState {
  retained: Map<string, BrokerPacket>
  subscriptions: SubscriptionIndex
  outgoing: OutgoingIndex
  incoming: Map<string, Map<number, BrokerPacket>>
  wills: Map<string, BrokerPacket>
}

function corrupt (key: string, what: string): BrokerStateError {
  return new BrokerStateError('FG_ERR_BROKER_STATE_CORRUPT', `broker state value at ${JSON.stringify(key)} is not ${what}`)
}

/**
 * Rebuilds `state`. An entry that does not decode (a damaged store) is skipped and returned, so
 * the caller can remove and report it: the broker starts with what can be read.
 */
export async function loadState (db: StateDb, state: BrokerState): Promise<Array<{ key: string, message: string }>> {
  const damaged: Array<{ key: string, message: string }> = []
  const each = async (prefix: Parameters<StateDb['scan']>[0], fn: (key: string, value: Buffer) => void): Promise<void> => {
    for await (const [key, value] of db.scan(prefix)) {
      try {
        fn(key, value)
      } catch (err) {
        if (!isBrokerStateError(err, 'FG_ERR_BROKER_STATE_CORRUPT')) throw err
        damaged.push({ key, message: err.message })
      }
    }
  }

  await each(PREFIX.retained, (key, value) => {
    state.retained.set(keySuffix(key), decodePacket(key, value))
  })

  await each(PREFIX.subscriptions, (key, value) => {
    const list = decodeValue(key, value)
    if (!Array.isArray(list)) throw corrupt(key, 'a subscription list')
    state.subscriptions.restore(keySuffix(key), list as StoredSubscriptions)
  })

  const queued = new Map<string, QueueEntry>()
  await each(PREFIX.outgoing, (key, value) => {
    const { clientId, n } = parseNumberedKey(key)
    queued.set(key, state.outgoing.restore(clientId, n, decodePacket(key, value)))
  })
  state.outgoing.sortAll()
  await each(PREFIX.outgoingId, (key, value) => {
    const { clientId, n } = parseNumberedKey(key)
    const entry = queued.get(outgoingKey(clientId, n))
    const messageId = decodeValue(key, value)
    if (typeof messageId !== 'number') throw corrupt(key, 'a messageId')
    // an id without its packet cannot come from an atomic batch; ignore it
    if (entry !== undefined) entry.messageId = messageId
  })

  await each(PREFIX.incoming, (key, value) => {
    const { clientId, n } = parseNumberedKey(key)
    let packets = state.incoming.get(clientId)
    if (packets === undefined) {
      packets = new Map()
      state.incoming.set(clientId, packets)
    }
    packets.set(n, decodePacket(key, value))
  })

  await each(PREFIX.will, (key, value) => {
    state.wills.set(keySuffix(key), decodePacket(key, value))
  })
  return damaged
}
