/**
 * Reading the event log: by sequence number (bridges, the admin API) and by time (replay).
 *
 * MUST: a batch that fails its checksum or does not decode is never returned: its run of sequence
 *       numbers is reported as lost (once) and reading goes on after it.
 * MUST: a run of sequence numbers missing inside a segment (LevelDB's repair dropped a damaged
 *       table block) is reported as lost the same way.
 */
import { BatchFormatError, decodeStoredBatch } from './format.js'
import type { LogRecord } from '../record.js'
import type { Segment } from './segment.js'
import type { SegmentSet } from './segments.js'
import type { TailCache } from './tail-cache.js'

export interface ReaderContext {
  segments: SegmentSet
  cache: TailCache
  now: () => number
  bounds: () => { firstSeq: number, lastSeq: number }
  /** What to add to a record's stored time to read it on today's clock (the clock steps after it). */
  timeShift: (seq: number) => number
  /** A run of sequence numbers that no readable batch holds. */
  onLost: (fromSeq: number, toSeq: number) => void
  /** LevelDB reported the segment corrupt while reading: repair it (keeping what it can read). */
  repair: (seg: Segment) => Promise<void>
}

function isLevelCorruption (err: unknown): boolean {
  const e = err as { code?: string, cause?: { code?: string } }
  return e.code === 'LEVEL_CORRUPTION' || e.cause?.code === 'LEVEL_CORRUPTION'
}

export class LogReader {
  private readonly ctx: ReaderContext

  constructor (ctx: ReaderContext) {
    this.ctx = ctx
  }

  async read (fromSeq: number, limit: number): Promise<LogRecord[]> {
    const { segments, cache } = this.ctx
    cache.followed(this.ctx.now())
    const { firstSeq, lastSeq } = this.ctx.bounds()
    let from = Math.max(fromSeq, firstSeq)
    if (from > lastSeq || limit <= 0) return []
    const cached = cache.get(from, limit)
    if (cached !== undefined) return cached
    const out: LogRecord[] = []
    while (out.length < limit && from <= lastSeq) {
      const seg = segments.list[segments.find(from)]
      if (seg === undefined) break
      if (seg.empty || seg.lastSeq < from) {
        const next = segments.list.find(s => !s.empty && s.lastSeq >= from)
        if (next === undefined) break
        from = Math.max(from, next.firstSeq)
        continue
      }
      from = Math.max(from, seg.firstSeq)
      seg.acquire()
      try {
        await this.readSegment(seg, from, lastSeq, limit, out)
      } finally {
        seg.release()
        segments.noteRead(seg)
      }
      from = seg.lastSeq + 1
    }
    return out
  }

  /** Reads records `from`..`lastSeq` of one segment into `out`, up to `limit`. */
  private async readSegment (seg: Segment, from: number, lastSeq: number, limit: number, out: LogRecord[], retried = false): Promise<void> {
    let expected: number = from
    let badFrom: number | undefined
    try {
      for await (const { seq, value } of seg.batches(from)) {
        if (seq > lastSeq) return
        let records: LogRecord[]
        try {
          records = decodeStoredBatch(seq, value).records
        } catch (err) {
          if (!(err instanceof BatchFormatError)) throw err
          badFrom ??= seq
          continue
        }
        if (badFrom !== undefined) this.ctx.onLost(Math.max(badFrom, from), seq - 1)
        else if (seq > expected) this.ctx.onLost(expected, seq - 1)
        badFrom = undefined
        expected = seq + records.length
        for (const rec of records) {
          if (rec.seq < from) continue
          if (rec.seq > lastSeq) return
          out.push(rec)
          if (out.length >= limit) return
        }
      }
    } catch (err) {
      if (!isLevelCorruption(err) || retried) throw err
      await this.ctx.repair(seg)
      await this.readSegment(seg, out.length > 0 ? (out[out.length - 1] as LogRecord).seq + 1 : from, lastSeq, limit, out, true)
      return
    }
    // batches missing (or unreadable) at the segment's end, up to where the segment is known to end
    const end = Math.min(seg.lastSeq, lastSeq)
    if (badFrom !== undefined) this.ctx.onLost(Math.max(badFrom, from), end)
    else if (expected <= end) this.ctx.onLost(expected, end)
  }

  /**
   * The sequence number of the first record received at or after `timeMs` (lastSeq + 1 if none),
   * times read on today's clock: a record stored before a step of the system clock is found by
   * when it arrived.
   */
  async seekTime (timeMs: number): Promise<number> {
    const { firstSeq, lastSeq } = this.ctx.bounds()
    const { timeShift } = this.ctx
    for (const seg of [...this.ctx.segments.list]) {
      if (seg.empty || seg.lastTime + timeShift(seg.lastSeq) < timeMs || seg.lastSeq < firstSeq) continue
      if (seg.firstTime + timeShift(seg.firstSeq) >= timeMs) return Math.max(seg.firstSeq, firstSeq)
      const found = await this.firstAtOrAfter(seg, timeMs)
      if (found !== undefined) return Math.max(found, firstSeq)
    }
    return lastSeq + 1
  }

  private async firstAtOrAfter (seg: Segment, timeMs: number): Promise<number | undefined> {
    seg.acquire()
    try {
      for await (const { seq, value } of seg.batches(seg.firstSeq)) {
        let records: LogRecord[]
        try {
          records = decodeStoredBatch(seq, value).records
        } catch (err) {
          if (err instanceof BatchFormatError) continue
          throw err
        }
        for (const rec of records) if (rec.time + this.ctx.timeShift(rec.seq) >= timeMs) return rec.seq
      }
      return undefined
    } finally {
      seg.release()
      this.ctx.segments.noteRead(seg)
    }
  }
}
