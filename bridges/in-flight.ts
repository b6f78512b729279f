/**
 * The requests a bridge has in flight, in log order, and where that lets its cursor be.
 * Pure bookkeeping: no I/O, no timers.
 *
 * MUST: the cursor moves only over the contiguous prefix of settled requests: a request that
 *       is answered before an earlier one waits for it, so a crash resends from the first
 *       event that is not settled, and never skips one.
 * MUST: records that need no request (filtered out) are settled once everything before them is.
 * MUST: at most `limit` requests are outstanding.
 */

/** One request (or a run of records that needs none), in log order. */
export interface Slot {
  /** The last sequence number the slot covers (its events and the records filtered out before the next slot). */
  readonly through: number
  /** Events the slot delivers (0 for a run of records that needs no request). */
  readonly events: number
  /** Every event up to this sequence number is settled (a prefix of a split batch), or -1. */
  progress: number
  done: boolean
}

/** Where the cursor may move: `cursor`, covering `events` more delivered events. */
export interface Advance { cursor: number, events: number }

export class InFlight {
  private readonly slots: Slot[] = []
  private outstanding = 0
  private queuedThrough: number
  private waiters: Array<() => void> = []

  /** `cursor`: the last settled sequence number when the window opens. */
  constructor (readonly limit: number, private cursor: number) {
    if (!Number.isInteger(limit) || limit < 1) throw new TypeError(`limit must be an integer >= 1, got ${limit}`)
    this.queuedThrough = cursor
  }

  /** Requests outstanding now. */
  get size (): number {
    return this.outstanding
  }

  get full (): boolean {
    return this.outstanding >= this.limit
  }

  /** A request goes out for `events` events; the records it covers end at `through`. */
  open (through: number, events: number): Slot {
    if (through <= this.queuedThrough) throw new TypeError(`slots go in log order: ${through} after ${this.queuedThrough}`)
    const slot: Slot = { through, events, progress: -1, done: false }
    this.slots.push(slot)
    this.queuedThrough = through
    this.outstanding++
    return slot
  }

  /**
   * Records up to `through` need no request (filtered out): settled with everything before
   * them. Returns where the cursor may move now, if anywhere.
   */
  skip (through: number): Advance | undefined {
    if (through <= this.queuedThrough) return undefined
    this.slots.push({ through, events: 0, progress: -1, done: true })
    this.queuedThrough = through
    return this.advance()
  }

  /** Events of `slot` up to `seq` are settled (a split batch settles in parts). */
  progress (slot: Slot, seq: number): Advance | undefined {
    if (seq > slot.progress) slot.progress = seq
    return this.advance()
  }

  /** Every event of `slot` is settled. */
  settle (slot: Slot): Advance | undefined {
    if (slot.done) return undefined
    slot.done = true
    this.outstanding--
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
    return this.advance()
  }

  /** Resolves when a request settles (room for another), or when `wake()` is called. */
  async space (): Promise<void> {
    if (!this.full) return
    await new Promise<void>(resolve => this.waiters.push(resolve))
  }

  /** Ends every wait for space now (the bridge stops, or a request failed). */
  wake (): void {
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** Takes the settled prefix off the front; where the cursor may move, if it moved. */
  private advance (): Advance | undefined {
    let cursor = this.cursor
    let events = 0
    while (this.slots.length > 0 && (this.slots[0] as Slot).done) {
      const slot = this.slots.shift() as Slot
      cursor = slot.through
      events += slot.events
    }
    // the first open request may have settled a prefix of its events (a split batch)
    const head = this.slots[0]
    if (head !== undefined && head.progress > cursor) cursor = head.progress
    if (cursor === this.cursor) return undefined
    this.cursor = cursor
    return { cursor, events }
  }
}
