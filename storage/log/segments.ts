/**
 * The event log's segments, oldest first: the newest one (the active segment) takes new
 * batches; the others are sealed and only read until retention removes them whole.
 *
 * MUST: a segment's batches are consecutive: the first sequence number of each follows the last of
 *       the one before (so a missing run inside a segment is known to be lost).
 * SHOULD: at most a few sealed segments are open at once (each open LevelDB holds memory and files).
 */
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { BatchFormatError, decodeHeader, type LogState } from './format.js'
import { isCorruption, Segment, type SegmentOptions, type SegmentSummary } from './segment.js'

/** Sealed segments kept open for readers between reads. */
const OPEN_SEALED = 2
const DIR_NAME = /^[0-9]{12}$/

export interface ScanResult {
  /** The log's state stored with the segment's newest readable batch. */
  state: LogState | undefined
  /** Runs of sequence numbers inside the segment that no readable batch holds any more. */
  lost: Array<{ fromSeq: number, toSeq: number }>
}

export class SegmentSet {
  readonly root: string
  /** Oldest first; the last one is the active segment. */
  readonly list: Segment[] = []
  private readonly opts: SegmentOptions
  private nextId = 1
  private spare: Promise<Segment> | undefined
  private readonly recentlyRead: Segment[] = []
  private sums: { records: number, bytes: number } | undefined

  constructor (root: string, opts: SegmentOptions) {
    this.root = root
    this.opts = opts
  }

  /**
   * Finds the segment directories on disk, in order. A segment without a stored summary (the one
   * that was active, or one sealed just before a crash) is read whole to learn what it holds;
   * empty ones (made ahead of need, never written) are removed. Returns what each read found.
   */
  async load (summaries: ReadonlyMap<number, SegmentSummary>, active?: { id: number, summary: SegmentSummary }): Promise<Array<{ seg: Segment, scan: ScanResult }>> {
    let names: string[] = []
    try {
      names = (await readdir(this.root)).filter(n => DIR_NAME.test(n)).sort()
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const scanned: Array<{ seg: Segment, scan: ScanResult }> = []
    for (const name of names) {
      const id = Number(name)
      this.nextId = Math.max(this.nextId, id + 1)
      const seg = new Segment(join(this.root, name), id, this.opts)
      const s = summaries.get(id)
      if (s !== undefined) {
        seg.setSummary(s)
        seg.sealed = true
        this.list.push(seg)
        continue
      }
      if (active !== undefined && active.id === id) {
        // the active segment of a gateway that stopped cleanly: its summary was stored at the stop
        seg.setSummary(active.summary)
        this.list.push(seg)
        continue
      }
      let scan: ScanResult
      try {
        scan = await this.scan(seg)
      } catch (err) {
        await seg.close().catch(() => {})
        throw err
      }
      if (seg.empty) {
        await seg.remove()
        continue
      }
      this.list.push(seg)
      scanned.push({ seg, scan })
    }
    // every segment but the newest is sealed; the newest stays active unless it was sealed
    for (const seg of this.list.slice(0, -1)) {
      if (seg.sealed) continue
      seg.sealed = true
      this.noteRead(seg)
    }
    this.changed()
    return scanned
  }

  /**
   * Reads every batch of `seg`, checking each, and sets its summary from what is readable.
   * Returns the state of its newest readable batch and the runs of sequence numbers lost inside it.
   */
  async scan (seg: Segment): Promise<ScanResult> {
    try {
      return await this.scanOnce(seg)
    } catch (err) {
      if (!isCorruption(err)) throw err
      // a damaged table: LevelDB's repair keeps what it can read, and the scan finds what it lost
      await seg.repair()
      this.opts.onRepair?.(seg.dir, err)
      return await this.scanOnce(seg)
    }
  }

  private async scanOnce (seg: Segment): Promise<ScanResult> {
    const lost: ScanResult['lost'] = []
    let state: LogState | undefined
    let first = NaN
    let next = NaN
    let records = 0
    let bytes = 0
    let firstTime = NaN
    let lastTime = NaN
    let badFrom: number | undefined
    for await (const { seq, value } of seg.batches(0, { fillCache: false })) {
      let header
      try {
        header = decodeHeader(value)
      } catch (err) {
        if (!(err instanceof BatchFormatError)) throw err
        badFrom ??= seq
        continue
      }
      const from = badFrom ?? (Number.isNaN(next) ? seq : next)
      if (seq > from) lost.push({ fromSeq: from, toSeq: seq - 1 })
      badFrom = undefined
      if (Number.isNaN(first)) {
        first = seq
        firstTime = header.firstTime
      }
      next = seq + header.records
      records += header.records
      bytes += value.length
      lastTime = header.lastTime
      if (state === undefined || header.state.gen > state.gen) state = header.state
    }
    if (badFrom !== undefined) {
      // the newest batches do not read: what they held is known only up to the summary, if any
      const end = Number.isNaN(seg.lastSeq) ? undefined : seg.lastSeq
      if (end !== undefined && end >= badFrom) lost.push({ fromSeq: badFrom, toSeq: end })
    }
    if (!Number.isNaN(first)) {
      const knownLast = seg.lastSeq
      seg.setSummary({ firstSeq: first, lastSeq: next - 1, records, bytes, firstTime, lastTime })
      // a sealed segment's stored summary says where it ended: a shorter scan lost its tail
      if (!Number.isNaN(knownLast) && knownLast > next - 1 && badFrom === undefined) lost.push({ fromSeq: next, toSeq: knownLast })
    } else {
      seg.records = 0
      seg.bytes = 0
    }
    this.changed()
    return { state, lost }
  }

  get active (): Segment | undefined {
    return this.list[this.list.length - 1]
  }

  get oldest (): Segment | undefined {
    return this.list[0]
  }

  /** Creates the next segment in the background, so a rotation does not wait for LevelDB to open one. */
  prepareNext (): void {
    if (this.spare !== undefined) return
    const seg = new Segment(join(this.root, String(this.nextId++).padStart(12, '0')), this.nextId - 1, this.opts)
    const made = seg.create().then(() => seg)
    made.catch(() => { if (this.spare === made) this.spare = undefined })
    this.spare = made
  }

  /**
   * Seals the active segment (when it holds anything) and makes a new one active. Returns the
   * sealed segment, whose summary the caller stores.
   */
  async rotate (): Promise<Segment | undefined> {
    const current = this.active
    if (current !== undefined && current.empty) return undefined
    this.prepareNext()
    const spare = this.spare as Promise<Segment>
    let next: Segment
    try {
      next = await spare
    } finally {
      this.spare = undefined
    }
    if (current !== undefined) {
      current.sealed = true
      this.noteRead(current)
    }
    this.list.push(next)
    this.changed()
    return current
  }

  /** Makes sure there is an active segment (a new log, or every segment removed). */
  async ensureActive (): Promise<Segment> {
    const active = this.active
    if (active !== undefined && !active.sealed) return active
    this.prepareNext()
    const spare = this.spare as Promise<Segment>
    try {
      const seg = await spare
      this.list.push(seg)
      this.changed()
      return seg
    } finally {
      this.spare = undefined
    }
  }

  /** The segment that holds `seq`, or the first one after it. */
  find (seq: number): number {
    let lo = 0
    let hi = this.list.length - 1
    let at = 0
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const seg = this.list[mid] as Segment
      if (!Number.isNaN(seg.firstSeq) && seg.firstSeq <= seq) {
        at = mid
        lo = mid + 1
      } else hi = mid - 1
    }
    return at
  }

  /** Takes the oldest segment out of the set; the caller removes it from disk once that is safe. */
  shift (): Segment | undefined {
    const seg = this.list.shift()
    this.changed()
    if (seg !== undefined) {
      const i = this.recentlyRead.indexOf(seg)
      if (i >= 0) this.recentlyRead.splice(i, 1)
    }
    return seg
  }

  /** A sealed segment was read: keep it open for the next read, closing the least recently read beyond a few. */
  noteRead (seg: Segment): void {
    if (!seg.sealed) return
    const i = this.recentlyRead.indexOf(seg)
    if (i >= 0) this.recentlyRead.splice(i, 1)
    this.recentlyRead.push(seg)
    while (this.recentlyRead.length > OPEN_SEALED) {
      const idx = this.recentlyRead.findIndex(s => !s.inUse)
      if (idx < 0) break
      const [old] = this.recentlyRead.splice(idx, 1)
      void old?.close().catch(() => {})
    }
  }

  /** Records and bytes over every segment (kept up to date, not summed on every call: appends ask for it). */
  totals (): { records: number, bytes: number } {
    if (this.sums === undefined) {
      let records = 0
      let bytes = 0
      for (const seg of this.list) {
        records += seg.records
        bytes += seg.bytes
      }
      this.sums = { records, bytes }
    }
    return this.sums
  }

  /** A batch was added to a segment of the set. */
  grew (records: number, bytes: number): void {
    if (this.sums === undefined) return
    this.sums = { records: this.sums.records + records, bytes: this.sums.bytes + bytes }
  }

  /** Segments were added, removed or read again: sum them anew on the next call. */
  changed (): void {
    this.sums = undefined
  }

  async close (): Promise<void> {
    const spare = this.spare
    this.spare = undefined
    if (spare !== undefined) {
      // a segment made ahead of need and never written is not kept
      const seg = await spare.catch(() => undefined)
      if (seg !== undefined) await seg.remove().catch(() => {})
    }
    for (const seg of this.list) await seg.close()
  }
}
