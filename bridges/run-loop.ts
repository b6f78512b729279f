/**
 * A bridge's delivery loop: reads the log from the cursor, maps and filters each record,
 * batches, and hands batches to requests (delivery.ts), up to sink.maxInFlight at a time,
 * while it reads and prepares the next batch.
 *
 * MUST: the cursor moves past an event only once the upstream answered 2xx, or it is
 *       filtered out, or it is in the dead-letter store, and so has every event before it:
 *       it moves over the contiguous prefix of settled requests only (in-flight.ts).
 * MUST: with maxInFlight 1 (the default) requests go one at a time, in log order.
 * MUST: records removed by retention before delivery are counted as missed and logged once
 *       a gap; the loop goes on after them and never reads the same nothing again.
 * MUST: a request that fails other than by an answer ends the loop with its error (the
 *       supervisor restarts it, supervisor.ts) once the requests in flight have settled.
 * SHOULD: delivery does not wait for cursor writes; the stored cursor trails the delivered
 *         one by at most maxUnstored events, and a crash resends from it.
 */
import type { EventLog, LogRecord, RecordWait } from '../storage/index.js'
import type { BridgeCounts, BridgeLogger } from './bridge.js'
import type { CompiledBridge } from './compile.js'
import type { CursorWriter } from './cursor-writer.js'
import type { Delivery } from './delivery.js'
import { InFlight, type Advance } from './in-flight.js'
import type { ItemCodec, Item } from './items.js'
import type { Pacing } from './pacing.js'

const READ_CHUNK = 2000
/** Lower bound of maxUnstored, so binary mode (one event a request) rarely waits for a cursor write. */
const MIN_UNSTORED_EVENTS = 200

export interface RunLoopDeps {
  name: string
  log: EventLog
  logger: BridgeLogger
  counts: BridgeCounts
  items: ItemCodec
  delivery: Delivery
  pacing: Pacing
  /** Aborts when the bridge stops: the loop returns once its requests have settled. */
  signal: AbortSignal
  now: () => number
  /** Called whenever the loop gets going (reads the log, or catches up): ends a store hold. */
  recovered: () => void
}

export class RunLoop {
  /** Last sequence number settled (delivered, filtered out or dead-lettered); where a run starts. */
  cursor = 0
  /** Events delivered (the stored cursor covers writer.sentStored of them). */
  private sent = 0
  /** The most delivered events the stored cursor may trail by (what a crash can resend beyond the request in flight). */
  private readonly maxUnstored: number
  /** The wait the loop is in: run() ends it when the bridge stops or a request fails. */
  private waiting: RecordWait | undefined

  constructor (private readonly cfg: CompiledBridge, private readonly deps: RunLoopDeps) {
    this.maxUnstored = Math.max(2 * cfg.maxEvents, MIN_UNSTORED_EVENTS)
  }

  /** Delivers from the cursor until the bridge stops; rejects when a read or a request fails. */
  async run (writer: CursorWriter): Promise<void> {
    const { log, delivery, pacing, signal } = this.deps
    let batch: Item[] = []
    let batchBytes = 2
    /** Last sequence number read into (or filtered out of) the current batch. */
    let settledThrough = this.cursor
    let lingerUntil = 0
    /**
     * The requests in flight (up to sink.maxInFlight) while the loop reads, maps and encodes the
     * next batch: reading the log and preparing events overlap with the upstream's time to
     * answer instead of adding to it. The cursor moves over the settled prefix (in-flight.ts).
     */
    const window = new InFlight(this.cfg.maxInFlight, this.cursor)
    const requests = new Set<Promise<void>>()
    /** A request failed other than by an answer (it threw): the loop ends with its error. */
    let failure: { err: unknown } | undefined
    const failed = new AbortController()
    // one listener each for the whole run, not one per wait (see waitForRecord)
    const stopWaiting = (): void => { this.waiting?.cancel() }
    signal.addEventListener('abort', stopWaiting, { once: true })
    failed.signal.addEventListener('abort', stopWaiting, { once: true })
    const check = (): void => {
      if (failure !== undefined) throw failure.err
    }
    const moved = (advance: Advance | undefined): void => {
      if (advance === undefined) return
      this.sent += advance.events
      this.cursor = advance.cursor
      writer.set(advance.cursor, this.sent)
    }
    const dispatch = async (items: Item[], through: number, bodyBytes: number): Promise<void> => {
      while (window.full && !signal.aborted) {
        check()
        await window.space()
      }
      check()
      // bound what a crash can resend: never more than maxUnstored delivered events ahead of the stored cursor
      if (this.sent - writer.sentStored >= this.maxUnstored) await writer.flushed()
      const charged = await pacing.underCap(bodyBytes)
      if (signal.aborted) return
      const slot = window.open(through, items.length)
      const request = delivery.deliver(items, seq => moved(window.progress(slot, seq)), charged).then(() => moved(window.settle(slot)), (err: unknown) => {
        failure ??= { err }
        failed.abort()
        window.wake()
      })
      requests.add(request)
      void request.then(() => requests.delete(request))
    }

    try {
      while (!signal.aborted) {
        check()
        if (settledThrough >= log.lastSeq) {
          if (batch.length > 0) {
            const wait = lingerUntil - this.deps.now()
            if (wait > 0) {
              await this.waitForRecord(settledThrough + 1, failed.signal, { timeoutMs: wait })
              continue
            }
            if (batch.length < delivery.batchLimit && batchBytes < pacing.batchByteLimit()) {
              // no room for another request yet, or the bandwidth cap would hold this one back:
              // the batch takes what arrives meanwhile, rather than many small requests later
              if (window.full) {
                await this.waitForRecord(settledThrough + 1, failed.signal, { until: window.space() })
                continue
              }
              const capped = pacing.capDelay(batchBytes)
              if (capped > 0) {
                await this.waitForRecord(settledThrough + 1, failed.signal, { timeoutMs: capped })
                continue
              }
            }
            await dispatch(batch, settledThrough, batchBytes)
            batch = []
            batchBytes = 2
            continue
          }
          // caught up: the records filtered out after the last request settle with it
          moved(window.skip(settledThrough))
          this.deps.recovered()
          await this.waitForRecord(settledThrough + 1, failed.signal)
          continue
        }
        const readTo = log.lastSeq
        const records = await log.read(settledThrough + 1, READ_CHUNK)
        this.deps.recovered()
        if (records.length === 0) {
          // Nothing readable after settledThrough: retention removed those records (count them as
          // missed), or the newest were lost to damage on disk (the log counts those), so wait for
          // new ones rather than end the delivery loop or read the same nothing again.
          const removed = Math.min(readTo, log.firstSeq - 1)
          if (removed > settledThrough) this.missedRecords(settledThrough + 1, removed)
          settledThrough = Math.max(settledThrough, removed, readTo)
          continue
        }
        const first = records[0] as LogRecord
        // a gap below the log's first record was removed by retention; one above it holds numbers
        // never issued (skipped after an unclean stop) or records lost to damage, which the log counts
        const removed = Math.min(first.seq - 1, log.firstSeq - 1)
        if (removed > settledThrough) this.missedRecords(settledThrough + 1, removed)
        for (const record of records) {
          if (signal.aborted) return
          const item = this.deps.items.prepare(record)
          if (item === undefined) {
            this.deps.counts.filtered++
            settledThrough = record.seq
            continue
          }
          const size = item.piece !== undefined ? item.piece.length + 1 : 0
          if (batch.length > 0 && (batch.length >= delivery.batchLimit || batchBytes + size > pacing.batchByteLimit())) {
            await dispatch(batch, settledThrough, batchBytes)
            batch = []
            batchBytes = 2
          }
          if (batch.length === 0) lingerUntil = this.deps.now() + this.cfg.lingerMs
          batch.push(item)
          batchBytes += size
          settledThrough = record.seq
        }
      }
    } finally {
      signal.removeEventListener('abort', stopWaiting)
      failed.signal.removeEventListener('abort', stopWaiting)
      // after an abort the requests in flight are aborted too; close() returns once they have settled
      while (requests.size > 0) await Promise.all([...requests])
    }
  }

  private missedRecords (fromSeq: number, toSeq: number): void {
    const missed = toSeq - fromSeq + 1
    const name = this.deps.name
    this.deps.counts.missed += missed
    this.deps.logger.warn({ event: 'bridge-missed', bridge: name, fromSeq, toSeq, records: missed }, `bridge ${name}: ${missed} records were removed by retention before delivery`)
  }

  /**
   * Waits until record `seq` is committed, at most `timeoutMs` or until `until` settles, or
   * until the bridge stops or `failed` aborts (a request failed): run() ends the wait in
   * `waiting` then. A bridge at the tail waits once or more per commit, so a wait allocates
   * little: an AbortController and listeners on the run's signals for each wait were most of
   * what the loop allocated, and outlived the young generation often enough to fill the old one.
   */
  private async waitForRecord (seq: number, failed: AbortSignal, opts: { timeoutMs?: number, until?: Promise<unknown> } = {}): Promise<void> {
    if (this.deps.signal.aborted || failed.aborted) return
    const wait = this.deps.log.wait(seq)
    this.waiting = wait
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(wait.cancel, opts.timeoutMs)
    opts.until?.then(wait.cancel, wait.cancel)
    try {
      await wait.done
    } finally {
      this.waiting = undefined
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}
