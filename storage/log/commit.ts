/**
 * Append and group commit: appends wait in memory while a commit is in flight and go out
 * together as the next write; each write is one batch in the active segment.
 *
 * MUST: an append's callback runs only after its record is committed (fsynced when durability is
 *       `sync`); callbacks run in append order.
 * MUST: sequence numbers are never issued twice, across restarts, retention and a store that lost
 *       its newest writes: a block is reserved (numbering.ts) before a batch that uses it is written.
 * MUST: a failed commit is held, retried with backoff and acknowledged once stored; appends wait
 *       behind it. A log closed first refuses them (FG_ERR_STORE_CLOSED).
 * MUST: `reject-new` refuses an append that does not fit the budget or the disk's reserve, and
 *       counts it; nothing accepted is dropped.
 * SHOULD: appends that arrive while a commit is in flight go out as one write.
 * SHOULD: with a commit window (storage.commitWindow), a group waits up to that long from its first
 *         append for more, so a paced stream makes one write and one fsync per window, not one per
 *         publish; it goes out at once when it is large, when memory is short or when someone waits
 *         for it (flush, close).
 */
import { StorageError } from '../errors.js'
import type { PendingRecord } from '../codec.js'
import { seqKey } from '../keys.js'
import type { AppendInput } from '../record.js'
import { backoff, describeWriteError, untilRoomToReopen } from '../write-condition.js'
import { encodeStoredBatch } from './format.js'
import type { Segment } from './segment.js'
import { rotationDue, segmentBytes } from './sizing.js'
import type { AppendCallback, CommitEvent, DropEvent, IngestCounters } from './base.js'
import { RetainedLog } from './retention.js'

interface Group { records: PendingRecord[], cbs: Array<AppendCallback | undefined>, size: number }

/** A group this large is written at once, whatever the commit window. */
const WINDOW_FULL_BYTES = 256 * 1024

function recordSize (input: AppendInput): number {
  return input.payload.length + input.topic.length + input.clientId.length + 12
}

export abstract class CommittingLog extends RetainedLog {
  readonly ingested: IngestCounters = { records: [0, 0, 0], bytes: [0, 0, 0] }
  /** Commit attempts that failed (each retried). */
  writeErrors = 0
  private pending: PendingRecord[] = []
  private pendingCbs: Array<AppendCallback | undefined> = []
  private pendingSize = 0
  /** Accepted and not yet committed: what waits in memory. */
  private unstoredBytes = 0
  private pressure = false
  private running = false
  private scheduled = false
  /** When the first of the pending appends arrived (performance.now()), for the commit window. */
  private pendingSince = 0
  /** The run waiting for the commit window to pass. */
  private windowTimer: NodeJS.Timeout | undefined
  private idle: Array<() => void> = []

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
    if (this.pending.length === 0) {
      this.pendingSince = performance.now()
      // once a group, so a step of the clock is placed between the records it divides
      this.noticeClockStep(rec.seq, rec.time)
    }
    this.pending.push(rec)
    this.pendingCbs.push(cb)
    this.pendingSize += size
    this.unstoredBytes += size
    if (!this.pressure && this.opts.maxPendingBytes > 0 && this.unstoredBytes > this.opts.maxPendingBytes) {
      this.pressure = true
      this.emit('pressure', true)
    }
    if (this.windowTimer !== undefined && this.due()) this.expedite()
    else this.schedule()
  }

  /** Resolves when everything appended so far is committed (or given up at close). */
  async flush (): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.length === 0 && !this.stateDirty && this.doomed.length === 0) return
    const idle = new Promise<void>(resolve => this.idle.push(resolve))
    // what waits in a commit window goes out now
    if (this.windowTimer !== undefined) this.expedite()
    else this.schedule()
    await idle
  }

  /** Bytes accepted and not yet committed. */
  get pendingBytes (): number {
    return this.unstoredBytes
  }

  protected schedule (): void {
    if (this.running || this.scheduled) return
    this.scheduled = true
    const go = (): void => {
      this.scheduled = false
      this.windowTimer = undefined
      void this.run()
    }
    const wait = this.pending.length > 0 && !this.due() ? this.opts.commitWindowMs - (performance.now() - this.pendingSince) : 0
    if (wait > 0) this.windowTimer = setTimeout(go, Math.ceil(wait))
    else setImmediate(go)
  }

  /** Runs now instead of at the end of the commit window. */
  private expedite (): void {
    clearTimeout(this.windowTimer)
    this.windowTimer = undefined
    this.scheduled = false
    this.schedule()
  }

  /**
   * Whether the pending group is to be written now: there is no commit window or it has passed,
   * the group is large, memory is short (pressure), or someone waits for it (flush, close).
   */
  private due (): boolean {
    const window = this.opts.commitWindowMs
    return window <= 0 || this.idle.length > 0 || this.closed || this.pressure || this.pendingSize >= WINDOW_FULL_BYTES ||
      performance.now() - this.pendingSince >= window
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
      let current = this.due() ? this.take() : undefined
      if (current === undefined) {
        // (a group waiting in its commit window carries the state when it is written)
        if (this.pending.length === 0 && (this.stateDirty || this.doomed.length > 0)) await this.writeState()
      } else {
        let writing = this.writeGroup(current)
        for (;;) {
          const ok = await writing
          const next = ok && this.due() ? this.take() : undefined
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
      // LevelDB keeps a failed sync's error until the database is opened again; on a full disk the
      // segment stays open (readers still read it) until the disk has the room its reopen takes
      const seg = failed.seg
      if (cond.state === 'full' && seg !== undefined) await untilRoomToReopen(seg.dir, async () => await this.pause(backoff(++attempt)), () => this.givingUp)
      await seg?.close().catch(() => {})
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
      if (this.clockStepsToSave) await this.saveClockSteps()
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
      seg.added(first, last, records.length, value.length)
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
}
