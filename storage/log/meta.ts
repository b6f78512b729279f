/**
 * The event log's bookkeeping in the state store (`meta` sublevel), apart from its segments:
 *
 *   state       the log's state (LogState) when a trim was made with no commit to carry it
 *   reserved    the highest sequence number reserved: none above it is issued before it is stored
 *   tail        [lastSeq, clean]: the newest committed sequence number, written after commits
 *               (unsynced, at most every TAIL_INTERVAL_MS) and at a clean close
 *   seg!<id>    the summary of a sealed segment
 *   active      [id, summary] of the active segment, written at a clean close only, so the next open
 *               need not read it; removed at open, so a later crash never trusts it
 *   lost!<seq>  a run of sequence numbers found lost to damage (reported once, not at every open)
 *   step!<seq>  a step of the system clock before record <seq> (ms): records below it carry times
 *               that much behind today's clock; kept while such records remain
 *   clock       [boot id, system time less the boot's monotonic clock, synced] when last checked:
 *               the next open in the same boot tells a step made while the gateway was stopped;
 *               one in a later boot, that the records before it were stored on a clock never set
 *
 * Reservations and the tail are kept apart from the batches they number, so a store that loses
 * its newest batches (a torn write-ahead log) can tell, and never issues their numbers again.
 */
import { decodeMeta, encodeMeta } from '../codec.js'
import type { Store, StoreOp, Sublevel } from '../store.js'
import { decodeState, encodeState, type LogState } from './format.js'
import type { SegmentSummary } from './segment.js'

const STATE = 'state'
const RESERVED = 'reserved'
const TAIL = 'tail'
const SEGMENT = 'seg!'
const LOST = 'lost!'
const ACTIVE = 'active'
const STEP = 'step!'
const CLOCK = 'clock'
/** The key of the log's head before it was kept in segments. */
export const LEGACY_HEAD = 'head'

type WireSummary = [number, number, number, number, number, number]
/** [boot id, offset, synced]: stores written before `synced` hold the first two. */
type WireClock = [string, number, boolean?]

/** A step of the system clock: records numbered below `seq` carry times `stepMs` behind the clock after it. */
export interface ClockStep { seq: number, stepMs: number }

/**
 * The system time less the monotonic clock of boot `boot` (ms): it changes only when the time is
 * set. `synced`: whether the system clock had been set from a time server in that boot (unknown
 * where that cannot be told).
 */
export interface BootOffset { boot: string, offsetMs: number, synced?: boolean | undefined }

export interface StoredMeta {
  state?: LogState | undefined
  reserved: number
  tail?: { lastSeq: number, clean: boolean } | undefined
  segments: Map<number, SegmentSummary>
  /** Runs of sequence numbers already reported lost: [fromSeq, toSeq]. */
  lost: Array<[number, number]>
  /** Steps of the system clock, in the order they were seen. */
  clockSteps: ClockStep[]
  /** The boot and the system time less its monotonic clock, when last checked. */
  clock?: BootOffset | undefined
  /** The active segment's summary stored at a clean close. */
  active?: { id: number, summary: SegmentSummary } | undefined
  legacy: boolean
}

export class LogMeta {
  private readonly meta: Sublevel
  private readonly store: Store

  constructor (store: Store) {
    this.store = store
    this.meta = store.sublevel('meta')
  }

  async load (): Promise<StoredMeta> {
    const [state, reserved, tail, legacy, active, clock] = await this.meta.getMany([STATE, RESERVED, TAIL, LEGACY_HEAD, ACTIVE, CLOCK])
    const segments = new Map<number, SegmentSummary>()
    for await (const [key, value] of this.meta.iterator({ gt: SEGMENT, lt: SEGMENT + '~' })) {
      segments.set(Number(key.slice(SEGMENT.length)), fromWire(decodeMeta<WireSummary>(value)))
    }
    const lost: Array<[number, number]> = []
    for await (const [key, value] of this.meta.iterator({ gt: LOST, lt: LOST + '~' })) lost.push([Number(key.slice(LOST.length)), decodeMeta<number>(value)])
    const clockSteps: ClockStep[] = []
    for await (const [key, value] of this.meta.iterator({ gt: STEP, lt: STEP + '~' })) clockSteps.push({ seq: Number(key.slice(STEP.length)), stepMs: decodeMeta<number>(value) })
    const t = tail === undefined ? undefined : decodeMeta<[number, boolean]>(tail)
    return {
      state: state === undefined ? undefined : decodeState(state),
      reserved: reserved === undefined ? 0 : decodeMeta<number>(reserved),
      tail: t === undefined ? undefined : { lastSeq: t[0], clean: t[1] },
      segments,
      lost,
      clockSteps,
      clock: clock === undefined ? undefined : fromWireClock(decodeMeta<WireClock>(clock)),
      active: active === undefined ? undefined : fromWireActive(decodeMeta<[number, WireSummary]>(active)),
      legacy: legacy !== undefined
    }
  }

  stateOp (state: LogState): StoreOp {
    return { type: 'put', sublevel: this.meta, key: STATE, value: encodeState(state) }
  }

  async putState (state: LogState): Promise<void> {
    await this.store.write([this.stateOp(state)], true)
  }

  async putReserved (seq: number): Promise<void> {
    await this.store.write([{ type: 'put', sublevel: this.meta, key: RESERVED, value: encodeMeta(seq) }], true)
  }

  async putTail (lastSeq: number, clean: boolean, sync: boolean): Promise<void> {
    await this.store.write([{ type: 'put', sublevel: this.meta, key: TAIL, value: encodeMeta([lastSeq, clean]) }], sync)
  }

  /** At a clean close: the tail, and the active segment's summary so the next open need not read it. */
  async putCleanClose (lastSeq: number, active: { id: number, summary: SegmentSummary } | undefined): Promise<void> {
    const ops: StoreOp[] = [{ type: 'put', sublevel: this.meta, key: TAIL, value: encodeMeta([lastSeq, true]) }]
    if (active !== undefined) ops.push({ type: 'put', sublevel: this.meta, key: ACTIVE, value: encodeMeta([active.id, toWire(active.summary)]) })
    await this.store.write(ops, true)
  }

  /** At open: from here on a stop is unclean until close() says otherwise. */
  async putOpened (lastSeq: number): Promise<void> {
    await this.store.write([
      { type: 'put', sublevel: this.meta, key: TAIL, value: encodeMeta([lastSeq, false]) },
      { type: 'del', sublevel: this.meta, key: ACTIVE }
    ], true)
  }

  segmentOp (id: number, s: SegmentSummary): StoreOp {
    return { type: 'put', sublevel: this.meta, key: segmentKey(id), value: encodeMeta(toWire(s)) }
  }

  lostOp (fromSeq: number, toSeq: number): StoreOp {
    return { type: 'put', sublevel: this.meta, key: LOST + String(fromSeq).padStart(16, '0'), value: encodeMeta(toSeq) }
  }

  clockStepOp (step: ClockStep): StoreOp {
    return { type: 'put', sublevel: this.meta, key: stepKey(step.seq), value: encodeMeta(step.stepMs) }
  }

  clockOp (clock: BootOffset): StoreOp {
    const wire: WireClock = clock.synced === undefined ? [clock.boot, clock.offsetMs] : [clock.boot, clock.offsetMs, clock.synced]
    return { type: 'put', sublevel: this.meta, key: CLOCK, value: encodeMeta(wire) }
  }

  dropClockStepOp (step: ClockStep): StoreOp {
    return { type: 'del', sublevel: this.meta, key: stepKey(step.seq) }
  }

  dropSegmentOp (id: number): StoreOp {
    return { type: 'del', sublevel: this.meta, key: segmentKey(id) }
  }

  async write (ops: StoreOp[], sync: boolean): Promise<void> {
    await this.store.write(ops, sync)
  }

  /** Removes the log kept inside the state store before segments (after it was copied into segments). */
  async clearLegacy (): Promise<void> {
    for (const name of ['log', 'bidx', 'tidx'] as const) await this.store.sublevel(name).clear()
    await this.store.write([{ type: 'del', sublevel: this.meta, key: LEGACY_HEAD }], true)
  }
}

function toWire (s: SegmentSummary): WireSummary {
  return [s.firstSeq, s.lastSeq, s.records, s.bytes, s.firstTime, s.lastTime]
}

function fromWire ([firstSeq, lastSeq, records, bytes, firstTime, lastTime]: WireSummary): SegmentSummary {
  return { firstSeq, lastSeq, records, bytes, firstTime, lastTime }
}

function fromWireClock ([boot, offsetMs, synced]: WireClock): BootOffset {
  return { boot, offsetMs, synced }
}

function fromWireActive ([id, s]: [number, WireSummary]): { id: number, summary: SegmentSummary } {
  return { id, summary: fromWire(s) }
}

function stepKey (seq: number): string {
  return STEP + String(seq).padStart(16, '0')
}

function segmentKey (id: number): string {
  return SEGMENT + String(id).padStart(12, '0')
}
