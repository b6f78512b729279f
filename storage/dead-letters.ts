/**
 * Dead-letter store: events an upstream rejected permanently, per bridge,
 * with the response that rejected them. Kept until redriven or removed.
 */
import { decodeMeta, encodeMeta } from './codec.js'
import { seqKey } from './keys.js'
import type { Store, Sublevel } from './store.js'

export interface DeadLetter {
  /** Log sequence number of the event; the id within its bridge. */
  seq: number
  /** When it was dead-lettered, ms since the epoch. */
  time: number
  /** The event in the CloudEvents JSON format. */
  event: Record<string, unknown>
  /** HTTP status of the rejection. */
  status: number
  /** The start of the response body. */
  body: string
}

export class DeadLetterStore {
  private readonly db: Sublevel

  constructor (store: Store) {
    this.db = store.sublevel('dlq')
  }

  private static key (bridge: string, seq: number): string {
    return `${bridge}!${seqKey(seq)}`
  }

  async add (bridge: string, letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    // fsynced: the bridge's cursor moves past these events right after
    const batch = this.db.db.batch()
    for (const l of letters) batch.put(DeadLetterStore.key(bridge, l.seq), encodeMeta(l), { sublevel: this.db })
    await batch.write({ sync: true })
  }

  /** Dead letters of a bridge in sequence order, from `afterSeq` (exclusive). */
  async list (bridge: string, opts: { afterSeq?: number, limit?: number } = {}): Promise<DeadLetter[]> {
    const out: DeadLetter[] = []
    const it = this.db.iterator({
      gt: opts.afterSeq === undefined ? `${bridge}!` : DeadLetterStore.key(bridge, opts.afterSeq),
      lt: `${bridge}!~`,
      limit: opts.limit ?? 1000
    })
    for await (const [, value] of it) out.push(decodeMeta<DeadLetter>(value))
    return out
  }

  async count (bridge: string): Promise<number> {
    let n = 0
    for await (const _ of this.db.keys({ gt: `${bridge}!`, lt: `${bridge}!~` })) n++
    return n
  }

  async remove (bridge: string, seqs: readonly number[]): Promise<void> {
    await this.db.batch(seqs.map(seq => ({ type: 'del' as const, key: DeadLetterStore.key(bridge, seq) })))
  }
}
