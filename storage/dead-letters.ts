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
  /** Dead letters per bridge, counted once from the store and kept up to date by add and remove. */
  private readonly counts = new Map<string, number>()
  /** add, remove and the first count of a bridge run one at a time, so a count never misses a write. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor (store: Store) {
    this.db = store.sublevel('dlq')
  }

  private static key (bridge: string, seq: number): string {
    return `${bridge}!${seqKey(seq)}`
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }

  async add (bridge: string, letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    await this.serial(async () => {
      const keys = [...new Set(letters.map(l => DeadLetterStore.key(bridge, l.seq)))]
      // an event dead-lettered again (a redrive rejected) replaces its entry: count only new keys
      const known = this.counts.get(bridge)
      const fresh = known === undefined ? 0 : (await this.db.getMany(keys)).filter(v => v === undefined).length
      // fsynced: the bridge's cursor moves past these events right after
      const batch = this.db.db.batch()
      for (const l of letters) batch.put(DeadLetterStore.key(bridge, l.seq), encodeMeta(l), { sublevel: this.db })
      await batch.write({ sync: true })
      if (known !== undefined) this.counts.set(bridge, known + fresh)
    })
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

  /** How many dead letters the bridge has. Reads the store on the first call for a bridge only. */
  async count (bridge: string): Promise<number> {
    const known = this.counts.get(bridge)
    if (known !== undefined) return known
    return await this.serial(async () => {
      let n = this.counts.get(bridge)
      if (n !== undefined) return n
      n = 0
      for await (const _ of this.db.keys({ gt: `${bridge}!`, lt: `${bridge}!~` })) n++
      this.counts.set(bridge, n)
      return n
    })
  }

  async remove (bridge: string, seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return
    await this.serial(async () => {
      const keys = [...new Set(seqs.map(seq => DeadLetterStore.key(bridge, seq)))]
      const known = this.counts.get(bridge)
      const present = known === undefined ? 0 : (await this.db.getMany(keys)).filter(v => v !== undefined).length
      await this.db.batch(keys.map(key => ({ type: 'del' as const, key })))
      if (known !== undefined) this.counts.set(bridge, known - present)
    })
  }
}
