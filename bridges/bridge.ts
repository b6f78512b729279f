/**
 * A bridge's life: where it starts (the stored cursor, or the configured start), its status,
 * and its stop. What it does while running lives beside it, one reason to change each:
 *   run-loop.ts       the delivery loop: read, map, filter, batch, requests in flight, the cursor
 *   supervisor.ts     restarting the loop with backoff when it fails
 *   delivery.ts       one batch until it is settled: retries, holds, dead letters
 *   pacing.ts         batch sizes and send times under a bandwidth cap
 *   cursor-writer.ts  storing the cursor in the background
 *
 * MUST: start() rejects, with nothing started, when the store cannot give or take the cursor.
 * MUST: status says `retrying`, with the reason, the error and when the next attempt is due,
 *       while the bridge is held or its cursor cannot be stored; `stopped` only after close().
 * MUST: close() aborts the requests in flight; their events are resent by the next run with
 *       the same ids (ids derive from the sequence number).
 * MUST: close() tries once more to store the newest cursor, and says so when it cannot.
 * MUST: a hold and a refused compression carry over to the next run of the same bridge.
 */
import { setMaxListeners } from 'node:events'
import type { CursorStore, DeadLetterStore, EventLog } from '../storage/index.js'
import type { CompiledBridge } from './compile.js'
import { Throttle } from './bandwidth.js'
import { Compressor } from './compression.js'
import { CursorWriter } from './cursor-writer.js'
import { Delivery, errorText, type Sink } from './delivery.js'
import { HoldState, type Hold } from './hold.js'
import { ItemCodec } from './items.js'
import { Pacing } from './pacing.js'
import type { HoldReason } from './retry/index.js'
import { RunLoop } from './run-loop.js'
import { Supervisor } from './supervisor.js'

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
  /** Records removed by retention before this bridge could deliver them. */
  missed: number
  /** Request bytes sent upstream as on the wire (request line, headers, body after compression), retries included. */
  bytesSent: number
  /** The same requests before compression. */
  bytesBeforeCompression: number
}

export type BridgeState = 'starting' | 'running' | 'retrying' | 'stopped'

export interface BridgeStatus extends BridgeCounts {
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
  lastError?: string | undefined
}

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
  private started = false
  private closed = false
  private running: Promise<void> | undefined
  private closing: Promise<void> | undefined
  private readonly counts: BridgeCounts
  private readonly delivery: Delivery
  private readonly holds: HoldState
  private readonly compressor: Compressor
  private readonly supervisor: Supervisor
  private readonly loop: RunLoop
  private writer: CursorWriter | undefined

  constructor (cfg: CompiledBridge, deps: BridgeDeps) {
    this.name = cfg.name
    this.cfg = cfg
    this.deps = deps
    this.now = deps.now ?? Date.now
    this.random = deps.random ?? Math.random
    this.counts = deps.counts ?? { delivered: 0, filtered: 0, retries: 0, deadLettered: 0, missed: 0, bytesSent: 0, bytesBeforeCompression: 0 }
    // each request in flight listens on the bridge's signal (the HTTP request, the bandwidth
    // wait, a hold): with many in flight that is many listeners, not a leak
    setMaxListeners(LISTENERS_BESIDE_REQUESTS + LISTENERS_PER_REQUEST * cfg.maxInFlight, this.abort.signal)
    this.holds = new HoldState(cfg.name, deps.logger)
    // carried over from the previous run: due now (a new run attempts at once)
    if (deps.held !== undefined) this.holds.current = { ...deps.held, nextAttemptAt: this.now(), probing: false }
    const items = new ItemCodec(cfg)
    this.compressor = new Compressor(cfg.compression, () => {
      deps.logger.warn({ event: 'bridge-compression-refused', bridge: cfg.name, compression: cfg.compression }, `bridge ${cfg.name}: the upstream refused a ${cfg.compression}-compressed request (415); sending uncompressed from now on`)
    }, deps.compressionRefused === true)
    const throttle = cfg.maxBytesPerSecond === undefined ? undefined : new Throttle(cfg.maxBytesPerSecond)
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
      encode: list => items.encode(list),
      compressor: this.compressor,
      throttle,
      onRequest: deps.onRequest
    })
    this.supervisor = new Supervisor({ holds: this.holds, signal: this.abort.signal, now: this.now, random: this.random })
    this.loop = new RunLoop(cfg, {
      name: cfg.name,
      log: deps.log,
      logger: deps.logger,
      counts: this.counts,
      items,
      delivery: this.delivery,
      pacing: new Pacing(cfg.maxBytes, throttle, this.compressor, this.abort.signal),
      signal: this.abort.signal,
      now: this.now,
      recovered: () => { this.supervisor.recovered() }
    })
  }

  /**
   * Resolves the starting cursor (stored, or from the configured start) and begins delivering.
   * Rejects, with nothing started, when the store cannot give or take the cursor.
   */
  async start (): Promise<void> {
    const { log, cursors } = this.deps
    const loop = this.loop
    const stored = await cursors.get(this.name)
    if (stored !== undefined) {
      loop.cursor = stored
    } else {
      const start = this.cfg.start
      loop.cursor = start.kind === 'end'
        ? this.deps.endSeq ?? log.lastSeq
        : start.kind === 'earliest'
          ? log.firstSeq - 1
          : start.kind === 'seq'
            ? Math.max(0, start.seq - 1)
            : (await log.seekTime(start.ms)) - 1
      await cursors.set(this.name, loop.cursor)
    }
    const writer = new CursorWriter(this.name, cursors, loop.cursor, {
      random: this.random,
      onFailing: err => {
        this.deps.logger.warn({ event: 'bridge-cursor-write-failed', bridge: this.name, err }, `bridge ${this.name}: its cursor cannot be stored (${errorText(err)}); retrying, delivery goes on`)
      },
      onRecovered: () => {
        this.deps.logger.info({ event: 'bridge-cursor-write-recovered', bridge: this.name }, `bridge ${this.name}: its cursor is stored again`)
      }
    })
    this.writer = writer
    this.started = true
    this.deps.logger.info({ event: 'bridge-up', bridge: this.name, cursor: loop.cursor, stored: stored !== undefined }, `bridge ${this.name} started at sequence ${loop.cursor + 1}`)
    this.running = this.supervisor.keep(async () => { await loop.run(writer) })
  }

  status (): BridgeStatus {
    const hold = this.holds.current
    const cursorFailure = this.writer?.failing
    const state: BridgeState = this.closed ? 'stopped' : !this.started ? 'starting' : hold !== undefined || cursorFailure !== undefined ? 'retrying' : 'running'
    const base: BridgeStatus = { name: this.name, state, cursor: this.loop.cursor, ...this.counts }
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
        this.deps.logger.warn({ event: 'bridge-cursor-not-stored', bridge: this.name, cursor: this.loop.cursor }, `bridge ${this.name}: its newest cursor could not be stored; events after the stored one will be sent again`)
      }
      await this.deps.sink.close()
      this.closed = true
    })()
    await this.closing
  }
}
