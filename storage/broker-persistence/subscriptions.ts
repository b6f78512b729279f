/**
 * Subscriptions of persistent sessions, in memory: per client (for session
 * restore) and in a trie (for matching each QoS > 0 publish). Mirrors
 * aedes-persistence's in-memory semantics; QoS 0 subscriptions are restored
 * with the session but never matched for offline queueing.
 */
import { createSubscriptionTrie } from './matching.js'
import type { OfflineSubscription, Subscription } from './types.js'

/** What is stored per (client, topic filter); the filter itself is the map key. */
export interface SubscriptionRecord {
  qos: number
  rh?: number | undefined
  rap?: boolean | undefined
  nl?: boolean | undefined
  subscriptionIdentifier?: number
}

/** One client's subscriptions as stored in LevelDB: [topic filter, record] pairs in subscribe order. */
export type StoredSubscriptions = Array<[string, SubscriptionRecord]>

export interface SubscriptionIndex {
  /** Adds or replaces; returns the client's full list to store. */
  add: (clientId: string, subs: readonly Subscription[]) => StoredSubscriptions
  /** Returns the client's remaining list, or undefined when it has none left (delete it). */
  remove: (clientId: string, topics: readonly string[]) => StoredSubscriptions | undefined
  /** Returns true when the client had subscriptions. */
  clean: (clientId: string) => boolean
  /** Rebuilds one client from its stored list (setup). */
  restore: (clientId: string, stored: StoredSubscriptions) => void
  has: (clientId: string) => boolean
  byClient: (clientId: string) => Array<Subscription>
  byTopic: (topic: string) => OfflineSubscription[]
  count: () => { subsCount: number, clientsCount: number }
  clientsSubscribedTo: (topicFilter: string) => Generator<string>
}

export function createSubscriptionIndex (): SubscriptionIndex {
  const clients = new Map<string, Map<string, SubscriptionRecord>>()
  const trie = createSubscriptionTrie()

  function set (clientId: string, stored: Map<string, SubscriptionRecord>, sub: Subscription): void {
    const previous = stored.get(sub.topic)
    const record: SubscriptionRecord = { qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl }
    // MQTT 5 subscription identifier: kept with the session only, as
    // aedes-persistence does; the trie carries { qos, rh, rap, nl }
    if (sub.subscriptionIdentifier !== undefined) record.subscriptionIdentifier = sub.subscriptionIdentifier
    if (sub.qos > 0) {
      trie.add(sub.topic, { clientId, topic: sub.topic, qos: sub.qos, rh: sub.rh, rap: sub.rap, nl: sub.nl })
    } else if (previous !== undefined && previous.qos > 0) {
      trie.remove(sub.topic, { clientId, topic: sub.topic })
    }
    stored.set(sub.topic, record)
  }

  function drop (clientId: string, topic: string, record: SubscriptionRecord): void {
    if (record.qos > 0) trie.remove(topic, { clientId, topic })
  }

  return {
    add (clientId, subs) {
      let stored = clients.get(clientId)
      if (stored === undefined) {
        stored = new Map()
        clients.set(clientId, stored)
      }
      for (const sub of subs) set(clientId, stored, sub)
      return [...stored]
    },

    remove (clientId, topics) {
      const stored = clients.get(clientId)
      if (stored === undefined) return undefined
      for (const topic of topics) {
        const record = stored.get(topic)
        if (record === undefined) continue
        drop(clientId, topic, record)
        stored.delete(topic)
      }
      if (stored.size > 0) return [...stored]
      clients.delete(clientId)
      return undefined
    },

    clean (clientId) {
      const stored = clients.get(clientId)
      if (stored === undefined) return false
      for (const [topic, record] of stored) drop(clientId, topic, record)
      clients.delete(clientId)
      return true
    },

    restore (clientId, list) {
      const stored = new Map<string, SubscriptionRecord>()
      clients.set(clientId, stored)
      for (const [topic, record] of list) set(clientId, stored, { topic, ...record })
    },

    has (clientId) {
      return clients.has(clientId)
    },

    byClient (clientId) {
      const stored = clients.get(clientId)
      if (stored === undefined) return []
      return [...stored].map(([topic, record]) => ({ topic, ...record }))
    },

    byTopic (topic) {
      // Aedes asks for every QoS > 0 publish; with no persistent session subscribed (a gateway
      // whose devices only publish) there is nothing to match, and matching splits the topic
      if (trie.subscriptionsCount === 0) return []
      return trie.match(topic)
    },

    count () {
      return { subsCount: trie.subscriptionsCount, clientsCount: clients.size }
    },

    * clientsSubscribedTo (topicFilter) {
      for (const [clientId, stored] of clients) {
        if (stored.has(topicFilter)) yield clientId
      }
    }
  }
}
