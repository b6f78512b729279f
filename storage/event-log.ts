/**
 * The durable event log: append-only, group-committed, kept in segments (log/segment.ts).
 *
 * MUST: an append's callback runs only after its record is committed (fsynced when durability is
 *       `sync`); callbacks run in append order.
 * MUST: sequence numbers are never issued twice, across restarts, retention and a store that lost
 *       its newest writes: they are reserved in blocks stored apart from the batches (log/meta.ts).
 * MUST: with `drop-oldest` the log holds at most `maxBytes` plus the group being committed: room is
 *       made before a group is written, never from the group itself.
 * MUST: a failed commit is held, retried with backoff and acknowledged once stored; appends wait
 *       behind it. The state (`ok`, `full`, `write-failing`) changes once per change.
 * MUST: every record removed (retention, space, corruption) or refused is counted and reported.
 * SHOULD: appends that arrive while a commit is in flight go out as one write.
 */
import { EventEmitter } from 'node:events'
import { join } from 'node:path'
import { StorageError } from './errors.js'
import type { PendingRecord } from './codec.js'
import { seqKey } from './keys.js'
import { encodeStoredBatch, type DropCounts, type DropReason, type LogState } from './log/format.js'
import { DiskSpace, statfsFree } from './log/disk-space.js'
import { LogMeta } from './log/meta.js'
import { SeqReservation, TailMarker } from './log/numbering.js'
import { LogReader } from './log/reader.js'
import type { Segment } from './log/segment.js'
import { SegmentSet } from './log/segments.js'
import { recover, type Recovered } from './log/recover.js'
import { rotationDue, segmentBytes, WRITE_BUFFER_BYTES } from './log/sizing.js'
import { TailCache } from './log/tail-cache.js'
import type { AppendInput, LogRecord } from './record.js'
import type { Store } from './store.js'
import { backoff, describeWriteError, sameCondition, whenRoom, type WriteCondition } from './write-condition.js'

export type { DropReason } from './log/format.js'
export type WhenFull = 'drop-oldest' | 'reject-new'

export interface EventLogOptions {
  durability: 'sync' | 'async'
  /** 0 disables the age limit. */
  maxAgeMs: number
  /** 0 disables the byte budget. */
  maxBytes: number
  whenFull: WhenFull
  /** Free space the data directory's file system must keep; below it the log is full. 0: no check. */
  reserveFreeBytes?: number
  /** Accepted bytes not yet committed above which the log asks callers to stop sending ('pressure'). */
  maxPendingBytes?: number
  now?: () => number
  /** Free bytes of the file system holding the log (statfs); replaceable in tests. */
  freeBytes?: (dir: string) => Promise<number>
}

export type AppendCallback = (err: Error | null, seq?: number) => void

export interface LogStats {
  /** Oldest sequence number present; `lastSeq + 1` when the log is empty. */
  firstSeq: number
  /** Newest committed sequence number; 0 before the first record. */
  lastSeq: number
  records: number
  bytes: number
  drops: DropCounts
  /** Segments on disk (each a LevelDB of its own). */
  segments: number
}

/** Accepted appends since the log was opened, by QoS: what reached the log from clients. */
export interface IngestCounters {
  records: [number, number, number]
  bytes: [number, number, number]
}

export interface DropEvent { reason: DropReason, records: number, fromSeq?: number, toSeq?: number }
export interface CommitEvent { firstSeq: number, lastSeq: number, records: number, bytes: number, durationMs: number }

interface Group { records: PendingRecord[], cbs: Array<AppendCallback | undefined>, size: number }


function recordSize (input: AppendInput): number {
  return input.payload.length + input.topic.length + input.clientId.length + 12
}

export class EventLog extends EventEmitter {
  private readonly store: Store
  private readonly meta: LogMeta
  readonly segments: SegmentSet
  private readonly cache = new TailCache()
  private readonly reader: LogReader
  private opts: Required<EventLogOptions>
  readonly ingested: IngestCounters = { records: [0, 0, 0], bytes: [0, 0, 0] }
  /** Commit attempts that failed (each retried). */
  writeErrors = 0
  /** What open() found: runs of records lost to damage, segments LevelDB repaired. (Later finds are events.) */
  readonly atOpen: { lost: DropEvent[], repaired: string[], unclean?: { lastSeq: number, nextSeq: number } } = { lost: [], repaired: [] }
  private opening = true
  /** The log's stored state (first sequence number kept, drop counters), newest first. */
  private state: LogState
  private lastSeqValue: number
  private nextSeq: number
  private readonly reservation: SeqReservation
  private readonly tail: TailMarker
  private readonly disk: DiskSpace
  private pending: PendingRecord[] = []
  private pendingCbs: Array<AppendCallback | undefined> = []
  private pendingSize = 0
  /** Accepted and not yet committed: what waits in memory. */
  private unstoredBytes = 0
  private pressure = false
  /** The state changed (a trim, a count) and no commit carried it yet. */
  private stateDirty = false
  /** Segments taken out of the log whose removal from disk waits for the state that excludes them. */
  private doomed: Segment[] = []
  private dropEvents: DropEvent[] = []
  private running = false
  private scheduled = false
  private closed = false
  private givingUp = false
  private idle: Array<() => void> = []
  private condition: WriteCondition = { state: 'ok' }
  private wakeRetry: (() => void) | undefined
  private rotateFirst = false
  /** Held by whatever changes the segments: a commit attempt, a rotation, a repair. */
  private writeLock: Promise<void> = Promise.resolve()
  private readonly repairs = new Map<Segment, Promise<void>>()
  /** Runs of sequence numbers already reported lost. */
  private knownLost: Array<[number, number]>

  private constructor (store: Store, meta: LogMeta, segments: SegmentSet, opts: EventLogOptions, init: Recovered) {
    super()
    this.store = store
    this.meta = meta
    this.segments = segments
    this.opts = { now: Date.now, reserveFreeBytes: 0, maxPendingBytes: 0, freeBytes: statfsFree, ...opts }
    this.state = init.state
    this.lastSeqValue = init.lastSeq
    this.nextSeq = init.nextSeq
    this.reservation = new SeqReservation(meta, init.reserved)
    this.tail = new TailMarker(meta, () => this.lastSeqValue)
    this.disk = new DiskSpace([segments.root, store.dataDir], this.opts.freeBytes)
    this.knownLost = init.knownLost
    // batches inside a segment are consecutive: numbering that skipped ahead starts a new one
    this.rotateFirst = segments.active !== undefined && !segments.active.empty && segments.active.lastSeq + 1 !== init.nextSeq
    this.reader = new LogReader({
      segments,
      cache: this.cache,
      now: () => this.opts.now(),
      bounds: () => ({ firstSeq: this.firstSeq, lastSeq: this.lastSeqValue }),
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
    for (const range of found.lost) log.lost(range.fromSeq, range.toSeq)
    log.opening = false
    // from here on, a stop without close() is unclean: the next open skips to the reserved block
    await meta.putOpened(found.lastSeq)
    if (log.stateDirty) await log.writeState()
    return log
  }

  /**
   * Appends a record. The callback runs once the record is committed, with its sequence number,
   * or with FG_ERR_STORE_FULL (refused: `reject-new` and no room) or FG_ERR_STORE_CLOSED.
   */
  append (input: AppendInput, cb?: AppendCallback): void {
    if (this.closed) {
      cb?.(new StorageError('FG_ERR_STORE_CLOSED', 'event log is closed'))
      return
    }
    const size = recordSize(input)
    if (this.opts.whenFull === 'reject-new') {
      const overBudget = this.opts.maxBytes > 0 && this.bytes + this.pendingSize + size > this.opts.maxBytes
      const diskLow = this.opts.reserveFreeBytes > 0 && this.disk.last < this.opts.reserveFreeBytes
      if (overBudget || diskLow) {
        this.state.drops.rejected++
        this.stateDirty = true
        this.emit('drop', { reason: 'rejected', records: 1 } satisfies DropEvent)
        cb?.(new StorageError('FG_ERR_STORE_FULL', overBudget
          ? `event log is full (storage.retention.maxBytes ${this.opts.maxBytes} bytes)`
          : `the disk is below storage.reserveFreeBytes (${this.opts.reserveFreeBytes} bytes free needed)`))
        return
      }
    }
    this.ingested.records[input.qos]++
    this.ingested.bytes[input.qos] += input.payload.length
    // a record of its own, of one shape whatever the caller passed: the commit path reads every field
    const rec: PendingRecord = {
      seq: this.nextSeq++,
      time: this.opts.now(),
      topic: input.topic,
      payload: input.payload,
      qos: input.qos,
      retain: input.retain,
      clientId: input.clientId,
      username: input.username
    }
    this.pending.push(rec)
    this.pendingCbs.push(cb)
    this.pendingSize += size
    this.unstoredBytes += size
    if (!this.pressure && this.opts.maxPendingBytes > 0 && this.unstoredBytes > this.opts.maxPendingBytes) {
      this.pressure = true
      this.emit('pressure', true)
    }
    this.schedule()
  }

  /** Changes the retention limits of a running log (hot reload); the byte budget applies at once. */
  setRetention (limits: Partial<Pick<EventLogOptions, 'maxAgeMs' | 'maxBytes' | 'whenFull' | 'reserveFreeBytes' | 'maxPendingBytes'>>): void {
    this.opts = { ...this.opts, ...limits }
    if (this.opts.whenFull === 'drop-oldest' && this.opts.maxBytes > 0 && this.bytes > this.opts.maxBytes) {
      this.dropOldestWhile(() => this.bytes > this.opts.maxBytes, 'maxBytes')
      this.schedule()
    }
  }

  /** Resolves when everything appended so far is committed (or given up at close). */
  async flush (): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.length === 0 && !this.stateDirty && this.doomed.length === 0) return
    const idle = new Promise<void>(resolve => this.idle.push(resolve))
    this.schedule()
    await idle
  }

  stats (): LogStats {
    const t = this.segments.totals()
    return { firstSeq: this.firstSeq, lastSeq: this.lastSeqValue, records: t.records, bytes: t.bytes, drops: { ...this.state.drops }, segments: this.segments.list.length }
  }

  /** Whether the log can store: `ok`, or why its commits are held. */
  writeCondition (): WriteCondition {
    return this.condition
  }

  /** Bytes accepted and not yet committed. */
  get pendingBytes (): number {
    return this.unstoredBytes
  }

  get lastSeq (): number { return this.lastSeqValue }
  get firstSeq (): number {
    const first = this.segments.list.find(s => !s.empty)
    return first === undefined ? this.lastSeqValue + 1 : Math.max(first.firstSeq, this.state.firstSeq)
  }

  private get bytes (): number {
    return this.segments.totals().bytes
  }

  /** Up to `limit` committed records with seq >= fromSeq, in order. A batch that fails its checks is skipped and counted. */
  async read (fromSeq: number, limit: number): Promise<LogRecord[]> {
    return await this.reader.read(fromSeq, limit)
  }

  /** The sequence number of the first record received at or after `timeMs` (lastSeq + 1 if none). */
  async seekTime (timeMs: number): Promise<number> {
    return await this.reader.seekTime(timeMs)
  }

  /** Resolves once a record with sequence number >= seq is committed, or when `signal` aborts. */
  async waitFor (seq: number, signal?: AbortSignal): Promise<void> {
    if (this.lastSeqValue >= seq || this.closed) {
      this.cache.followed(this.opts.now())
      return
    }
    await this.cache.waitFor(seq, this.opts.now(), signal)
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

  /** Removes records older than maxAge, a segment at a time. Resolves with the number of records dropped. */
  async sweep (): Promise<number> {
    if (this.opts.maxAgeMs <= 0 || this.closed) return 0
    const cutoff = this.opts.now() - this.opts.maxAgeMs
    const active = this.segments.active
    if (active !== undefined && !active.empty && active.lastTime < cutoff) {
      // an idle log: its newest segment aged out whole
      await this.withWriteLock(async () => { if (this.segments.active === active) await this.rotate() })
    }
    const dropped = this.dropOldestWhile(seg => seg.lastTime < cutoff, 'maxAge')
    if (dropped > 0) {
      this.schedule()
      await this.flush()
    }
    return dropped
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
        const active = this.segments.active
        await this.meta.putCleanClose(this.lastSeqValue, active === undefined || active.empty || active.sealed ? undefined : { id: active.id, summary: active.summary() }).catch(() => {})
      }
      await this.segments.close()
    }
  }

  private schedule (): void {
    if (this.running || this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      void this.run()
    })
  }

  private take (): Group | undefined {
    if (this.pending.length === 0) return undefined
    const group = { records: this.pending, cbs: this.pendingCbs, size: this.pendingSize }
    this.pending = []
    this.pendingCbs = []
    this.pendingSize = 0
    return group
  }

  /** One commit at a time; the next group's write starts before the previous group is acknowledged. */
  private async run (): Promise<void> {
    if (this.running) return
    this.running = true
    try {
      let current = this.take()
      if (current === undefined) {
        if (this.stateDirty || this.doomed.length > 0) await this.writeState()
      } else {
        let writing = this.writeGroup(current)
        for (;;) {
          const ok = await writing
          const next = ok ? this.take() : undefined
          if (next !== undefined) writing = this.writeGroup(next)
          this.settle(current, ok)
          if (next === undefined) break
          current = next
        }
      }
    } finally {
      this.running = false
      if (this.pending.length > 0 || (this.stateDirty && !this.givingUp)) this.schedule()
      else for (const resolve of this.idle.splice(0)) resolve()
    }
  }

  /** Acknowledges a stored group (in order) or refuses it when the log closed before it could be stored. */
  private settle (group: Group, ok: boolean): void {
    this.unstoredBytes -= group.size
    if (this.pressure && this.unstoredBytes <= this.opts.maxPendingBytes / 2) {
      this.pressure = false
      this.emit('pressure', false)
    }
    if (!ok) {
      const err = new StorageError('FG_ERR_STORE_CLOSED', 'event log closed before the publish could be stored')
      for (const cb of group.cbs) cb?.(err)
      // later appends cannot be stored either: the log is closing
      const rest = this.take()
      if (rest !== undefined) this.settle(rest, false)
      return
    }
    const first = (group.records[0] as PendingRecord).seq
    for (let i = 0; i < group.cbs.length; i++) group.cbs[i]?.(null, first + i)
    this.cache.wake(this.lastSeqValue)
  }

  /** The state to store with the next write. */
  private nextState (): LogState {
    return { gen: this.state.gen + 1, firstSeq: this.firstSeqAfterDrops(), drops: { ...this.state.drops } }
  }

  private firstSeqAfterDrops (): number {
    return Math.max(this.state.firstSeq, this.firstSeq)
  }

  /** Writes a group, holding and retrying it while the disk refuses. Resolves false only when the log closed first. */
  private async writeGroup (group: Group): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      if (this.givingUp && attempt > 0) return false
      const failed = await this.withWriteLock(async () => await this.attempt(group))
      if (failed === undefined) return true
      if (this.givingUp) return false
      const cond = describeWriteError(failed.err)
      this.writeErrors++
      this.emit('write-error', cond)
      this.setCondition(cond)
      if (cond.state === 'full' && this.opts.whenFull === 'drop-oldest') {
        // the disk is full: the oldest segments make room, as the budget would
        await this.withWriteLock(async () => { await this.freeDisk('reserveFreeBytes', () => true) })
      }
      await this.pause(backoff(attempt))
      // LevelDB keeps a failed sync's error until the database is opened again
      await failed.seg?.close().catch(() => {})
      this.disk.forget()
    }
  }

  /** One try at storing a group; returns what failed, or undefined once it is stored. */
  private async attempt (group: Group): Promise<{ err: unknown, seg: Segment | undefined } | undefined> {
    const records = group.records
    const first = records[0] as PendingRecord
    const last = records[records.length - 1] as PendingRecord
    let seg: Segment | undefined
    try {
      await this.reservation.reserve(last.seq, this.nextSeq)
      await this.makeRoom()
      seg = await this.segments.ensureActive()
      if (this.rotateFirst || rotationDue(seg, this.opts, this.opts.now())) {
        await this.rotate()
        seg = await this.segments.ensureActive()
      }
      let value = encodeStoredBatch(records, seg.bytes, this.nextState())
      if (await this.fitBudget(value.length)) {
        seg = await this.segments.ensureActive()
        value = encodeStoredBatch(records, seg.bytes, this.nextState())
      }
      const started = performance.now()
      await seg.put(seqKey(first.seq), value, this.opts.durability === 'sync')
      this.disk.wrote(value.length)
      if (seg.empty) {
        seg.firstSeq = first.seq
        seg.firstTime = first.time
      }
      seg.lastSeq = last.seq
      seg.records += records.length
      seg.bytes += value.length
      seg.lastTime = last.time
      this.segments.grew(records.length, value.length)
      this.state = this.nextState()
      this.stateDirty = false
      this.lastSeqValue = last.seq
      // below the reserve the log stays full (reject-new refuses) until the disk has room again
      if (!(this.condition.state === 'full' && this.condition.reason === 'reserveFreeBytes')) this.setCondition({ state: 'ok' })
      this.cache.remember(records)
      this.afterWrite()
      this.emit('commit', { firstSeq: first.seq, lastSeq: last.seq, records: records.length, bytes: value.length, durationMs: performance.now() - started } satisfies CommitEvent)
      if (seg.bytes >= segmentBytes(this.opts.maxBytes) / 2) this.segments.prepareNext()
      this.tail.committed()
      return undefined
    } catch (err) {
      return { err, seg }
    }
  }

  private async withWriteLock<T> (fn: () => Promise<T>): Promise<T> {
    const before = this.writeLock
    let release = (): void => {}
    this.writeLock = new Promise<void>(resolve => { release = resolve })
    await before
    try {
      return await fn()
    } finally {
      release()
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

  /** Stores the state alone (a trim with no commit to carry it), then removes what it excludes. */
  private async writeState (): Promise<void> {
    const state = this.nextState()
    await this.meta.putState(state).catch(() => {})
    this.state = state
    this.stateDirty = false
    this.afterWrite()
  }

  /** After a write that stored the state: report drops, remove excluded segments from disk. */
  private afterWrite (): void {
    for (const e of this.dropEvents.splice(0)) this.emit('drop', e)
    const doomed = this.doomed.splice(0)
    if (doomed.length === 0) return
    const ops = doomed.map(seg => this.meta.dropSegmentOp(seg.id))
    void (async () => {
      for (const seg of doomed) await seg.remove().catch((err: unknown) => this.emit('warning', err))
      await this.meta.write(ops, false).catch(() => {})
    })()
  }

  private async rotate (): Promise<void> {
    this.rotateFirst = false
    const sealed = await this.segments.rotate()
    // the summary lets the next open skip reading the sealed segment; without it, it is read again
    if (sealed !== undefined) void this.meta.write([this.meta.segmentOp(sealed.id, sealed.summary())], false).catch(() => {})
  }

  /**
   * drop-oldest: removes the oldest segments until `bytes` more fit the budget. The group being
   * committed is never among them. Returns whether anything was dropped.
   */
  private async fitBudget (bytes: number): Promise<boolean> {
    if (this.opts.whenFull !== 'drop-oldest' || this.opts.maxBytes <= 0) return false
    let dropped = false
    while (this.bytes + bytes > this.opts.maxBytes) {
      const active = this.segments.active
      if (active === undefined || this.segments.list.every(s => s.empty)) break
      if (this.segments.list.length === 1) await this.rotate()
      if (this.dropOldestWhile((_, i) => i === 0, 'maxBytes') === 0) break
      dropped = true
    }
    return dropped
  }

  /**
   * Takes the oldest segments out of the log while `take` says so (never the active segment),
   * counting their records as dropped for `reason`. Their removal from disk follows the next
   * stored state. Returns the number of records dropped.
   */
  private dropOldestWhile (take: (seg: Segment, i: number) => boolean, reason: DropReason): number {
    let records = 0
    let fromSeq = NaN
    let toSeq = NaN
    for (let i = 0; ; i++) {
      const seg = this.segments.oldest
      if (seg === undefined || seg === this.segments.active || !take(seg, i)) break
      this.segments.shift()
      this.doomed.push(seg)
      if (seg.empty) continue
      records += seg.records
      if (Number.isNaN(fromSeq)) fromSeq = seg.firstSeq
      toSeq = seg.lastSeq
    }
    if (records > 0) {
      this.state.drops[reason] += records
      // one event (one log line) per trim, with the range it removed
      this.dropEvents.push({ reason, records, fromSeq, toSeq })
      this.cache.trim(toSeq + 1)
    }
    if (records > 0 || this.doomed.length > 0) this.stateDirty = true
    this.state.firstSeq = Math.max(this.state.firstSeq, this.firstSeq)
    return records
  }

  /**
   * Keeps `reserveFreeBytes` free on the disk. drop-oldest removes the oldest segments, and holds
   * the commit when nothing is left to remove; reject-new refuses new appends (see append) while
   * the records already accepted are stored.
   */
  private async makeRoom (): Promise<void> {
    const reserve = this.opts.reserveFreeBytes
    if (reserve <= 0) return
    for (let attempt = 0; ; attempt++) {
      const free = await this.disk.free(reserve)
      if (free >= reserve) {
        this.reserveRecovered()
        return
      }
      if (this.opts.whenFull === 'drop-oldest' && await this.freeDisk('reserveFreeBytes', () => true)) continue
      this.setCondition({ state: 'full', reason: 'reserveFreeBytes', message: `${free} bytes free on the disk, storage.reserveFreeBytes is ${reserve}` })
      this.disk.watch(free => free >= this.opts.reserveFreeBytes || this.closed, () => {
        this.reserveRecovered()
        this.wakeRetry?.()
      })
      if (this.opts.whenFull === 'reject-new') return
      if (this.givingUp) throw new Error('the log is closing')
      await this.pause(backoff(attempt))
    }
  }

  private reserveRecovered (): void {
    if (this.condition.state === 'full' && this.condition.reason === 'reserveFreeBytes') this.setCondition({ state: 'ok' })
  }

  /** Drops the oldest segment for space and removes it from disk at once. Returns whether one went. */
  private async freeDisk (reason: DropReason, take: () => boolean): Promise<boolean> {
    if (this.segments.list.length === 1 && this.segments.active !== undefined && !this.segments.active.empty) await this.rotate().catch(() => {})
    if (this.dropOldestWhile((_, i) => i === 0 && take(), reason) === 0 && this.doomed.length === 0) return false
    // the state that excludes it may not be storable on a full disk; the segment goes first
    // (at the next open a missing segment is simply not there), its count is stored when it can be
    const doomed = this.doomed.splice(0)
    for (const seg of doomed) await seg.remove().catch(() => {})
    this.meta.write([...doomed.map(seg => this.meta.dropSegmentOp(seg.id)), this.meta.stateOp(this.nextState())], false).catch(() => {})
    for (const e of this.dropEvents.splice(0)) this.emit('drop', e)
    this.disk.forget()
    return true
  }

  private async pause (ms: number): Promise<void> {
    if (this.givingUp) return
    await new Promise<void>(resolve => {
      const timer = setTimeout(done, ms)
      function done (): void {
        clearTimeout(timer)
        resolve()
      }
      this.wakeRetry = done
    })
    this.wakeRetry = undefined
  }

  /** Stops retrying held commits: they and the appends behind them are refused (the gateway stops on a failing disk). */
  abandon (): void {
    this.givingUp = true
    this.wakeRetry?.()
  }

  /** Retries a held commit now (the operator freed space). */
  retryNow (): void {
    this.disk.forget()
    this.wakeRetry?.()
  }

  private setCondition (next: WriteCondition): void {
    const prev = this.condition
    if (sameCondition(prev, next)) return
    this.condition = next
    this.emit('condition', next, prev)
  }

  /** Records `fromSeq`..`toSeq` as lost to damage on disk: counted, stored and reported once. */
  private lost (fromSeq: number, toSeq: number): void {
    // only the part no earlier report covered
    let from = fromSeq
    for (const [a, b] of this.knownLost) if (a <= from && b >= from) from = b + 1
    if (toSeq < from) return
    const records = toSeq - from + 1
    this.knownLost.push([from, toSeq])
    this.state.drops.corrupt += records
    this.stateDirty = true
    void this.meta.write([this.meta.lostOp(from, toSeq)], false).catch(() => {})
    const e: DropEvent = { reason: 'corrupt', records, fromSeq: from, toSeq }
    if (this.opening) this.atOpen.lost.push(e)
    else this.emit('drop', e)
    if (!this.closed) this.schedule()
  }
}
