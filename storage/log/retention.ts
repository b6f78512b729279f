/**
 * Retention and trims: the age limit (sweep), the byte budget, the disk's reserve, and records
 * lost to damage. Whole segments leave the log, the oldest first, never the active one.
 *
 * MUST: with `drop-oldest` the log holds at most `maxBytes` plus the group being committed: room
 *       is made before a group is written, never from the group itself.
 * MUST: every record removed (retention, space, corruption) or refused is counted in the stored
 *       state and reported, one `drop` event per trim, after the state that counts it is stored.
 * MUST: a removed segment leaves the disk only after the state that excludes it is stored; on a
 *       full disk it goes first (a missing segment is simply absent at the next open).
 * MUST: below `reserveFreeBytes` the log is `full` until the disk has room again.
 */
import type { DropReason } from './format.js'
import type { Segment } from './segment.js'
import { LogBase, type DropEvent, type EventLogOptions } from './base.js'
import { backoff } from '../write-condition.js'

export abstract class RetainedLog extends LogBase {
  /** Segments taken out of the log whose removal from disk waits for the state that excludes them. */
  protected doomed: Segment[] = []
  protected dropEvents: DropEvent[] = []

  /** Changes the limits of a running log (hot reload); the byte budget applies at once, a commit window from the next group. */
  setRetention (limits: Partial<Pick<EventLogOptions, 'maxAgeMs' | 'maxBytes' | 'whenFull' | 'reserveFreeBytes' | 'maxPendingBytes' | 'commitWindowMs'>>): void {
    this.opts = { ...this.opts, ...limits }
    if (this.opts.whenFull === 'drop-oldest' && this.opts.maxBytes > 0 && this.bytes > this.opts.maxBytes) {
      this.dropOldestWhile(() => this.bytes > this.opts.maxBytes, 'maxBytes')
      this.schedule()
    }
  }

  /**
   * Removes records older than maxAge, a segment at a time. Resolves with the number of records
   * dropped. A record's time is read on today's clock (timeShift), so a step of the system clock
   * (a Pi, which has no battery-backed clock, setting it once it reaches a time server) drops
   * nothing early, in this run or after a restart (and, in the same boot, a step while it was
   * closed; after a reboot, records stored by a clock never set).
   */
  async sweep (): Promise<number> {
    const now = this.opts.now()
    this.noticeClockStep(this.nextSeq, now)
    // (a failed write keeps the step for the next commit to store)
    await this.saveClockSteps().catch(() => {})
    await this.noteClockSynced()
    if (this.opts.maxAgeMs <= 0 || this.closed) return 0
    const cutoff = now - this.opts.maxAgeMs
    const aged = (seg: Segment): boolean => seg.lastTime + this.timeShift(seg.lastSeq) < cutoff
    const active = this.segments.active
    if (active !== undefined && !active.empty && aged(active)) {
      // an idle log: its newest segment aged out whole
      await this.withWriteLock(async () => { if (this.segments.active === active) await this.rotate() })
    }
    const dropped = this.dropOldestWhile(aged, 'maxAge')
    if (dropped > 0) {
      this.schedule()
      await this.flush()
    }
    return dropped
  }

  /** Stores the state alone (a trim with no commit to carry it), then removes what it excludes. */
  protected async writeState (): Promise<void> {
    const state = this.nextState()
    await this.meta.putState(state).catch(() => {})
    this.state = state
    this.stateDirty = false
    this.afterWrite()
  }

  /** After a write that stored the state: report drops, remove excluded segments from disk. */
  protected afterWrite (): void {
    for (const e of this.dropEvents.splice(0)) this.emit('drop', e)
    this.forgetClockSteps()
    const doomed = this.doomed.splice(0)
    if (doomed.length === 0) return
    const ops = doomed.map(seg => this.meta.dropSegmentOp(seg.id))
    void (async () => {
      for (const seg of doomed) await seg.remove().catch((err: unknown) => this.emit('warning', err))
      await this.meta.write(ops, false).catch(() => {})
    })()
  }

  /**
   * drop-oldest: removes the oldest segments until `bytes` more fit the budget. The group being
   * committed is never among them. Returns whether anything was dropped.
   */
  protected async fitBudget (bytes: number): Promise<boolean> {
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
  protected async makeRoom (): Promise<void> {
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
  protected async freeDisk (reason: DropReason, take: () => boolean): Promise<boolean> {
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

  /** Records `fromSeq`..`toSeq` as lost to damage on disk: counted, stored and reported once. */
  protected lost (fromSeq: number, toSeq: number): void {
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
