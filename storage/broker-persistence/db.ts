/**
 * The only file here that talks to LevelDB. Every call names its encodings, so
 * the sublevel handed in may default to 'buffer' or 'view' values.
 */
import type { AbstractBatchOptions, AbstractLevel } from 'abstract-level'
import { prefixRange, type Prefix } from './keys.js'

/** A LevelDB (or a sublevel of one) with string keys; give the broker state its own sublevel. */
export type BrokerStateDb<V extends Uint8Array = Buffer> = AbstractLevel<string | Buffer | Uint8Array, string, V>

export type DbOp = { type: 'put', key: string, value: Buffer } | { type: 'del', key: string }

export interface StateDb {
  /** One atomic LevelDB batch; `sync` asks LevelDB to fsync before resolving. */
  batch: (ops: DbOp[], sync: boolean) => Promise<void>
  getMany: (keys: string[]) => Promise<Array<Buffer | undefined>>
  /** Every entry of one kind, in key order. */
  scan: (prefix: Prefix) => AsyncIterable<[string, Buffer]>
}

/**
 * `commit`, when given, writes the batches instead of `db.batch` (the gateway's state store: one
 * group commit for every component, held and retried while the disk refuses).
 */
export function createStateDb<V extends Uint8Array> (db: BrokerStateDb<V>, commit?: (ops: DbOp[], sync: boolean) => Promise<void>): StateDb {
  const read = { keyEncoding: 'utf8', valueEncoding: 'buffer' } as const
  return {
    async batch (ops, sync) {
      if (commit !== undefined) {
        await commit(ops, sync)
        return
      }
      // `sync` is a classic-level option that sublevels pass through to the root
      const options: AbstractBatchOptions<string, Buffer> & { sync: boolean } = { ...read, sync }
      await db.batch<string, Buffer>(ops, options)
    },
    async getMany (keys) {
      return await db.getMany<string, Buffer>(keys, read)
    },
    scan (prefix) {
      return db.iterator<string, Buffer>({ ...prefixRange(prefix), ...read })
    }
  }
}
