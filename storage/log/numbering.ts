/**
 * Sequence numbers that are never issued twice, even by a store that loses its newest writes.
 *
 * MUST: a batch holding sequence number N is stored only once N is within a reservation stored
 *       (synced) in the state store, apart from the batches it numbers; after an unclean stop the
 *       log continues after the reserved block.
 * SHOULD: the tail mark (the newest committed sequence number) is written soon after commits, so a
 *         lost tail can be told at the next open; it is unsynced, and written at most every
 *         TAIL_INTERVAL_MS.
 */
import type { LogMeta } from './meta.js'

/** Sequence numbers reserved per stored reservation. */
const RESERVE_BLOCK = 100_000
const TAIL_INTERVAL_MS = 100

export class SeqReservation {
  private readonly meta: LogMeta
  private reserved: number
  private reserving: Promise<void> | undefined

  constructor (meta: LogMeta, reserved: number) {
    this.meta = meta
    this.reserved = reserved
  }

  /** Resolves once `seq` is reserved; reserves the next block ahead of need, in the background. */
  async reserve (seq: number, nextSeq: number): Promise<void> {
    if (seq + RESERVE_BLOCK / 2 > this.reserved) this.start(seq, nextSeq)
    while (seq > this.reserved) {
      this.start(seq, nextSeq)
      await this.reserving
    }
  }

  private start (seq: number, nextSeq: number): void {
    if (this.reserving !== undefined) return
    const target = Math.max(seq, nextSeq) + RESERVE_BLOCK
    this.reserving = this.meta.putReserved(target).then(() => {
      this.reserved = Math.max(this.reserved, target)
    }).finally(() => { this.reserving = undefined })
    // a failed reservation is tried again by the commit that needs it
    this.reserving.catch(() => {})
  }
}

/** Writes the tail mark after commits, coalesced. */
export class TailMarker {
  private readonly meta: LogMeta
  private readonly lastSeq: () => number
  private timer: NodeJS.Timeout | undefined
  private writing = false
  private stopped = false

  constructor (meta: LogMeta, lastSeq: () => number) {
    this.meta = meta
    this.lastSeq = lastSeq
  }

  /** A commit happened: the mark follows within TAIL_INTERVAL_MS. */
  committed (): void {
    if (this.timer !== undefined || this.writing || this.stopped) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.writing = true
      const seq = this.lastSeq()
      this.meta.putTail(seq, false, false).catch(() => {}).finally(() => {
        this.writing = false
        if (this.lastSeq() !== seq) this.committed()
      })
    }, TAIL_INTERVAL_MS)
    this.timer.unref()
  }

  stop (): void {
    this.stopped = true
    if (this.timer !== undefined) clearTimeout(this.timer)
  }
}
