/**
 * A running bridge: reads the log from its cursor, maps, filters, batches and
 * delivers in log order, with up to sink.maxInFlight requests in flight.
 *
 * MUST: the cursor moves past an event only once the upstream answered 2xx, or
 *       it is filtered out, or it is in the dead-letter store, and so has every
 *       event before it (in-flight.ts).
 * MUST: with maxInFlight 1 (the default) requests go one at a time, in log order.
 * MUST: a failure that says the bridge is wrong holds every event and is retried
 *       forever; only a rejection of the events dead-letters them (delivery.ts).
 * MUST: a resent event keeps its id (ids derive from the sequence number).
 * MUST: a store error (cursor or dead-letter write, log read) never stops the bridge:
 *       it is retried with backoff, and the bridge shows `retrying` meanwhile.
 * SHOULD: delivery does not wait for cursor writes; the stored cursor trails the
 *         delivered one by at most maxUnstored events, and a crash resends from it.
 */
import { setMaxListeners } from 'node:events'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CursorStore, DeadLetterStore, EventLog, LogRecord } from '../storage/index.js'
import type { CompiledBridge } from './compile.js'
import { Throttle } from './bandwidth.js'
import { Compressor } from './compression.js'
import { CursorWriter } from './cursor-writer.js'
import { Delivery, errorText, STORE_RETRY, type Sink } from './delivery.js'
import { HoldState, type Hold } from './hold.js'
import { InFlight, type Advance } from './in-flight.js'
import { ItemCodec, type Item } from './items.js'
import { nextDelay, type HoldReason } from './retry/index.js'

export interface BridgeLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export interface BridgeDeps {
  log: EventLog
  cursors: Pick<CursorStore, 'get' | 'set'>
  deadLetters: Pick<DeadLetterStore, 'add'>
  sink: Sink
  logger: BridgeLogger
  now?: () => number
  random?: () => number
  /** Counters carried over from an earlier run of the same bridge (pause/resume, replay). */
  counts?: BridgeCounts
  /** Called after every upstream request, for metrics. */
  onRequest?: (status: number | 'timeout' | 'error', durationMs: number) => void
  /** The end of the log when the bridge was added: where `start: end` begins (default: the end now). */
  endSeq?: number | undefined
  /** The hold of an earlier run of the same bridge: it is not logged again, and its end is. */
  held?: Hold | undefined
  /** An earlier run of the same bridge learnt that the upstream takes no compressed requests (415). */
  compressionRefused?: boolean | undefined
}

export interface BridgeCounts {
  delivered: number
  filtered: number
  retries: number
  deadLettered: number
  missed: number
  /** Request bytes sent upstream as on the wire (request line, headers, body after compression), retries included. */
  bytesSent: number
  /** The same requests before compression. */
  bytesBeforeCompression: number
}

export type BridgeState = 'starting' | 'running' | 'retrying' | 'stopped'

export interface BridgeStatus {
  name: string
  state: BridgeState
  /** Why the bridge is `retrying`. */
  reason?: HoldReason | undefined
  /** When the next attempt is due (RFC 3339), while retrying. */
  nextAttemptAt?: string | undefined
  /** While the upstream is unreachable: its return is checked every second, and delivery resumes at once. */
  probing?: boolean | undefined
  /** Last sequence number settled (delivered, filtered out or dead-lettered). */
  cursor: number
  delivered: number
  filtered: number
  retries: number
  deadLettered: number
  /** Records removed by retention before this bridge could deliver them. */
  missed: number
  /** Request bytes sent upstream as on the wire (request line, headers, body after compression), retries included. */
  bytesSent: number
  /** The same requests before compression. */
  bytesBeforeCompression: number
  lastError?: string | undefined
}

const READ_CHUNK = 2000
/** About the request line and headers of a batch request, for sizing batches under a bandwidth cap. */
const REQUEST_HEAD_BYTES = 256
/** Lower bound of maxUnstored, so binary mode (one event a request) rarely waits for a cursor write. */
const MIN_UNSTORED_EVENTS = 200
/** Abort listeners on the bridge's signal: per request in flight, and the delivery loop's own. */
const LISTENERS_PER_REQUEST = 3
const LISTENERS_BESIDE_REQUESTS = 10

export class Bridge {
  readonly name: string
  private readonly cfg: CompiledBridge
  private readonly deps: BridgeDeps
  private readonly abort = new AbortController()
  private readonly now: () => number
  private readonly random: () => number
  private cursor = 0
  private started = false
  private closed = false
  private running: Promise<void> | undefined
  private closing: Promise<void> | undefined
  private readonly counts: BridgeCounts
  private readonly items: ItemCodec
  private readonly delivery: Delivery
  private readonly holds: HoldState
  private readonly compressor: Compressor
  private readonly throttle: Throttle | undefined
  private writer: CursorWriter | undefined
  /** Events delivered (the stored cursor covers writer.sentStored of them). */
  private sent = 0
  /** The most delivered events the stored cursor may trail by (what a crash can resend beyond the request in flight). */
  private readonly maxUnstored: number
  /** The delivery loop failed and was restarted; the hold it set ends once the loop gets going again. */
  private recovering = false

  constructor (cfg: CompiledBridge, deps: BridgeDeps) {
    this.name = cfg.name
    this.cfg = cfg
    this.deps = deps
    this.now = deps.now ?? Date.now
    this.random = deps.random ?? Math.random
    this.counts = deps.counts ?? { delivered: 0, filtered: 0, retries: 0, deadLettered: 0, missed: 0, bytesSent: 0, bytesBeforeCompression: 0 }
    this.maxUnstored = Math.max(2 * cfg.maxEvents, MIN_UNSTORED_EVENTS)
    // each request in flight listens on the bridge's signal (the HTTP request, the bandwidth
    // wait, a hold): with many in flight that is many listeners, not a leak
    setMaxListeners(LISTENERS_BESIDE_REQUESTS + LISTENERS_PER_REQUEST * cfg.maxInFlight, this.abort.signal)
    this.holds = new HoldState(cfg.name, deps.logger)
    // carried over from the previous run: due now (a new run attempts at once)
    if (deps.held !== undefined) this.holds.current = { ...deps.held, nextAttemptAt: this.now(), probing: false }
    this.items = new ItemCodec(cfg)
    this.compressor = new Compressor(cfg.compression, () => {
      deps.logger.warn({ event: 'bridge-compression-refused', bridge: cfg.name, compression: cfg.compression }, `bridge ${cfg.name}: the upstream refused a ${cfg.compression}-compressed request (415); sending uncompressed from now on`)
    }, deps.compressionRefused === true)
    this.throttle = cfg.maxBytesPerSecond === undefined ? undefined : new Throttle(cfg.maxBytesPerSecond)
    this.delivery = new Delivery(cfg, {
      name: cfg.name,
      sink: deps.sink,
      deadLetters: deps.deadLetters,
      logger: deps.logger,
      holds: this.holds,
      counts: this.counts,
      signal: this.abort.signal,
      now: this.now,
      random: this.random,
      encode: items => this.items.encode(items),
      compressor: this.compressor,
      throttle: this.throttle,
      onRequest: deps.onRequest
    })
  }

  /**
   * Resolves the starting cursor (stored, or from the configured start) and begins delivering.
   * Rejects, with nothing started, when the store cannot give or take the cursor.
   */
  async start (): Promise<void> {
    const { log, cursors } = this.deps
    const stored = await cursors.get(this.name)
    if (stored !== undefined) {
      this.cursor = stored
    } else {
      const start = this.cfg.start
      this.cursor = start.kind === 'end'
        ? this.deps.endSeq ?? log.lastSeq
        : start.kind === 'earliest'
          ? log.firstSeq - 1
          : start.kind === 'seq'
            ? Math.max(0, start.seq - 1)
            : (await log.seekTime(start.ms)) - 1
      await cursors.set(this.name, this.cursor)
    }
    this.writer = new CursorWriter(this.name, cursors, this.cursor, {
      random: this.random,
      onFailing: err => {
        this.deps.logger.warn({ event: 'bridge-cursor-write-failed', bridge: this.name, err }, `bridge ${this.name}: its cursor cannot be stored (${errorText(err)}); retrying, delivery goes on`)
      },
      onRecovered: () => {
        this.deps.logger.info({ event: 'bridge-cursor-write-recovered', bridge: this.name }, `bridge ${this.name}: its cursor is stored again`)
      }
    })
    this.started = true
    this.deps.logger.info({ event: 'bridge-up', bridge: this.name, cursor: this.cursor, stored: stored !== undefined }, `bridge ${this.name} started at sequence ${this.cursor + 1}`)
    this.running = this.supervise()
  }

  status (): BridgeStatus {
    const hold = this.holds.current
    const cursorFailure = this.writer?.failing
    const state: BridgeState = this.closed ? 'stopped' : !this.started ? 'starting' : hold !== undefined || cursorFailure !== undefined ? 'retrying' : 'running'
    const base: BridgeStatus = { name: this.name, state, cursor: this.cursor, ...this.counts }
    if (state !== 'retrying') return base
    if (hold === undefined) return { ...base, reason: 'store', lastError: `cursor write failed: ${errorText(cursorFailure)}` }
    return { ...base, reason: hold.reason, nextAttemptAt: new Date(hold.nextAttemptAt).toISOString(), probing: hold.probing, lastError: hold.error }
  }

  /** Why the bridge is held, if it is (for the next run of the same bridge). */
  held (): Hold | undefined {
    return this.holds.current
  }

  /** The upstream refused compressed requests (for the next run of the same bridge). */
  compressionRefused (): boolean {
    return this.compressor.wasRefused
  }

  /** A held bridge attempts delivery now instead of waiting out its backoff (an operator's resume). */
  retryNow (): void {
    this.holds.wake()
  }

  /** Stops after aborting the request in flight (its events stay undelivered and are resent later). Idempotent. */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort()
      await this.running
      this.delivery.deadLetterLines.sayHeld()
      if (this.writer !== undefined && !await this.writer.close()) {
        this.deps.logger.warn({ event: 'bridge-cursor-not-stored', bridge: this.name, cursor: this.cursor }, `bridge ${this.name}: its newest cursor could not be stored; events after the stored one will be sent again`)
      }
      await this.deps.sink.close()
      this.closed = true
    })()
    await this.closing
  }

  /**
   * The delivery loop, restarted with backoff from the last settled event whenever it fails
   * (a log read the store refuses, a record that cannot be prepared): the bridge is never
   * left stopped by an error, and shows `retrying` with the error meanwhile.
   */
  private async supervise (): Promise<void> {
    const signal = this.abort.signal
    let attempts = 0
    let previousMs: number | undefined
    while (!signal.aborted) {
      try {
        await this.run()
        return
      } catch (err) {
        if (signal.aborted) return
        attempts++
        const delay = nextDelay(attempts, { ...STORE_RETRY, random: this.random, jitter: 'decorrelated', previousMs })
        previousMs = delay
        this.holds.enter({ reason: 'store', error: `delivery failed: ${errorText(err)}`, nextAttemptAt: this.now() + delay, probing: false })
        this.recovering = true
        try {
          await this.holds.wait(delay, signal)
        } catch {
          return
        }
      }
    }
  }

  private async run (): Promise<void> {
    const { log } = this.deps
    const signal = this.abort.signal
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
    const check = (): void => {
      if (failure !== undefined) throw failure.err
    }
    const moved = (advance: Advance | undefined): void => {
      if (advance === undefined) return
      this.sent += advance.events
      this.advance(advance.cursor)
    }
    const dispatch = async (items: Item[], through: number, bodyBytes: number): Promise<void> => {
      while (window.full && !signal.aborted) {
        check()
        await window.space()
      }
      check()
      // bound what a crash can resend: never more than maxUnstored delivered events ahead of the stored cursor
      const writer = this.writer as CursorWriter
      if (this.sent - writer.sentStored >= this.maxUnstored) await writer.flushed()
      const charged = await this.underCap(bodyBytes)
      if (signal.aborted) return
      const slot = window.open(through, items.length)
      const request = this.delivery.deliver(items, seq => moved(window.progress(slot, seq)), charged).then(() => moved(window.settle(slot)), (err: unknown) => {
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
            const wait = lingerUntil - this.now()
            if (wait > 0) {
              await this.waitForRecord(settledThrough + 1, failed.signal, { timeoutMs: wait })
              continue
            }
            if (batch.length < this.delivery.batchLimit && batchBytes < this.batchByteLimit()) {
              // no room for another request yet, or the bandwidth cap would hold this one back:
              // the batch takes what arrives meanwhile, rather than many small requests later
              if (window.full) {
                await this.waitForRecord(settledThrough + 1, failed.signal, { until: window.space() })
                continue
              }
              const capped = this.capDelay(batchBytes)
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
          this.recovered()
          await this.waitForRecord(settledThrough + 1, failed.signal)
          continue
        }
        const readTo = log.lastSeq
        const records = await log.read(settledThrough + 1, READ_CHUNK)
        this.recovered()
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
          const item = this.items.prepare(record)
          if (item === undefined) {
            this.counts.filtered++
            settledThrough = record.seq
            continue
          }
          const size = item.piece !== undefined ? item.piece.length + 1 : 0
          if (batch.length > 0 && (batch.length >= this.delivery.batchLimit || batchBytes + size > this.batchByteLimit())) {
            await dispatch(batch, settledThrough, batchBytes)
            batch = []
            batchBytes = 2
          }
          if (batch.length === 0) lingerUntil = this.now() + this.cfg.lingerMs
          batch.push(item)
          batchBytes += size
          settledThrough = record.seq
        }
      }
    } finally {
      // after an abort the requests in flight are aborted too; close() returns once they have settled
      while (requests.size > 0) await Promise.all([...requests])
    }
  }

  /**
   * Largest batch body: batch.maxBytes, and under a bandwidth cap about what one bucket
   * (a second of the cap) carries once compressed, so requests stay near the cap's pace
   * instead of one large request now and a long silence after.
   */
  private batchByteLimit (): number {
    if (this.throttle === undefined) return this.cfg.maxBytes
    const budget = (this.throttle.bucket.capacity - REQUEST_HEAD_BYTES) * this.compressor.ratio
    return Math.min(this.cfg.maxBytes, Math.max(REQUEST_HEAD_BYTES, Math.floor(budget)))
  }

  /** About the bytes a request for a batch of `batchBytes` takes on the wire. */
  private requestEstimate (batchBytes: number): number {
    return REQUEST_HEAD_BYTES + Math.ceil(batchBytes / this.compressor.ratio)
  }

  /** How long the bandwidth cap would hold back a batch of `batchBytes` now (0: it may go). */
  private capDelay (batchBytes: number): number {
    return this.throttle === undefined ? 0 : this.throttle.bucket.delayFor(this.requestEstimate(batchBytes))
  }

  /**
   * Waits until the bandwidth cap lets a batch of `batchBytes` go, and charges the bucket with
   * its estimated size at once, so that the next batch sees the bucket as it will be (the
   * request charges the difference once its size is known, delivery.ts). Returns the bytes
   * charged (0 without a cap).
   */
  private async underCap (batchBytes: number): Promise<number> {
    const throttle = this.throttle
    if (throttle === undefined) return 0
    const estimate = this.requestEstimate(batchBytes)
    for (let wait = throttle.bucket.delayFor(estimate); wait > 0; wait = throttle.bucket.delayFor(estimate)) {
      await sleep(wait, undefined, { signal: this.abort.signal }).catch(() => {})
      if (this.abort.signal.aborted) return 0
    }
    throttle.bucket.take(estimate)
    return estimate
  }

  /** The delivery loop runs again after a failure: end the hold the failure set. */
  private recovered (): void {
    if (!this.recovering) return
    this.recovering = false
    if (this.holds.current?.reason === 'store') this.holds.release(0)
  }

  private advance (seq: number): void {
    this.cursor = seq
    this.writer?.set(seq, this.sent)
  }

  private missedRecords (fromSeq: number, toSeq: number): void {
    const missed = toSeq - fromSeq + 1
    this.counts.missed += missed
    this.deps.logger.warn({ event: 'bridge-missed', bridge: this.name, fromSeq, toSeq, records: missed }, `bridge ${this.name}: ${missed} records were removed by retention before delivery`)
  }

  /**
   * Waits until record `seq` is committed, at most `timeoutMs` or until `until` settles, or
   * until the bridge stops or `failed` aborts (a request failed).
   * The log leaves its abort listener on the signal it is given, so it gets a signal of its
   * own for each wait: with the bridge's long-lived signal, every idle wait would add a
   * listener that is never removed (a leak, and a MaxListenersExceededWarning). For the same
   * reason `failed` is a signal (its listener is removed), not a promise that would keep a
   * callback for every wait.
   */
  private async waitForRecord (seq: number, failed: AbortSignal, opts: { timeoutMs?: number, until?: Promise<unknown> } = {}): Promise<void> {
    const signal = this.abort.signal
    if (signal.aborted || failed.aborted) return
    const wait = new AbortController()
    const stop = (): void => { wait.abort() }
    signal.addEventListener('abort', stop, { once: true })
    failed.addEventListener('abort', stop, { once: true })
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(stop, opts.timeoutMs)
    opts.until?.then(stop, stop)
    try {
      await this.deps.log.waitFor(seq, wait.signal)
    } finally {
      signal.removeEventListener('abort', stop)
      failed.removeEventListener('abort', stop)
      if (timer !== undefined) clearTimeout(timer)
    }
  }
}
