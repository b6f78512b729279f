/**
 * Dead-letter store: events an upstream rejected permanently, per bridge, with the response
 * that rejected them. Kept until redriven or removed, within a byte budget over all bridges.
 *
 * Keys (sublevel `dlq`):
 *   <bridge>!<seq>          the dead letter (bridge names are [a-z0-9_-], so `~` sorts after them)
 *   ~<time>!<bridge>!<seq>  its size, by the time it was added: the oldest go first when over budget
 *
 * MUST: a dead letter is stored (fsynced, with whatever else the state store writes at that moment)
 *       before its promise resolves: the bridge's cursor moves past it right after.
 * MUST: beyond `maxBytes` the oldest dead letters (of any bridge) are removed, counted by bridge and
 *       reported; nothing is removed silently.
 */
import { EventEmitter } from 'node:events'
import { decodeMeta, encodeMeta } from './codec.js'
import { seqKey } from './keys.js'
import type { Store, StoreOp, Sublevel } from './store.js'

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
  /** Why, beyond the status (`too-large`: an event the upstream refuses for its size alone). */
  reason?: string | undefined
}

/** Removed to stay within the budget: how many of a bridge's dead letters, and their sequence numbers' range. */
export interface EvictEvent { bridge: string, count: number, fromSeq: number, toSeq: number }

interface Entry { bridge: string, seq: number, time: number, size: number }

const TIME = '~'
const TIME_WIDTH = 15
/** Marks a store whose dead letters all have their time entry (those written before the budget had none). */
const INDEXED = '~~indexed'
const INDEXED_MARK = (db: Sublevel): StoreOp => ({ type: 'put', sublevel: db, key: INDEXED, value: Buffer.alloc(0) })

function letterKey (bridge: string, seq: number): string {
  return `${bridge}!${seqKey(seq)}`
}

function timeKey (e: Entry): string {
  return `${TIME}${String(Math.max(0, Math.floor(e.time))).padStart(TIME_WIDTH, '0')}!${e.bridge}!${seqKey(e.seq)}`
}

function parseTimeKey (key: string, size: number): Entry {
  const [time, bridge, seq] = key.slice(TIME.length).split('!')
  return { time: Number(time), bridge: bridge ?? '', seq: Number(seq), size }
}

export class DeadLetterStore extends EventEmitter {
  private readonly store: Store
  private readonly db: Sublevel
  private maxBytes: number
  /** Counts and sizes, read from the store once (first use) and kept up to date by add and remove. */
  private totals: { bytes: number, counts: Map<string, number>, evicted: Map<string, number> } | undefined
  /** Whether the store holds the INDEXED mark (known after the first load). */
  private indexed = false
  /** add, remove and the first count run one at a time, so a count never misses a write. */
  private queue: Promise<unknown> = Promise.resolve()

  constructor (store: Store, opts: { maxBytes?: number } = {}) {
    super()
    this.store = store
    this.db = store.sublevel('dlq')
    this.maxBytes = opts.maxBytes ?? 0
  }

  /** Sets the byte budget: beyond a lowered one the oldest dead letters are removed at once (see evict). */
  async setMaxBytes (maxBytes: number): Promise<void> {
    this.maxBytes = maxBytes
    await this.serial(async () => {
      const totals = await this.load()
      if (this.maxBytes > 0 && totals.bytes > this.maxBytes) await this.evict(totals)
    })
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn)
    this.queue = run.catch(() => {})
    return await run
  }

  private async load (): Promise<NonNullable<DeadLetterStore['totals']>> {
    if (this.totals !== undefined) return this.totals
    const totals = { bytes: 0, counts: new Map<string, number>(), evicted: new Map<string, number>() }
    this.indexed = await this.store.read(async () => await this.db.get(INDEXED)) !== undefined
    if (!this.indexed) {
      const ops: StoreOp[] = []
      for await (const [key, value] of this.store.entries(this.db, { lt: TIME })) {
        const l = decodeMeta<DeadLetter>(value)
        ops.push({ type: 'put', sublevel: this.db, key: timeKey({ bridge: key.slice(0, key.indexOf('!')), seq: l.seq, time: l.time, size: value.length }), value: encodeMeta(value.length) })
      }
      // with none to index, the mark goes with the first add: a first count (status asks for
      // one) does not wait for a write, which a full disk holds
      if (ops.length > 0) {
        await this.store.write([...ops, INDEXED_MARK(this.db)], true)
        this.indexed = true
      }
    }
    for await (const [key, value] of this.store.entries(this.db, { gt: TIME, lt: INDEXED })) {
      const e = parseTimeKey(key, decodeMeta<number>(value))
      totals.bytes += e.size
      totals.counts.set(e.bridge, (totals.counts.get(e.bridge) ?? 0) + 1)
    }
    this.totals = totals
    return totals
  }

  /** Stores dead letters of a bridge (an event dead-lettered again replaces its entry). */
  async add (bridge: string, letters: readonly DeadLetter[]): Promise<void> {
    if (letters.length === 0) return
    await this.serial(async () => {
      const totals = await this.load()
      const unique = new Map(letters.map(l => [l.seq, l]))
      const old = await this.entries(bridge, [...unique.keys()])
      const ops: StoreOp[] = this.indexed ? [] : [INDEXED_MARK(this.db)]
      for (const e of old) {
        if (e === undefined) continue
        ops.push({ type: 'del', sublevel: this.db, key: timeKey(e) })
        totals.bytes -= e.size
        totals.counts.set(bridge, (totals.counts.get(bridge) ?? 1) - 1)
      }
      for (const l of unique.values()) {
        const value = encodeMeta(l)
        const e: Entry = { bridge, seq: l.seq, time: l.time, size: value.length }
        ops.push({ type: 'put', sublevel: this.db, key: letterKey(bridge, l.seq), value })
        ops.push({ type: 'put', sublevel: this.db, key: timeKey(e), value: encodeMeta(e.size) })
        totals.bytes += e.size
        totals.counts.set(bridge, (totals.counts.get(bridge) ?? 0) + 1)
      }
      // synced: the bridge's cursor moves past these events right after
      await this.store.write(ops, true)
      this.indexed = true
      if (this.maxBytes > 0 && totals.bytes > this.maxBytes) await this.evict(totals)
    })
  }

  /** The stored entries (time and size) of a bridge's dead letters, undefined where none. */
  private async entries (bridge: string, seqs: number[]): Promise<Array<Entry | undefined>> {
    const values = await this.store.read(async () => await this.db.getMany(seqs.map(seq => letterKey(bridge, seq))))
    return values.map((v, i) => {
      if (v === undefined) return undefined
      const l = decodeMeta<DeadLetter>(v)
      return { bridge, seq: seqs[i] as number, time: l.time, size: v.length }
    })
  }

  /** Removes the oldest dead letters until the store is within its budget. */
  private async evict (totals: NonNullable<DeadLetterStore['totals']>): Promise<void> {
    const ops: StoreOp[] = []
    const gone = new Map<string, EvictEvent>()
    for await (const [key, value] of this.store.entries(this.db, { gt: TIME, lt: INDEXED })) {
      if (totals.bytes <= this.maxBytes) break
      const e = parseTimeKey(key, decodeMeta<number>(value))
      ops.push({ type: 'del', sublevel: this.db, key }, { type: 'del', sublevel: this.db, key: letterKey(e.bridge, e.seq) })
      totals.bytes -= e.size
      totals.counts.set(e.bridge, (totals.counts.get(e.bridge) ?? 1) - 1)
      const ev = gone.get(e.bridge) ?? { bridge: e.bridge, count: 0, fromSeq: e.seq, toSeq: e.seq }
      ev.count++
      ev.fromSeq = Math.min(ev.fromSeq, e.seq)
      ev.toSeq = Math.max(ev.toSeq, e.seq)
      gone.set(e.bridge, ev)
    }
    if (ops.length === 0) return
    await this.store.write(ops, false)
    for (const ev of gone.values()) {
      totals.evicted.set(ev.bridge, (totals.evicted.get(ev.bridge) ?? 0) + ev.count)
      this.emit('evict', ev)
    }
  }

  /** Dead letters of a bridge in sequence order, from `afterSeq` (exclusive). */
  async list (bridge: string, opts: { afterSeq?: number, limit?: number } = {}): Promise<DeadLetter[]> {
    return await this.store.read(async () => {
      const out: DeadLetter[] = []
      const it = this.db.iterator({
        gt: opts.afterSeq === undefined ? `${bridge}!` : letterKey(bridge, opts.afterSeq),
        lt: `${bridge}!~`,
        limit: opts.limit ?? 1000
      })
      for await (const [, value] of it) out.push(decodeMeta<DeadLetter>(value))
      return out
    })
  }

  /** How many dead letters the bridge has. Reads the store on first use only. */
  async count (bridge: string): Promise<number> {
    if (this.totals !== undefined) return this.totals.counts.get(bridge) ?? 0
    return await this.serial(async () => (await this.load()).counts.get(bridge) ?? 0)
  }

  /** Bytes held over all bridges, and dead letters removed to stay within the budget since start, by bridge. Reads the store on first use only. */
  async usage (): Promise<{ bytes: number, evicted: Record<string, number> }> {
    const totals = this.totals ?? await this.serial(async () => await this.load())
    return { bytes: totals.bytes, evicted: Object.fromEntries(totals.evicted) }
  }

  async remove (bridge: string, seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return
    await this.serial(async () => {
      const totals = await this.load()
      const present = await this.entries(bridge, [...new Set(seqs)])
      const ops: StoreOp[] = []
      for (const e of present) {
        if (e === undefined) continue
        ops.push({ type: 'del', sublevel: this.db, key: letterKey(bridge, e.seq) }, { type: 'del', sublevel: this.db, key: timeKey(e) })
        totals.bytes -= e.size
        totals.counts.set(bridge, (totals.counts.get(bridge) ?? 1) - 1)
      }
      if (ops.length > 0) await this.store.write(ops, false)
    })
  }

  /** Removes every dead letter of a bridge (its subscription was deleted); returns how many. */
  async clear (bridge: string): Promise<number> {
    let n = 0
    for (;;) {
      const page = await this.list(bridge, { limit: 1000 })
      if (page.length === 0) return n
      await this.remove(bridge, page.map(l => l.seq))
      n += page.length
    }
  }
}
