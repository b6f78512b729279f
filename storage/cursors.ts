/**
 * Bridge cursors: the last sequence number each bridge's upstream acknowledged.
 * Written with the log's group commits when a log is given (fsynced with them
 * under sync durability); a cursor behind after a crash only means a resend,
 * and resent events keep their ids.
 */
import { decodeMeta, encodeMeta } from './codec.js'
import type { EventLog } from './event-log.js'
import type { Store, Sublevel } from './store.js'

export class CursorStore {
  private readonly db: Sublevel
  private readonly log: EventLog | undefined

  /** With `log`, cursor writes ride the log's group commits instead of queueing behind them. */
  constructor (store: Store, log?: EventLog) {
    this.db = store.sublevel('cursors')
    this.log = log
  }

  async get (bridge: string): Promise<number | undefined> {
    const raw = await this.db.get(bridge)
    return raw === undefined ? undefined : decodeMeta<number>(raw)
  }

  async set (bridge: string, seq: number): Promise<void> {
    if (this.log !== undefined) await this.log.writeCursor(bridge, seq)
    else await this.db.put(bridge, encodeMeta(seq))
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
