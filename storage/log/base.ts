/**
 * The event log's shared state: what was recovered at open, the stored state (first sequence
 * kept, drop counters), the write condition, and the lock every change to the segments holds.
 * The log is built in layers over it: retention.ts (trims), commit.ts (append and group commit),
 * and ../event-log.ts (open, read, close).
 *
 * MUST: one change to the segments at a time (a commit attempt, a rotation, a repair): each
 *       holds the write lock.
 * MUST: the write condition (`ok`, `full`, `write-failing`) is reported once per change.
 * MUST: the stored state only moves forward (each write carries the next generation).
 */
import { EventEmitter } from 'node:events'
import { existsSync, readFileSync } from 'node:fs'
import type { DropCounts, DropReason, LogState } from './format.js'
import { DiskSpace, statfsFree } from './disk-space.js'
import type { BootOffset, ClockStep, LogMeta } from './meta.js'
import { SeqReservation, TailMarker } from './numbering.js'
import type { Recovered } from './recover.js'
import type { SegmentSet } from './segments.js'
import { TailCache } from './tail-cache.js'
import type { Store } from '../store.js'
import { sameCondition, type WriteCondition } from '../write-condition.js'

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
  /** How long a group may wait for more appends before it is written (ms); 0: at once. */
  commitWindowMs?: number
  /** The system's time (epoch ms): records are stamped with it. */
  now?: () => number
  /**
   * A clock (ms) that setting the system time does not move: against it the log notices a step of
   * the system clock (see timeShift). performance.now(), or `now` when only that is given (a
   * test's own clock).
   */
  elapsed?: () => number
  /**
   * This boot's id and a clock (ms) that counts from the boot and that setting the system time does
   * not move: with them an open tells a step of the system clock made while the log was closed, in
   * the same boot. The system's (Linux), or none when `now` is given without it (a test's own clock).
   */
  boot?: () => BootClock | undefined
  /**
   * Whether the system clock has been set from a time server in this boot: true, false, or
   * undefined where that cannot be told. With it an open in a later boot tells that the records
   * stored before were stamped by a clock never set (a Pi offline since it started). The system's
   * (systemd-timesyncd), or none when `now` is given without it (a test's own clock).
   */
  clockSynced?: () => boolean | undefined
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

/** A change of the system time less the elapsed clock this large is a step, not drift. */
const CLOCK_STEP_MS = 60_000

export interface BootClock { id: string, monotonicMs: number }

let bootId: string | null | undefined
/** Linux's boot id and CLOCK_MONOTONIC (which process.hrtime reads); undefined where there is no boot id. */
export function systemBootClock (): BootClock | undefined {
  if (bootId === undefined) {
    try {
      bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
    } catch {
      bootId = null
    }
  }
  return bootId === null ? undefined : { id: bootId, monotonicMs: Number(process.hrtime.bigint()) / 1e6 }
}

/** systemd-timesyncd keeps its state in /run/systemd/timesync and makes `synchronized` there once it set the clock. */
const TIMESYNC_DIR = '/run/systemd/timesync'

/** Whether systemd-timesyncd has set the system clock in this boot; undefined where it does not run (another time service, none). */
export function systemClockSynced (): boolean | undefined {
  if (existsSync(`${TIMESYNC_DIR}/synchronized`)) return true
  return existsSync(TIMESYNC_DIR) ? false : undefined
}

/** How a step of the system clock was found at open. */
export type StepAtOpen = ClockStep & {
  /** `stopped`: made while the log was closed, in the same boot. `unsynced`: the records before were stored in an earlier boot whose clock was never set; they are read as stored now. */
  found: 'stopped' | 'unsynced'
}

export abstract class LogBase extends EventEmitter {
  protected readonly store: Store
  protected readonly meta: LogMeta
  readonly segments: SegmentSet
  protected readonly cache = new TailCache()
  protected opts: Required<EventLogOptions>
  /** What open() found: runs of records lost to damage, segments LevelDB repaired. (Later finds are events.) */
  readonly atOpen: { lost: DropEvent[], repaired: string[], unclean?: { lastSeq: number, nextSeq: number }, clockStep?: StepAtOpen } = { lost: [], repaired: [] }
  protected opening = true
  /** The log's stored state (first sequence number kept, drop counters), newest first. */
  protected state: LogState
  protected lastSeqValue: number
  protected nextSeq: number
  protected readonly reservation: SeqReservation
  protected readonly tail: TailMarker
  protected readonly disk: DiskSpace
  /** The state changed (a trim, a count) and no commit carried it yet. */
  protected stateDirty = false
  protected closed = false
  protected givingUp = false
  protected condition: WriteCondition = { state: 'ok' }
  protected wakeRetry: (() => void) | undefined
  protected rotateFirst = false
  /** The system time less the elapsed clock, as last seen: a change of it is a step of the system clock. */
  private clockOffset: number
  /** Steps of the system clock that records in the log predate (stored: an earlier run's too). */
  private clockSteps: ClockStep[]
  /** Steps seen and not yet stored. */
  private unsavedSteps: ClockStep[] = []
  /** Whether the clock was synchronised, as last stored for this boot. */
  private storedSynced: boolean | undefined
  /** Held by whatever changes the segments: a commit attempt, a rotation, a repair. */
  private writeLock: Promise<void> = Promise.resolve()
  /** Runs of sequence numbers already reported lost. */
  protected knownLost: Array<[number, number]>

  protected constructor (store: Store, meta: LogMeta, segments: SegmentSet, opts: EventLogOptions, init: Recovered) {
    super()
    this.store = store
    this.meta = meta
    this.segments = segments
    this.opts = { now: Date.now, elapsed: opts.now ?? (() => performance.now()), boot: opts.now !== undefined ? () => undefined : systemBootClock, clockSynced: opts.now !== undefined ? () => undefined : systemClockSynced, reserveFreeBytes: 0, maxPendingBytes: 0, commitWindowMs: 0, freeBytes: statfsFree, ...opts }
    this.clockOffset = this.opts.now() - this.opts.elapsed()
    this.state = init.state
    this.lastSeqValue = init.lastSeq
    this.nextSeq = init.nextSeq
    this.reservation = new SeqReservation(meta, init.reserved)
    this.tail = new TailMarker(meta, () => this.lastSeqValue)
    this.disk = new DiskSpace([segments.root, store.dataDir], this.opts.freeBytes)
    this.knownLost = init.knownLost
    this.clockSteps = init.clockSteps
    // batches inside a segment are consecutive: numbering that skipped ahead starts a new one
    this.rotateFirst = segments.active !== undefined && !segments.active.empty && segments.active.lastSeq + 1 !== init.nextSeq
  }

  get lastSeq (): number { return this.lastSeqValue }
  /**
   * Notes a step of the system clock (the system time less the elapsed clock moved a minute or
   * more since the last look) before record `seq`: 'clock-step', once per step.
   */
  protected noticeClockStep (seq: number, now: number): void {
    const offset = now - this.opts.elapsed()
    const stepMs = offset - this.clockOffset
    if (Math.abs(stepMs) < CLOCK_STEP_MS) return
    this.clockOffset = offset
    this.addClockStep(seq, stepMs)
    this.emit('clock-step', { stepMs, seq })
  }

  private addClockStep (seq: number, stepMs: number): ClockStep {
    const step = { seq, stepMs }
    this.clockSteps.push(step)
    this.unsavedSteps.push(step)
    return step
  }

  /** Whether steps wait to be stored (saveClockSteps). */
  protected get clockStepsToSave (): boolean {
    return this.unsavedSteps.length > 0
  }

  /**
   * Stores the steps seen since the last call, so the next run, after a restart or a crash, still
   * reads the records from before a step on today's clock. A commit calls it before its write: a
   * step is stored before any record after it is acknowledged.
   */
  protected async saveClockSteps (): Promise<void> {
    if (this.unsavedSteps.length === 0) return
    const steps = this.unsavedSteps
    const ops = steps.map(step => this.meta.clockStepOp(step))
    // the clock as it is after the steps, for the next open in this boot
    const clock = this.bootOffset()
    if (clock !== undefined) ops.push(this.meta.clockOp(clock))
    await this.meta.write(ops, true)
    if (clock !== undefined) this.storedSynced = clock.synced
    this.unsavedSteps = this.unsavedSteps.filter(step => !steps.includes(step))
  }

  private bootOffset (): BootOffset | undefined {
    const b = this.opts.boot()
    return b === undefined ? undefined : { boot: b.id, offsetMs: this.opts.now() - b.monotonicMs, synced: this.clockSyncedNow() }
  }

  /** Whether the clock has been set from a time server in this boot: once set, it counts as set for the rest of it; unknown now keeps what was known. */
  private clockSyncedNow (): boolean | undefined {
    return this.storedSynced === true ? true : this.opts.clockSynced() ?? this.storedSynced
  }

  /**
   * The system clock as the log sees it: whether it has been set from a time server in this boot
   * (null where that cannot be told), and how far the oldest records' stored times lie behind
   * today's clock (ms; 0 when no step of the clock is known since they arrived).
   */
  clockState (): { synced: boolean | null, oldestBehindMs: number } {
    return { synced: this.clockSyncedNow() ?? null, oldestBehindMs: Math.round(this.timeShift(this.firstSeq)) }
  }

  private async saveClock (clock: BootOffset): Promise<void> {
    await this.meta.write([this.meta.clockOp(clock)], false)
    this.storedSynced = clock.synced
  }

  /**
   * Stores a change of whether the clock is synchronised (it was set since, or it is known now not
   * to be): the next open, after a reboot, tells from it whether to trust the times of the records
   * stored in this boot. (The retention sweep and a close call it.)
   */
  protected async noteClockSynced (): Promise<void> {
    if (this.storedSynced === true) return
    const clock = this.bootOffset()
    if (clock !== undefined && clock.synced !== this.storedSynced) await this.saveClock(clock).catch(() => {})
  }

  /**
   * At open, a step of the system clock the records stored before may predate, noted before the
   * next record and stored:
   * - in the same boot, one made while the log was closed (the system time less the boot's
   *   monotonic clock moved since it was stored);
   * - after a reboot, when the earlier boot's clock was never set from a time server and this
   *   one's is: the newest record then reads as stored now, and the others as far before it as
   *   their times say. Their true age cannot be told; this never reads them older than they are,
   *   only younger by the time the gateway was down.
   * Otherwise a step across a reboot cannot be told.
   */
  protected async noticeStepWhileClosed (stored: BootOffset | undefined): Promise<void> {
    if (stored !== undefined && stored.boot === this.opts.boot()?.id) this.storedSynced = stored.synced
    const current = this.bootOffset()
    if (current === undefined) return
    let step: StepAtOpen | undefined
    if (stored?.boot === current.boot) {
      const stepMs = current.offsetMs - stored.offsetMs
      if (Math.abs(stepMs) >= CLOCK_STEP_MS) step = { ...this.addClockStep(this.nextSeq, stepMs), found: 'stopped' }
      else if (stored.synced === current.synced) return
    } else if (stored?.synced === false && current.synced === true) {
      const stepMs = this.newestRecordAge()
      if (stepMs >= CLOCK_STEP_MS) step = { ...this.addClockStep(this.nextSeq, stepMs), found: 'unsynced' }
    }
    if (step === undefined) {
      // a new boot (or the first open), or whether the clock is set changed: its clock, for the next open
      await this.saveClock(current).catch(() => {})
      return
    }
    this.atOpen.clockStep = step
    // (a failed write leaves the step for the first commit to store)
    await this.saveClockSteps().catch(() => {})
  }

  /** How long ago the newest record was stored, on today's clock (ms; 0 with no records). */
  private newestRecordAge (): number {
    const newest = this.segments.list.findLast(seg => !seg.empty)
    return newest === undefined ? 0 : this.opts.now() - (newest.lastTime + this.timeShift(newest.lastSeq))
  }

  /** Forgets the steps that no record in the log predates any more (after a write that stored the state). */
  protected forgetClockSteps (): void {
    const first = this.state.firstSeq
    // (steps are kept in sequence order)
    if (this.clockSteps.length === 0 || (this.clockSteps[0] as ClockStep).seq > first) return
    const gone = this.clockSteps.filter(step => step.seq <= first)
    this.clockSteps = this.clockSteps.filter(step => step.seq > first)
    this.unsavedSteps = this.unsavedSteps.filter(step => step.seq > first)
    this.meta.write(gone.map(step => this.meta.dropClockStepOp(step)), false).catch(() => {})
  }

  /** What to add to record `seq`'s stored time to read it on today's clock: the steps of the system clock after it (ms). */
  timeShift (seq: number): number {
    let ms = 0
    for (const step of this.clockSteps) if (step.seq > seq) ms += step.stepMs
    return ms
  }

  get firstSeq (): number {
    const first = this.segments.list.find(s => !s.empty)
    return first === undefined ? this.lastSeqValue + 1 : Math.max(first.firstSeq, this.state.firstSeq)
  }

  protected get bytes (): number {
    return this.segments.totals().bytes
  }

  /** The state to store with the next write. */
  protected nextState (): LogState {
    return { gen: this.state.gen + 1, firstSeq: this.firstSeqAfterDrops(), drops: { ...this.state.drops } }
  }

  private firstSeqAfterDrops (): number {
    return Math.max(this.state.firstSeq, this.firstSeq)
  }

  protected async withWriteLock<T> (fn: () => Promise<T>): Promise<T> {
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

  protected async rotate (): Promise<void> {
    this.rotateFirst = false
    const sealed = await this.segments.rotate()
    // the summary lets the next open skip reading the sealed segment; without it, it is read again
    if (sealed !== undefined) void this.meta.write([this.meta.segmentOp(sealed.id, sealed.summary())], false).catch(() => {})
  }

  protected async pause (ms: number): Promise<void> {
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

  protected setCondition (next: WriteCondition): void {
    const prev = this.condition
    if (sameCondition(prev, next)) return
    this.condition = next
    this.emit('condition', next, prev)
  }

  /** Starts a commit run unless one is running or due (commit.ts). */
  protected abstract schedule (): void

  /** Resolves when everything appended so far is committed (commit.ts). */
  abstract flush (): Promise<void>
}
