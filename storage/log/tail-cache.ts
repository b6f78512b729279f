/**
 * The newest committed records, kept in memory while a reader follows the log, and the readers
 * waiting for new ones.
 *
 * SHOULD: a bridge at the tail reads what was just committed without going to disk.
 * MUST: records are kept only while some reader follows (otherwise they would only be copied by the
 *       young-generation collector and promoted, for nothing), and only briefly (see remember).
 */
import type { PendingRecord } from '../codec.js'

/** Records kept in memory for readers at the tail (bounded: a few hundred KiB of payloads)... */
const RECENT_RECORDS = 2048
/** ...for as long as a reader at the tail may still ask for them (see remember)... */
const RECENT_MS = 100
/** ...and only while some reader follows the log: one waits for new records, or has read or waited within this time. */
const FOLLOW_MS = 5000

/** A reader's wait for a record: `done` resolves once the record is committed, or when `cancel` is called. */
export interface RecordWait {
  readonly done: Promise<void>
  readonly cancel: () => void
}

/** A wait that is over before it began (the record is there, or the log is closed). */
export const SETTLED: RecordWait = { done: Promise.resolve(), cancel: () => {} }

class Waiter implements RecordWait {
  readonly done: Promise<void>
  resolve: () => void = () => {}
  constructor (readonly seq: number, private readonly cache: TailCache) {
    this.done = new Promise<void>(resolve => { this.resolve = resolve })
  }

  readonly cancel = (): void => { this.cache.cancel(this) }
}

export class TailCache {
  private recent: PendingRecord[] = []
  private waiters: Waiter[] = []
  /** When a reader last read or began to wait: with nobody following, the cache is not kept. */
  private followedAt = -Infinity

  followed (now: number): void {
    this.followedAt = now
  }

  /** Up to `limit` records from `from`, when the cache holds `from`; otherwise undefined. */
  get (from: number, limit: number): PendingRecord[] | undefined {
    const oldest = this.recent[0]
    if (oldest === undefined || from < oldest.seq) return undefined
    const start = from - oldest.seq
    if (start >= this.recent.length) return undefined
    return this.recent.slice(start, start + limit)
  }

  remember (records: PendingRecord[]): void {
    const newest = records[records.length - 1] as PendingRecord
    // A reader that comes back reads from disk until the cache holds what it asks for.
    if (this.waiters.length === 0 && newest.time - this.followedAt > FOLLOW_MS) {
      if (this.recent.length > 0) this.recent = []
      return
    }
    const last = this.recent[this.recent.length - 1]
    if (last !== undefined && (records[0] as PendingRecord).seq !== last.seq + 1) this.recent = []
    // a group larger than the cache (a long stall at a high rate) replaces it: spreading a group of
    // 100,000 records into push() would exceed the call's argument limit
    if (records.length >= RECENT_RECORDS) this.recent = records.slice(-RECENT_RECORDS)
    else this.recent.push(...records)
    // At most RECENT_RECORDS, none received more than RECENT_MS before the newest. Kept longer (at a
    // low publish rate 2,048 records span seconds), every record would outlive V8's young generation
    // and wait for a full collection, whose pauses held up deliveries and acknowledgements.
    const cutoff = newest.time - RECENT_MS
    let drop = Math.max(0, this.recent.length - RECENT_RECORDS)
    while (drop < this.recent.length && (this.recent[drop] as PendingRecord).time < cutoff) drop++
    if (drop > 0) this.recent.splice(0, drop)
  }

  /** Forgets cached records below `firstSeq` (retention removed them). */
  trim (firstSeq: number): void {
    const oldest = this.recent[0]
    if (oldest !== undefined && oldest.seq < firstSeq) this.recent = this.recent.filter(r => r.seq >= firstSeq)
  }

  /**
   * A wait for a record with sequence number >= seq, ended by `wake` or by its `cancel`. A reader
   * that waits often (a bridge at the tail) ends its waits itself: an AbortSignal and its listeners
   * for each wait were most of what such a reader allocated, and lived long enough to be promoted.
   */
  wait (seq: number, now: number): RecordWait {
    this.followedAt = now
    const waiter = new Waiter(seq, this)
    this.waiters.push(waiter)
    return waiter
  }

  /** Ends a wait before its record is committed (no-op once it has ended). */
  cancel (waiter: RecordWait): void {
    const i = this.waiters.indexOf(waiter as Waiter)
    if (i === -1) return
    this.waiters.splice(i, 1)[0]?.resolve()
  }

  wake (lastSeq: number): void {
    const waiters = this.waiters
    if (waiters.length === 0) return
    // usually every waiter is ready (one bridge at the tail): no lists to build
    if (waiters.every(w => w.seq <= lastSeq)) {
      this.waiters = []
      for (const w of waiters) w.resolve()
      return
    }
    const ready = waiters.filter(w => w.seq <= lastSeq)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter(w => w.seq > lastSeq)
    for (const w of ready) w.resolve()
  }

  /** Every waiter's resolve, taken out (the log is closing). */
  releaseAll (): Array<() => void> {
    const all = this.waiters.map(w => w.resolve)
    this.waiters = []
    return all
  }
}
