/**
 * The durable event log: append-only, group-committed, keyed by sequence number.
 *
 * MUST: an append's callback runs only after its record is in LevelDB (fsynced
 *       when durability is `sync`); callbacks run in append order.
 * MUST: sequence numbers are never reused, across restarts and retention too.
 * MUST: every record removed by retention or refused for space is counted.
 * SHOULD: appends that arrive while a commit is in flight go out as one write.
 */
import { EventEmitter } from 'node:events'
import { FlowgateError } from '../gateway/errors.js'
import { decodeBatch, decodeMeta, encodeBatch, encodeMeta, type PendingRecord } from './codec.js'
import { parseSeqKey, parseTimeKey, seqKey, timeKey, timeKeyFloor } from './keys.js'
import type { AppendInput, LogRecord } from './record.js'
import type { Store, Sublevel } from './store.js'

export type DropReason = 'maxAge' | 'maxBytes' | 'rejected'
export type WhenFull = 'drop-oldest' | 'reject-new'

export interface EventLogOptions {
  durability: 'sync' | 'async'
  /** 0 disables the age limit. */
  maxAgeMs: number
  /** 0 disables the byte budget. */
  maxBytes: number
  whenFull: WhenFull
  now?: () => number
}

export type AppendCallback = (err: Error | null, seq?: number) => void

export interface LogStats {
  /** Oldest sequence number present; `lastSeq + 1` when the log is empty. */
  firstSeq: number
  /** Newest committed sequence number; 0 before the first record. */
  lastSeq: number
  records: number
  bytes: number
  drops: Record<DropReason, number>
}

/** Accepted appends since the log was opened, by QoS: what reached the log from clients. */
export interface IngestCounters {
  records: [number, number, number]
  bytes: [number, number, number]
}

export interface DropEvent { reason: DropReason, records: number, fromSeq?: number, toSeq?: number }
export interface CommitEvent { firstSeq: number, lastSeq: number, records: number, bytes: number, durationMs: number }

interface Head {
  firstSeq: number
  lastSeq: number
  records: number
  bytes: number
  drops: Record<DropReason, number>
}

/** Batch index entry: [records, bytes, firstTime, lastTime]. */
type BatchInfo = [number, number, number, number]

interface Trim { reason: DropReason, ops: Array<{ type: 'del', sublevel: Sublevel, key: string }>, firstSeq: number, records: number, bytes: number }

const HEAD_KEY = 'head'
/** Records kept in memory for readers at the tail (bounded: a few hundred KiB of payloads)... */
const RECENT_RECORDS = 2048
/** ...for as long as a reader at the tail may still ask for them (see remember)... */
const RECENT_MS = 100
/** ...and only while some reader follows the log: one waits for new records, or has read or waited within this time. */
const FOLLOW_MS = 5000

export class EventLog extends EventEmitter {
  private readonly log: Sublevel
  private readonly bidx: Sublevel
  private readonly tidx: Sublevel
  private readonly meta: Sublevel
  private readonly cursorsDb: Sublevel
  /** Cursor updates riding the next group commit (newest per bridge), and who waits for them. */
  private cursorWrites = new Map<string, number>()
  private cursorWaiters: Array<{ resolve: () => void, reject: (err: Error) => void }> = []
  private opts: Required<EventLogOptions>
  readonly ingested: IngestCounters = { records: [0, 0, 0], bytes: [0, 0, 0] }
  private readonly head: Head
  private nextSeq: number
  private pending: PendingRecord[] = []
  private pendingCbs: Array<AppendCallback | undefined> = []
  private pendingBytes = 0
  private trims: Trim[] = []
  private writing = false
  private scheduled = false
  private trimming: Promise<number> | undefined
  private closed = false
  private idle: Array<() => void> = []
  private waiters: Array<{ seq: number, resolve: () => void }> = []
  /** The newest committed records, in order, so a bridge at the tail reads them without LevelDB. */
  private recent: PendingRecord[] = []
  /** When a reader last read or began to wait (opts.now): with nobody following, the cache is not kept. */
  private followedAt = -Infinity

  private constructor (store: Store, head: Head, opts: EventLogOptions) {
    super()
    this.log = store.sublevel('log')
    this.bidx = store.sublevel('bidx')
    this.tidx = store.sublevel('tidx')
    this.meta = store.sublevel('meta')
    this.cursorsDb = store.sublevel('cursors')
    this.opts = { now: Date.now, ...opts }
    this.head = head
    this.nextSeq = head.lastSeq + 1
  }

  /** Opens the log. Cost does not depend on the number of records: it reads one key. */
  static async open (store: Store, opts: EventLogOptions): Promise<EventLog> {
    const meta = store.sublevel('meta')
    const raw = await meta.get(HEAD_KEY)
    const head: Head = raw === undefined
      ? { firstSeq: 1, lastSeq: 0, records: 0, bytes: 0, drops: { maxAge: 0, maxBytes: 0, rejected: 0 } }
      : decodeMeta<Head>(raw)
    return new EventLog(store, head, opts)
  }

  /**
   * Appends a record. The callback runs once the record is committed, with its
   * sequence number, or with FG_ERR_STORE_FULL / FG_ERR_STORE_CLOSED.
   */
  append (input: AppendInput, cb?: AppendCallback): void {
    if (this.closed) {
      cb?.(new FlowgateError('FG_ERR_STORE_CLOSED', 'event log is closed'))
      return
    }
    const size = input.payload.length + input.topic.length + input.clientId.length + 12
    if (this.opts.whenFull === 'reject-new' && this.opts.maxBytes > 0 &&
        this.head.bytes + this.pendingBytes + size > this.opts.maxBytes) {
      this.head.drops.rejected++
      this.emit('drop', { reason: 'rejected', records: 1 } satisfies DropEvent)
      cb?.(new FlowgateError('FG_ERR_STORE_FULL', `event log is full (storage.retention.maxBytes ${this.opts.maxBytes} bytes)`))
      return
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
    this.pendingBytes += size
    this.schedule()
  }

  /** Changes the retention limits of a running log (hot reload); the byte budget applies at once. */
  setRetention (limits: Pick<EventLogOptions, 'maxAgeMs' | 'maxBytes' | 'whenFull'>): void {
    this.opts = { ...this.opts, ...limits }
    this.enforceBudget()
  }

  /**
   * Stores a bridge cursor with the next group commit, so it never queues behind the
   * log's commits as a write of its own. Resolves once it is written.
   */
  async writeCursor (name: string, seq: number): Promise<void> {
    if (this.closed && !this.writing && this.pending.length === 0) {
      await this.cursorsDb.put(name, encodeMeta(seq))
      return
    }
    this.cursorWrites.set(name, seq)
    const done = new Promise<void>((resolve, reject) => this.cursorWaiters.push({ resolve, reject }))
    this.schedule()
    await done
  }

  /** Resolves when everything appended so far is committed. */
  async flush (): Promise<void> {
    for (;;) {
      if (this.trimming !== undefined) {
        await this.trimming
        continue
      }
      if (!this.writing && !this.scheduled && this.pending.length === 0 && this.trims.length === 0 && this.cursorWrites.size === 0) return
      await new Promise<void>(resolve => this.idle.push(resolve))
    }
  }

  stats (): LogStats {
    const h = this.head
    return { firstSeq: h.firstSeq, lastSeq: h.lastSeq, records: h.records, bytes: h.bytes, drops: { ...h.drops } }
  }

  get lastSeq (): number { return this.head.lastSeq }
  get firstSeq (): number { return this.head.firstSeq }

  /** Up to `limit` committed records with seq >= fromSeq, in order. */
  async read (fromSeq: number, limit: number): Promise<LogRecord[]> {
    this.followedAt = this.opts.now()
    const from = Math.max(fromSeq, this.head.firstSeq)
    if (from > this.head.lastSeq || limit <= 0) return []
    const oldest = this.recent[0]
    if (oldest !== undefined && from >= oldest.seq) {
      const start = from - oldest.seq
      return this.recent.slice(start, start + limit)
    }
    const [startKey] = await this.bidx.keys({ lte: seqKey(from), reverse: true, limit: 1 }).all()
    const out: LogRecord[] = []
    for await (const [key, value] of this.log.iterator({ gte: startKey ?? seqKey(from) })) {
      for (const rec of decodeBatch(parseSeqKey(key), value)) {
        if (rec.seq < from) continue
        out.push(rec)
        if (out.length >= limit) return out
      }
    }
    return out
  }

  /** The sequence number of the first record received at or after `timeMs` (lastSeq + 1 if none), without scanning the log. */
  async seekTime (timeMs: number): Promise<number> {
    const [before] = await this.tidx.keys({ lt: timeKeyFloor(timeMs), reverse: true, limit: 1 }).all()
    const [after] = await this.tidx.keys({ gte: timeKeyFloor(timeMs), limit: 1 }).all()
    const startSeq = before !== undefined ? parseTimeKey(before).seq : after !== undefined ? parseTimeKey(after).seq : this.head.lastSeq + 1
    const limitSeq = after !== undefined ? parseTimeKey(after).seq : this.head.lastSeq + 1
    if (before !== undefined) {
      const raw = await this.log.get(seqKey(startSeq))
      if (raw !== undefined) {
        for (const rec of decodeBatch(startSeq, raw)) if (rec.time >= timeMs) return rec.seq
      }
    }
    return Math.max(limitSeq, this.head.firstSeq)
  }

  /** Resolves once a record with sequence number >= seq is committed, or when `signal` aborts. */
  async waitFor (seq: number, signal?: AbortSignal): Promise<void> {
    this.followedAt = this.opts.now()
    if (this.head.lastSeq >= seq || this.closed || signal?.aborted === true) return
    await new Promise<void>(resolve => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter(w => w !== waiter)
        resolve()
      }
      const waiter = {
        seq,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          resolve()
        }
      }
      this.waiters.push(waiter)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** Removes records older than maxAge. Resolves with the number of records dropped. */
  async sweep (): Promise<number> {
    if (this.opts.maxAgeMs <= 0 || this.closed) return 0
    const cutoff = this.opts.now() - this.opts.maxAgeMs
    return await this.planTrim('maxAge', info => info[3] < cutoff)
  }

  /** Stops accepting appends, commits what was accepted, and resolves. Idempotent. Does not close the store. */
  async close (): Promise<void> {
    this.closed = true
    await this.flush()
    for (const w of this.waiters.splice(0)) w.resolve()
  }

  private schedule (): void {
    if (this.writing || this.scheduled) return
    this.scheduled = true
    setImmediate(() => {
      this.scheduled = false
      this.commit()
    })
  }

  private commit (): void {
    const records = this.pending
    const cbs = this.pendingCbs
    const trims = this.trims
    const cursors = this.cursorWrites
    const cursorWaiters = this.cursorWaiters
    if (records.length === 0 && trims.length === 0 && cursors.size === 0) {
      for (const resolve of this.idle.splice(0)) resolve()
      return
    }
    this.pending = []
    this.pendingCbs = []
    this.pendingBytes = 0
    this.trims = []
    this.cursorWrites = new Map()
    this.cursorWaiters = []
    this.writing = true

    const head: Head = { ...this.head, drops: { ...this.head.drops } }
    // keys are prefixed here and written to the root database: the same bytes as a put with the
    // sublevel option, without the per-operation option handling that cost more than the encoding
    const batch = this.log.db.batch()
    const put = (sublevel: Sublevel, key: string, value: Buffer): void => { batch.put(sublevel.prefixKey(key, 'utf8'), value) }
    for (const trim of trims) {
      for (const op of trim.ops) batch.del(op.sublevel.prefixKey(op.key, 'utf8'))
      head.firstSeq = Math.max(head.firstSeq, trim.firstSeq)
      head.records -= trim.records
      head.bytes -= trim.bytes
      head.drops[trim.reason] += trim.records
    }
    let bytes = 0
    const first = records[0]
    const last = records[records.length - 1]
    if (first !== undefined && last !== undefined) {
      const value = encodeBatch(records)
      bytes = value.length
      const key = seqKey(first.seq)
      put(this.log, key, value)
      put(this.bidx, key, encodeMeta([records.length, bytes, first.time, last.time] satisfies BatchInfo))
      put(this.tidx, timeKey(first.time, first.seq), Buffer.alloc(0))
      if (head.records === 0) head.firstSeq = first.seq
      head.lastSeq = last.seq
      head.records += records.length
      head.bytes += bytes
    }
    put(this.meta, HEAD_KEY, encodeMeta(head))
    for (const [name, seq] of cursors) put(this.cursorsDb, name, encodeMeta(seq))

    const started = performance.now()
    batch.write({ sync: this.opts.durability === 'sync' }).then(() => {
      // keep drop counters that moved while the write was in flight (rejections)
      head.drops.rejected = this.head.drops.rejected
      Object.assign(this.head, head)
      this.writing = false
      for (const trim of trims) {
        this.emit('drop', { reason: trim.reason, records: trim.records, fromSeq: trim.firstSeq - trim.records, toSeq: trim.firstSeq - 1 } satisfies DropEvent)
      }
      if (first !== undefined) {
        this.emit('commit', { firstSeq: first.seq, lastSeq: head.lastSeq, records: records.length, bytes, durationMs: performance.now() - started } satisfies CommitEvent)
      }
      if (records.length > 0) this.remember(records)
      // start the next group's write before acknowledging this one, so the disk works while acks go out
      const more = this.pending.length > 0 || this.trims.length > 0 || this.cursorWrites.size > 0
      if (more) this.commit()
      for (const w of cursorWaiters) w.resolve()
      for (let i = 0; i < cbs.length; i++) cbs[i]?.(null, first === undefined ? undefined : first.seq + i)
      this.wake()
      if (!more) this.afterCommit()
    }, (cause: unknown) => {
      this.writing = false
      const err = new FlowgateError('FG_ERR_STORE_WRITE', `event log write failed: ${(cause as Error).message}`, { cause })
      this.emit('error', err)
      for (const cb of cbs) cb?.(err)
      for (const w of cursorWaiters) w.reject(err)
      this.afterCommit()
    })
  }

  private afterCommit (): void {
    if (this.pending.length > 0 || this.trims.length > 0 || this.cursorWrites.size > 0) {
      this.commit()
      return
    }
    for (const resolve of this.idle.splice(0)) resolve()
    this.enforceBudget()
  }

  /** drop-oldest: once the log is over its byte budget, remove the oldest batches until it fits. */
  private enforceBudget (): void {
    if (this.opts.whenFull !== 'drop-oldest' || this.opts.maxBytes <= 0 || this.trimming !== undefined || this.closed) return
    if (this.head.bytes <= this.opts.maxBytes) return
    let excess = this.head.bytes - this.opts.maxBytes
    void this.planTrim('maxBytes', info => {
      if (excess <= 0) return false
      excess -= info[1]
      return true
    })
  }

  private remember (records: PendingRecord[]): void {
    // Kept without a reader at the tail, the records would only be copied by the young-generation
    // collector and promoted, for nothing. A reader that comes back reads from LevelDB until the
    // cache holds what it asks for.
    if (this.waiters.length === 0 && (records[records.length - 1] as PendingRecord).time - this.followedAt > FOLLOW_MS) {
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
    const cutoff = (records[records.length - 1] as PendingRecord).time - RECENT_MS
    let drop = Math.max(0, this.recent.length - RECENT_RECORDS)
    while (drop < this.recent.length && (this.recent[drop] as PendingRecord).time < cutoff) drop++
    if (drop > 0) this.recent.splice(0, drop)
  }

  private wake (): void {
    if (this.waiters.length === 0) return
    const ready = this.waiters.filter(w => w.seq <= this.head.lastSeq)
    if (ready.length === 0) return
    this.waiters = this.waiters.filter(w => w.seq > this.head.lastSeq)
    for (const w of ready) w.resolve()
  }

  /** Collects the oldest batches for which `take` says yes (stopping at the first no) and queues their removal. */
  private async planTrim (reason: DropReason, take: (info: BatchInfo) => boolean): Promise<number> {
    if (this.trimming !== undefined) return 0
    this.trimming = this.trimOldest(reason, take)
    try {
      return await this.trimming
    } finally {
      this.trimming = undefined
      this.enforceBudget()
    }
  }

  private async trimOldest (reason: DropReason, take: (info: BatchInfo) => boolean): Promise<number> {
    {
      const trim: Trim = { reason, ops: [], firstSeq: this.head.firstSeq, records: 0, bytes: 0 }
      for await (const [key, value] of this.bidx.iterator({ gte: seqKey(this.head.firstSeq) })) {
        const info = decodeMeta<BatchInfo>(value)
        if (!take(info)) break
        const seq = parseSeqKey(key)
        trim.ops.push({ type: 'del', sublevel: this.log, key }, { type: 'del', sublevel: this.bidx, key }, { type: 'del', sublevel: this.tidx, key: timeKey(info[2], seq) })
        trim.records += info[0]
        trim.bytes += info[1]
        trim.firstSeq = seq + info[0]
      }
      if (trim.records === 0) return 0
      this.trims.push(trim)
      this.schedule()
      await new Promise<void>(resolve => this.idle.push(resolve))
      return trim.records
    }
  }
}
