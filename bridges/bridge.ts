/**
 * A running bridge: reads the log from its cursor, maps, filters, batches and
 * delivers, one request in flight, in log order.
 *
 * MUST: the cursor moves past an event only once the upstream answered 2xx, or
 *       it is filtered out, or it is in the dead-letter store.
 * MUST: retryable failures (network, timeout, 408, 429, 5xx, 3xx) retry forever
 *       with backoff; nothing is skipped while the upstream is away.
 * MUST: a permanent rejection of a batch is split until the rejected events are
 *       found; those go to the dead-letter store, the rest are delivered.
 * MUST: a resent event keeps its id (ids derive from the sequence number).
 * SHOULD: delivery does not wait for cursor writes; the stored cursor trails the
 *         delivered one by the write in flight, and a crash resends from it.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import type { CursorStore, DeadLetterStore, EventLog, LogRecord } from '../storage/index.js'
import { CONTENT_TYPE_JSON, CONTENT_TYPE_STRUCTURED, createEventBatchEncoder, encodeEventJSON, encodeHttp, toJSONFormat, type CloudEvent, type HttpMessage } from './cloudevents/index.js'
import { createEventJSONEncoder } from './cloudevents/json-format.js'
import type { CompiledBridge } from './compile.js'
import { HEARTBEAT_TOPIC, heartbeatEvent } from './heartbeat.js'
import { classify, nextDelay, type RetryDecision } from './retry/index.js'
import type { SendResult } from './sink/http-sink.js'

export interface BridgeLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
  error (obj: object, msg: string): void
}

export interface Sink {
  send (message: HttpMessage, signal?: AbortSignal): Promise<SendResult>
  close (): Promise<void>
}

export interface BridgeDeps {
  log: EventLog
  cursors: CursorStore
  deadLetters: DeadLetterStore
  sink: Sink
  logger: BridgeLogger
  now?: () => number
  random?: () => number
  /** Counters carried over from an earlier run of the same bridge (pause/resume, replay). */
  counts?: BridgeCounts
  /** Called after every upstream request, for metrics. */
  onRequest?: (status: number | 'timeout' | 'error', durationMs: number) => void
}

export interface BridgeCounts { delivered: number, filtered: number, retries: number, deadLettered: number, missed: number }

export type BridgeState = 'starting' | 'running' | 'retrying' | 'stopped'

export interface BridgeStatus {
  name: string
  state: BridgeState
  /** Last sequence number settled (delivered, filtered out or dead-lettered). */
  cursor: number
  delivered: number
  filtered: number
  retries: number
  deadLettered: number
  /** Records removed by retention before this bridge could deliver them. */
  missed: number
  lastError?: string | undefined
}

/** An event to send: `piece` is its JSON format (batch, structured mode); `raw` the JSON text its data was parsed from. */
interface Item { seq: number, event: CloudEvent, piece?: Buffer, raw?: Buffer | undefined }

const READ_CHUNK = 2000
/** Cursor writes are at least this far apart; a crash resends at most about this much more. */
const CURSOR_WRITE_INTERVAL_MS = 10
/** Lower bound of maxUnstored, so binary mode (one event a request) rarely waits for a cursor write. */
const MIN_UNSTORED_EVENTS = 200

export class Bridge {
  readonly name: string
  private readonly cfg: CompiledBridge
  private readonly deps: BridgeDeps
  private readonly abort = new AbortController()
  private readonly now: () => number
  private readonly random: () => number
  private cursor = 0
  private state: BridgeState = 'starting'
  private running: Promise<void> | undefined
  private closing: Promise<void> | undefined
  private readonly counts: BridgeCounts
  private lastError: string | undefined
  private readonly json = createEventJSONEncoder()
  /** The cursor write in flight (see storeCursor), and the error that ended cursor writes. */
  private cursorWrite: Promise<void> | undefined
  private cursorError: Error | undefined
  /** A cursor write waiting for CURSOR_WRITE_INTERVAL_MS to pass since the last one. */
  private cursorTimer: NodeJS.Timeout | undefined
  private lastCursorWrite = -Infinity
  /** Events delivered, and how many of them the stored cursor covers. */
  private sent = 0
  private sentStored = 0
  /** The most delivered events the stored cursor may trail by (what a crash can resend beyond the request in flight). */
  private readonly maxUnstored: number

  constructor (cfg: CompiledBridge, deps: BridgeDeps) {
    this.name = cfg.name
    this.cfg = cfg
    this.deps = deps
    this.now = deps.now ?? Date.now
    this.random = deps.random ?? Math.random
    this.counts = deps.counts ?? { delivered: 0, filtered: 0, retries: 0, deadLettered: 0, missed: 0 }
    this.maxUnstored = Math.max(2 * cfg.maxEvents, MIN_UNSTORED_EVENTS)
  }

  /** Resolves the starting cursor (stored, or from the configured start) and begins delivering. */
  async start (): Promise<void> {
    const { log, cursors } = this.deps
    const stored = await cursors.get(this.name)
    if (stored !== undefined) {
      this.cursor = stored
    } else {
      const start = this.cfg.start
      this.cursor = start.kind === 'end'
        ? log.lastSeq
        : start.kind === 'earliest'
          ? log.firstSeq - 1
          : start.kind === 'seq'
            ? Math.max(0, start.seq - 1)
            : (await log.seekTime(start.ms)) - 1
      await cursors.set(this.name, this.cursor)
    }
    this.state = 'running'
    this.deps.logger.info({ event: 'bridge-up', bridge: this.name, cursor: this.cursor, stored: stored !== undefined }, `bridge ${this.name} started at sequence ${this.cursor + 1}`)
    this.running = this.run().catch((err: unknown) => {
      if (this.abort.signal.aborted) return
      this.state = 'stopped'
      this.lastError = (err as Error).message
      this.deps.logger.error({ event: 'bridge-down', bridge: this.name, err }, `bridge ${this.name} stopped on an error`)
    })
  }

  status (): BridgeStatus {
    return { name: this.name, state: this.state, cursor: this.cursor, ...this.counts, lastError: this.lastError }
  }

  /** Stops after aborting the request in flight (its events stay undelivered and are resent later). Idempotent. */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      this.abort.abort()
      await this.running
      await this.cursorStored()
      await this.deps.sink.close()
      this.state = 'stopped'
    })()
    await this.closing
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
     * The batch being delivered while the loop reads, maps and encodes the next one: still one
     * request in flight and the cursor moves in order, but reading the log and preparing events
     * overlap with the upstream's time to answer instead of adding to it.
     */
    let inFlight: Promise<void> | undefined
    /** Waits for the batch in flight; its error (a store failure) is the loop's error. */
    const settle = async (): Promise<void> => {
      const pending = inFlight
      inFlight = undefined
      await pending
      if (this.cursorError !== undefined) throw this.cursorError
    }
    const dispatch = async (items: Item[], through: number): Promise<void> => {
      await settle()
      // bound what a crash can resend: never more than maxUnstored delivered events ahead of the stored cursor
      if (this.sent - this.sentStored >= this.maxUnstored) await this.cursorStored()
      const pending = this.flush(items, through)
      pending.catch(() => {}) // observed by settle(); an abort must not be an unhandled rejection
      inFlight = pending
    }

    try {
      while (!signal.aborted) {
        if (settledThrough >= log.lastSeq) {
          if (batch.length > 0) {
            const wait = lingerUntil - this.now()
            if (wait > 0) {
              await this.waitForRecord(settledThrough + 1, { timeoutMs: wait })
              continue
            }
            await dispatch(batch, settledThrough)
            batch = []
            batchBytes = 2
            continue
          }
          if (inFlight !== undefined) {
            // a record that comes before the answer is read and prepared while the request is in flight
            await this.waitForRecord(settledThrough + 1, { until: inFlight })
            if (settledThrough < log.lastSeq) continue
          }
          // caught up: let the batch in flight move the cursor first, then the filtered-out tail
          await settle()
          if (settledThrough > this.cursor) this.advance(settledThrough)
          await this.waitForRecord(settledThrough + 1)
          continue
        }
        const records = await log.read(settledThrough + 1, READ_CHUNK)
        if (records.length === 0) {
          // Retention removed every record after settledThrough (the log is empty): count them
          // as missed and wait for new ones, rather than end the delivery loop.
          const gone = Math.min(log.lastSeq, log.firstSeq - 1)
          if (gone > settledThrough) {
            this.missedRecords(settledThrough + 1, gone)
            settledThrough = gone
          }
          continue
        }
        const first = records[0] as LogRecord
        if (first.seq > settledThrough + 1) this.missedRecords(settledThrough + 1, first.seq - 1)
        for (const record of records) {
          if (signal.aborted) return
          const item = this.prepare(record)
          if (item === undefined) {
            this.counts.filtered++
            settledThrough = record.seq
            continue
          }
          const size = item.piece !== undefined ? item.piece.length + 1 : 0
          if (batch.length > 0 && (batch.length >= this.cfg.maxEvents || batchBytes + size > this.cfg.maxBytes)) {
            await dispatch(batch, settledThrough)
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
      // after an abort the request in flight is aborted too; close() returns once it has settled
      await inFlight?.catch(() => {})
    }
  }

  private missedRecords (fromSeq: number, toSeq: number): void {
    const missed = toSeq - fromSeq + 1
    this.counts.missed += missed
    this.deps.logger.warn({ event: 'bridge-missed', bridge: this.name, fromSeq, toSeq, records: missed }, `bridge ${this.name}: ${missed} records were removed by retention before delivery`)
  }

  /**
   * Waits until record `seq` is committed, at most `timeoutMs` or until `until` settles, or
   * until the bridge stops.
   * The log leaves its abort listener on the signal it is given, so it gets a signal of its
   * own for each wait: with the bridge's long-lived signal, every idle wait would add a
   * listener that is never removed (a leak, and a MaxListenersExceededWarning).
   */
  private async waitForRecord (seq: number, opts: { timeoutMs?: number, until?: Promise<unknown> } = {}): Promise<void> {
    const signal = this.abort.signal
    if (signal.aborted) return
    const wait = new AbortController()
    const stop = (): void => { wait.abort() }
    signal.addEventListener('abort', stop, { once: true })
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(stop, opts.timeoutMs)
    opts.until?.then(stop, stop)
    try {
      await this.deps.log.waitFor(seq, wait.signal)
    } finally {
      signal.removeEventListener('abort', stop)
      if (timer !== undefined) clearTimeout(timer)
    }
  }

  /** Maps and filters a record; undefined when it is not for this bridge. */
  private prepare (record: LogRecord): Item | undefined {
    if (record.topic === HEARTBEAT_TOPIC) {
      if (!this.cfg.heartbeat) return undefined
      const event = heartbeatEvent(record, this.cfg.gatewayId)
      return this.cfg.mode === 'batch' ? { seq: record.seq, event, piece: encodeEventJSON(event) } : { seq: record.seq, event }
    }
    if (!this.cfg.matchesTopic(record.topic)) return undefined
    const event = this.cfg.map(record)
    if (!this.cfg.filter(event)) return undefined
    // JSON data is the payload parsed: its text goes out as it is (no second serialisation)
    const raw = event.datacontenttype === CONTENT_TYPE_JSON && event.data !== undefined && !Buffer.isBuffer(event.data) ? record.payload : undefined
    if (this.cfg.mode === 'binary') return { seq: record.seq, event, raw }
    // a mapped event's attributes other than id, time, sequence and data follow from topic and client id
    return { seq: record.seq, event, piece: this.json.encode(event, record.topic + '\u0000' + record.clientId, raw) }
  }

  private async flush (batch: Item[], settledThrough: number): Promise<void> {
    await this.deliver(batch)
    this.sent += batch.length
    this.advance(settledThrough)
  }

  private advance (seq: number): void {
    this.cursor = seq
    this.storeCursor()
  }

  /**
   * Stores the cursor without making delivery wait: one write at a time, the newest value
   * next, at most one per CURSOR_WRITE_INTERVAL_MS. A LevelDB write queues behind the log's
   * fsynced group commits, so waiting for it before every request cost milliseconds per
   * request while devices publish, and a write per event costs CPU in binary mode. A stored
   * cursor a little behind after a crash only means those events are resent, with their ids.
   */
  private storeCursor (): void {
    if (this.cursorWrite !== undefined || this.cursorTimer !== undefined || this.cursorError !== undefined) return
    const wait = this.lastCursorWrite + CURSOR_WRITE_INTERVAL_MS - performance.now()
    if (wait > 0) {
      this.cursorTimer = setTimeout(() => {
        this.cursorTimer = undefined
        this.storeCursor()
      }, wait)
      return
    }
    this.lastCursorWrite = performance.now()
    const seq = this.cursor
    const sent = this.sent
    this.cursorWrite = this.deps.cursors.set(this.name, seq).then(() => {
      this.cursorWrite = undefined
      this.sentStored = sent
      if (this.cursor !== seq) this.storeCursor()
    }, (err: unknown) => {
      this.cursorWrite = undefined
      this.cursorError = err as Error // the delivery loop stops on it
    })
  }

  /** Resolves once the newest cursor is stored (or cursor writes failed). */
  private async cursorStored (): Promise<void> {
    if (this.cursorTimer !== undefined) {
      clearTimeout(this.cursorTimer)
      this.cursorTimer = undefined
      this.lastCursorWrite = -Infinity
      this.storeCursor()
    }
    while (this.cursorWrite !== undefined) await this.cursorWrite
  }

  private encode (items: readonly Item[]): HttpMessage {
    const first = items[0] as Item
    if (this.cfg.mode === 'binary') {
      if (first.raw === undefined) return encodeHttp(first.event, 'binary')
      // the headers of the event (Content-Type from datacontenttype), the payload's JSON text as the body
      return { headers: encodeHttp({ ...first.event, data: undefined }, 'binary').headers, body: first.raw }
    }
    if (this.cfg.mode === 'structured') {
      return first.piece === undefined ? encodeHttp(first.event, 'structured') : { headers: { 'content-type': CONTENT_TYPE_STRUCTURED }, body: first.piece }
    }
    const enc = createEventBatchEncoder()
    for (const item of items) enc.push(item.piece as Buffer)
    return enc.finish()
  }

  /** Sends until the upstream takes the events or rejects them for good. */
  private async deliver (items: readonly Item[]): Promise<void> {
    const message = this.encode(items)
    let attempt = 0
    let previousMs: number | undefined
    for (;;) {
      const result = await this.deps.sink.send(message, this.abort.signal)
      const o = result.outcome
      this.deps.onRequest?.(o.kind === 'response' ? o.status : o.kind === 'timeout' ? 'timeout' : 'error', result.durationMs)
      const decision = classify(o)
      if (decision.action === 'success') {
        this.counts.delivered += items.length
        if (this.state === 'retrying') {
          this.deps.logger.info({ event: 'bridge-recovered', bridge: this.name, attempts: attempt + 1 }, `bridge ${this.name} delivering again`)
        }
        this.state = 'running'
        this.lastError = undefined
        return
      }
      if (decision.action === 'reject') {
        await this.rejected(items, decision.status, result.body)
        return
      }
      attempt++
      this.counts.retries++
      const delay = nextDelay(attempt, {
        baseMs: this.cfg.retryBaseMs,
        maxMs: this.cfg.retryMaxMs,
        random: this.random,
        jitter: 'decorrelated',
        previousMs,
        retryAfter: decision.retryAfter,
        now: this.now()
      })
      previousMs = delay
      this.lastError = describe(decision, result)
      if (this.state !== 'retrying' || attempt % 20 === 0) {
        this.deps.logger.warn({ event: 'bridge-retrying', bridge: this.name, attempt, error: this.lastError, nextAttempt: new Date(this.now() + delay).toISOString() }, `bridge ${this.name}: delivery failed (${this.lastError}), retrying`)
      }
      this.state = 'retrying'
      await sleep(delay, undefined, { signal: this.abort.signal })
    }
  }

  /** A permanent rejection: split a batch to find the rejected events; dead-letter those. */
  private async rejected (items: readonly Item[], status: number, body: string): Promise<void> {
    if (items.length > 1) {
      const mid = items.length >> 1
      await this.deliver(items.slice(0, mid))
      await this.deliver(items.slice(mid))
      return
    }
    const item = items[0] as Item
    await this.deps.deadLetters.add(this.name, [{ seq: item.seq, time: this.now(), event: toJSONFormat(item.event) as unknown as Record<string, unknown>, status, body }])
    this.counts.deadLettered++
    this.deps.logger.warn({ event: 'dead-letter', bridge: this.name, seq: item.seq, id: item.event.id, status }, `bridge ${this.name}: upstream rejected event ${item.event.id} (${status}); moved to the dead-letter store`)
  }
}

function describe (decision: RetryDecision, result: SendResult): string {
  if (result.outcome.kind === 'timeout') return 'timeout'
  if (result.outcome.kind === 'network-error') {
    const err = result.outcome.error as { code?: string, message?: string } | undefined
    return `network error ${err?.code ?? err?.message ?? ''}`.trim()
  }
  return `HTTP ${result.outcome.status}${decision.action === 'retry' && decision.retryAfter !== undefined ? `, Retry-After ${decision.retryAfter}` : ''}`
}
