/**
 * The only file here that talks to LevelDB itself (index.ts reaches the gateway's
 * state store through the store). Every call names its encodings, so the
 * sublevel handed in may default to 'buffer' or 'view' values.
 */
import type { AbstractBatchOptions, AbstractGetManyOptions, AbstractIteratorOptions } from 'abstract-level'
import { prefixRange, type Prefix } from './keys.js'

/**
 * A LevelDB (or a sublevel of one) with string keys; give the broker state its own sublevel.
 * Only the calls made here, each naming its encodings: abstract-level's own types make a
 * sublevel and a database unassignable to each other (their batch operations name their parents).
 */
export interface BrokerStateDb<_V extends Uint8Array = Buffer> { // _V, the db's default value type, does not matter here
  batch (operations: DbOp[], options: AbstractBatchOptions<string, Buffer>): Promise<void>
  getMany (keys: string[], options: AbstractGetManyOptions<string, Buffer>): Promise<Array<Buffer | undefined>>
  iterator (options: AbstractIteratorOptions<string, Buffer>): AsyncIterable<[string, Buffer]>
}

export type DbOp = { type: 'put', key: string, value: Buffer } | { type: 'del', key: string }

export interface StateDb {
  /** One atomic LevelDB batch; `sync` asks LevelDB to fsync before resolving. */
  batch: (ops: DbOp[], sync: boolean) => Promise<void>
  getMany: (keys: string[]) => Promise<Array<Buffer | undefined>>
  /** Every entry of one kind, in key order. */
  scan: (prefix: Prefix) => AsyncIterable<[string, Buffer]>
}

/** A StateDb on a LevelDB of its own (the gateway's state store makes its own: see index.ts). */
export function createStateDb<V extends Uint8Array> (db: BrokerStateDb<V>): StateDb {
  const read = { keyEncoding: 'utf8', valueEncoding: 'buffer' } as const
  return {
    async batch (ops, sync) {
      // `sync` is a classic-level option that sublevels pass through to the root
      const options: AbstractBatchOptions<string, Buffer> & { sync: boolean } = { ...read, sync }
      await db.batch(ops, options)
    },
    async getMany (keys) {
      return await db.getMany(keys, read)
    },
    scan (prefix) {
      return db.iterator({ ...prefixRange(prefix), ...read })
    }
  }
}
