/**
 * What the log was when it last stopped: its state, its newest sequence number, where new
 * numbers start, and what damage the open found. Reads the log's bookkeeping and, where no summary
 * was stored, the segments it must (the newest one after an unclean stop), not the whole log.
 *
 * MUST: after an unclean stop, numbering continues after the reserved block.
 * MUST: a tail mark beyond the newest readable batch means those records were lost: reported.
 */
import type { StoreOp } from '../store.js'
import { noDrops, type LogState } from './format.js'
import type { ClockStep, LogMeta, StoredMeta } from './meta.js'
import type { Segment } from './segment.js'
import type { SegmentSet } from './segments.js'

export interface Recovered {
  state: LogState
  lastSeq: number
  nextSeq: number
  reserved: number
  /** Runs of sequence numbers found lost now (not yet reported). */
  lost: Array<{ fromSeq: number, toSeq: number }>
  /** Runs reported at earlier opens. */
  knownLost: Array<[number, number]>
  /** Steps of the system clock that records still in the log predate. */
  clockSteps: ClockStep[]
  /** Set when the last stop was not clean. */
  unclean?: { lastSeq: number, nextSeq: number }
}

export async function recover (meta: LogMeta, stored: StoredMeta, segments: SegmentSet): Promise<Recovered> {
  let scanned: Awaited<ReturnType<SegmentSet['load']>>
  try {
    // the active segment's summary stored at a clean close is trusted only if nothing was written after it
    const active = stored.tail?.clean === true && stored.active?.summary.lastSeq === stored.tail.lastSeq ? stored.active : undefined
    scanned = await segments.load(stored.segments, active)
  } catch (err) {
    await segments.close().catch(() => {})
    throw err
  }

  let state: LogState = stored.state ?? { gen: 0, firstSeq: 1, drops: noDrops() }
  const lost: Recovered['lost'] = []
  const ops: StoreOp[] = []
  for (const { seg, scan } of scanned) {
    if (scan.state !== undefined && scan.state.gen > state.gen) state = scan.state
    lost.push(...scan.lost)
    if (seg.sealed) ops.push(meta.segmentOp(seg.id, seg.summary()))
  }
  // segments that a stored state already excludes (their removal from disk was cut short)
  while (segments.oldest !== undefined && segments.oldest.lastSeq < state.firstSeq && segments.list.length > 1) {
    const seg = segments.shift() as Segment
    ops.push(meta.dropSegmentOp(seg.id))
    await seg.remove()
  }
  // a step matters while records numbered below it remain
  const clockSteps = stored.clockSteps.filter(step => step.seq > state.firstSeq)
  for (const step of stored.clockSteps) if (step.seq <= state.firstSeq) ops.push(meta.dropClockStepOp(step))
  if (ops.length > 0) await meta.write(ops, false)

  const newest = [...segments.list].reverse().find(s => !s.empty)
  let lastSeq = newest?.lastSeq ?? Math.max(0, state.firstSeq - 1)
  // the tail mark written after commits tells whether the newest batches were lost (a torn write-ahead log)
  if (stored.tail !== undefined && stored.tail.lastSeq > lastSeq) {
    lost.push({ fromSeq: lastSeq + 1, toSeq: stored.tail.lastSeq })
    lastSeq = stored.tail.lastSeq
  }
  const clean = stored.tail?.clean === true && stored.tail.lastSeq === lastSeq
  const nextSeq = clean ? lastSeq + 1 : Math.max(lastSeq, stored.reserved) + 1
  return {
    state,
    lastSeq,
    nextSeq,
    reserved: Math.max(stored.reserved, lastSeq),
    lost,
    knownLost: stored.lost,
    clockSteps,
    ...(!clean && stored.tail !== undefined ? { unclean: { lastSeq, nextSeq } } : {})
  }
}
