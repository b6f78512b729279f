/**
 * Bridge cursors: the last sequence number each bridge's upstream acknowledged.
 *
 * Written through the state store's group commit without a sync of their own: a cursor that a
 * power cut sets back only means a resend, and resent events keep their ids. (A write that shares
 * its group with a synced one is synced with it.)
 */
import { decodeMeta, encodeMeta } from './codec.js'
import type { Store, Sublevel } from './store.js'

export class CursorStore {
  private readonly store: Store
  private readonly db: Sublevel

  constructor (store: Store) {
    this.store = store
    this.db = store.sublevel('cursors')
  }

  async get (bridge: string): Promise<number | undefined> {
    const raw = await this.store.read(async () => await this.db.get(bridge))
    return raw === undefined ? undefined : decodeMeta<number>(raw)
  }

  async set (bridge: string, seq: number): Promise<void> {
    await this.store.write([{ type: 'put', sublevel: this.db, key: bridge, value: encodeMeta(seq) }], false)
  }

  async delete (bridge: string): Promise<void> {
    await this.store.write([{ type: 'del', sublevel: this.db, key: bridge }], true)
  }

  /** Every stored cursor, by bridge name. */
  async all (): Promise<Map<string, number>> {
    const out = new Map<string, number>()
    for await (const [key, value] of this.store.entries(this.db)) out.set(key, decodeMeta<number>(value))
    return out
  }
}
