/**
 * Broker state (retained messages, persistent sessions' subscriptions and
 * queues, in-flight QoS 2 packets, wills) kept in flowgate's LevelDB, as an
 * aedes 1.x persistence (promise API):
 *
 *   const persistence = createBrokerPersistence(store.sublevel('broker'), {
 *     durability: config.storage.durability,
 *     onFailure: err => { log it; shut the gateway down }
 *   })
 *   const broker = await Aedes.createBroker({ persistence })   // awaits persistence.setup()
 *
 * Shutdown, in this order: broker.close(cb); await persistence.close(); then
 * close the LevelDB. persistence.close() is idempotent and never closes the db.
 */
import type { Store } from '../store.js'
import { createStateDb, type BrokerStateDb, type DbOp, type StateDb } from './db.js'
import { prefixRange } from './keys.js'
import { BrokerPersistence, type BrokerPersistenceOptions } from './persistence.js'

export { BrokerPersistence, type BrokerPersistenceOptions } from './persistence.js'
export type { BrokerStateDb } from './db.js'
export { BrokerStateError, BrokerStateErrorCodes, isBrokerStateError, type BrokerStateErrorCode } from './errors.js'
export type { BrokerClient, BrokerLike, BrokerPacket, OfflineSubscription, Subscription } from './types.js'

/**
 * `db` should be a sublevel of its own (keys are utf8 strings; values are read
 * and written as buffers whatever the sublevel's default). The caller keeps
 * ownership: close() on the persistence never closes `db`.
 */
export function createBrokerPersistence<V extends Uint8Array> (db: BrokerStateDb<V>, options?: BrokerPersistenceOptions): BrokerPersistence {
  return new BrokerPersistence(createStateDb(db), options)
}

/**
 * Broker state in the gateway's state store, sublevel `broker`: its writes go through the store's
 * group commit, so a full or failing disk holds them (and the clients waiting on them) until they
 * can be stored, instead of stopping the gateway.
 */
export function createStoredBrokerPersistence (store: Store, options?: BrokerPersistenceOptions): BrokerPersistence {
  const sub = store.sublevel('broker')
  const db: StateDb = {
    async batch (ops: DbOp[], sync: boolean) {
      await store.write(ops.map(op => op.type === 'put' ? { type: 'put', sublevel: sub, key: op.key, value: op.value } : { type: 'del', sublevel: sub, key: op.key }), sync)
    },
    // reads wait out (or resume after) a reopen of the store, which a held write's retry makes
    getMany: async keys => await store.read(async () => await sub.getMany(keys)),
    scan: prefix => store.entries(sub, prefixRange(prefix))
  }
  return new BrokerPersistence(db, options)
}
