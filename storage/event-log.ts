/**
 * The durable event log: append-only, group-committed, kept in segments (log/segment.ts). It is
 * built in layers, each a file with one reason to change:
 *   log/base.ts       shared state, the write lock, the write condition
 *   log/retention.ts  age limit, byte budget, disk reserve, damage: trims and their counts
 *   log/commit.ts     append and group commit: acknowledged means durable, in order
 *   this file         open (recovery), readers and waiters, close
 * Readers go through log/reader.ts and the tail cache (log/tail-cache.ts); bridge cursors are
 * stored apart (cursors.ts).
 *
 * MUST: opening reads the log's bookkeeping and the newest segment, not the whole log; a
 *       legacy log is migrated first.
 * MUST: a clean close commits what was accepted and stores where the next open continues; a
 *       stop without close() makes the next open skip to the reserved block.
 * MUST: damage a reader finds is repaired where LevelDB can, counted and reported once.
 * MUST: a waiter is woken once a record at or after its sequence number is committed, or when
 *       the log closes.
 */
import { join } from 'node:path'
import { LogMeta } from './log/meta.js'
import { LogReader } from './log/reader.js'
import type { Segment } from './log/segment.js'
import { SegmentSet } from './log/segments.js'
import { recover, type Recovered } from './log/recover.js'
import { WRITE_BUFFER_BYTES } from './log/sizing.js'
import { CommittingLog } from './log/commit.js'
import { SETTLED, type RecordWait } from './log/tail-cache.js'
import type { EventLogOptions, LogStats } from './log/base.js'
import type { LogRecord } from './record.js'
import type { Store } from './store.js'
import { whenRoom, type WriteCondition } from './write-condition.js'

export type { DropReason } from './log/format.js'
export type { AppendCallback, CommitEvent, DropEvent, EventLogOptions, IngestCounters, LogStats, StepAtOpen, WhenFull } from './log/base.js'

export class EventLog extends CommittingLog {
  private readonly reader: LogReader
  private readonly repairs = new Map<Segment, Promise<void>>()

  private constructor (store: Store, meta: LogMeta, segments: SegmentSet, opts: EventLogOptions, init: Recovered) {
    super(store, meta, segments, opts, init)
    this.reader = new LogReader({
      segments,
      cache: this.cache,
      now: () => this.opts.now(),
      bounds: () => ({ firstSeq: this.firstSeq, lastSeq: this.lastSeqValue }),
      timeShift: seq => this.timeShift(seq),
      onLost: (fromSeq, toSeq) => this.lost(fromSeq, toSeq),
      repair: async seg => await this.repairSegment(seg)
    })
  }

  /**
   * Opens the log: reads its bookkeeping and the newest segment, not the whole log. On a disk
   * with no room to open a segment it waits for room (`onNoRoom` is told once).
   */
  static async open (store: Store, opts: EventLogOptions & { onNoRoom?: (cause: unknown) => void }): Promise<EventLog> {
    return await whenRoom(async () => await EventLog.openOnce(store, opts), cause => opts.onNoRoom?.(cause))
  }

  private static async openOnce (store: Store, opts: EventLogOptions): Promise<EventLog> {
    const meta = new LogMeta(store)
    const stored = await meta.load()
    const repaired: string[] = []
    const segments = new SegmentSet(join(store.dataDir, 'events'), { writeBufferSize: WRITE_BUFFER_BYTES, onRepair: dir => repaired.push(dir) })
    if (stored.legacy) {
      const { migrateLegacyLog } = await import('./log/migrate.js')
      await migrateLegacyLog(store, meta, segments.root)
      return await EventLog.openOnce(store, opts)
    }
    const found = await recover(meta, stored, segments)
    const log = new EventLog(store, meta, segments, opts, found)
    log.atOpen.repaired.push(...repaired)
    if (found.unclean !== undefined) log.atOpen.unclean = found.unclean
    await log.noticeStepWhileClosed(stored.clock)
    for (const range of found.lost) log.lost(range.fromSeq, range.toSeq)
    log.opening = false
    // from here on, a stop without close() is unclean: the next open skips to the reserved block
    await meta.putOpened(found.lastSeq)
    if (log.stateDirty) await log.writeState()
    return log
  }

  stats (): LogStats {
    const t = this.segments.totals()
    return { firstSeq: this.firstSeq, lastSeq: this.lastSeqValue, records: t.records, bytes: t.bytes, drops: { ...this.state.drops }, segments: this.segments.list.length }
  }

  /** Whether the log can store: `ok`, or why its commits are held. */
  writeCondition (): WriteCondition {
    return this.condition
  }

  /** Up to `limit` committed records with seq >= fromSeq, in order. A batch that fails its checks is skipped and counted. */
  async read (fromSeq: number, limit: number): Promise<LogRecord[]> {
    return await this.reader.read(fromSeq, limit)
  }

  /** The sequence number of the first record received at or after `timeMs` (lastSeq + 1 if none). */
  async seekTime (timeMs: number): Promise<number> {
    return await this.reader.seekTime(timeMs)
  }

  /** A wait for a record with sequence number >= seq, ended by its commit or by the wait's `cancel`. */
  wait (seq: number): RecordWait {
    if (this.lastSeqValue >= seq || this.closed) {
      this.cache.followed(this.opts.now())
      return SETTLED
    }
    return this.cache.wait(seq, this.opts.now())
  }

  /** Resolves once a record with sequence number >= seq is committed, or when `signal` aborts. */
  async waitFor (seq: number, signal?: AbortSignal): Promise<void> {
    // an aborted wait ends at once, as a wait for a record already committed does
    const wait = this.wait(signal?.aborted === true ? 0 : seq)
    if (signal === undefined) return await wait.done
    signal.addEventListener('abort', wait.cancel, { once: true })
    try {
      await wait.done
    } finally {
      signal.removeEventListener('abort', wait.cancel)
    }
  }

  /**
   * Reads every record, checking each batch: damage anywhere is found now, repaired where LevelDB
   * can, counted and reported (as `drop` events with reason `corrupt`). Returns what it read.
   */
  async verify (): Promise<{ records: number, segments: number }> {
    let from = this.firstSeq
    let records = 0
    while (from <= this.lastSeqValue) {
      const batch = await this.reader.read(from, 10_000)
      const last = batch[batch.length - 1]
      if (last === undefined) break
      records += batch.length
      from = last.seq + 1
    }
    return { records, segments: this.segments.list.length }
  }

  /** Stops accepting appends, commits what was accepted (giving up on a disk that refuses), and resolves. Idempotent. */
  async close (): Promise<void> {
    if (!this.closed) {
      this.closed = true
      this.givingUp = true
      this.wakeRetry?.()
      await this.flush()
      this.tail.stop()
      this.disk.stop()
      for (const resolve of this.cache.releaseAll()) resolve()
      // a clean stop: the next open continues right after the last record
      if (this.condition.state === 'ok' && this.store.writeCondition().state === 'ok') {
        await this.noteClockSynced()
        const active = this.segments.active
        await this.meta.putCleanClose(this.lastSeqValue, active === undefined || active.empty || active.sealed ? undefined : { id: active.id, summary: active.summary() }).catch(() => {})
      }
      await this.segments.close()
    }
  }

  /** A segment LevelDB reports corrupt: seal it if it is the active one, then let LevelDB's repair keep what it can read. */
  private async repairSegment (seg: Segment): Promise<void> {
    let running = this.repairs.get(seg)
    if (running === undefined) {
      running = this.withWriteLock(async () => {
        if (seg === this.segments.active) await this.rotate()
        await seg.repair()
        this.emit('repaired', { dir: seg.dir })
      }).finally(() => this.repairs.delete(seg))
      this.repairs.set(seg, running)
    }
    await running
  }
}
