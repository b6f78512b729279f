/**
 * Bridge cursors: the last sequence number each bridge's upstream acknowledged.
 * Written without fsync: a cursor lost to a power cut only means a resend, and
 * resent events keep their ids.
 */
import { decodeMeta, encodeMeta } from './codec.js'
import type { Store, Sublevel } from './store.js'

export class CursorStore {
  private readonly db: Sublevel

  constructor (store: Store) {
    this.db = store.sublevel('cursors')
  }

  async get (bridge: string): Promise<number | undefined> {
    const raw = await this.db.get(bridge)
    return raw === undefined ? undefined : decodeMeta<number>(raw)
  }

  async set (bridge: string, seq: number): Promise<void> {
    await this.db.put(bridge, encodeMeta(seq))
  }

  async delete (bridge: string): Promise<void> {
    await this.db.del(bridge)
  }

  /** Every stored cursor, by bridge name. */
  async all (): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for await (const [key, value] of this.db.iterator()) out.set(key, decodeMeta<number>(value))
    return out
  }
}
