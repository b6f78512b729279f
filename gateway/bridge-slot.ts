/**
 * One configured bridge and its lifecycle: its config, its run (the delivery loop) when it
 * should deliver, its delivery window, and the queue that makes control operations on it run
 * one at a time.
 *
 * MUST: at most one run per bridge name, by construction: a run is created only by startRun,
 *       inside the bridge's control queue, and only when the name has no run in `runs` (the
 *       registry shared by every slot).
 * MUST: a bridge that should run and cannot start (the store refuses its cursor) is started
 *       again with backoff; it is never left stopped.
 */
import { Bridge, nextDelay, type BridgeCounts, type BridgeStatus, type CompiledBridge, type Hold, type HttpSink } from '../bridges/index.js'
import { parseDuration, type BridgeConfig } from '../config/index.js'
import type { CursorStore, DeadLetterStore, EventLog } from '../storage/index.js'
import { createSink } from './bridge-sink.js'
import type { Logger } from './logger.js'
import { DeliveryWindow } from './window.js'

export interface SlotDeps {
  log: EventLog
  logger: Logger
  cursors: CursorStore
  deadLetters: DeadLetterStore
  now: () => number
  onRequest?: ((bridge: string, status: number | 'timeout' | 'error', durationMs: number) => void) | undefined
  /** Every run that exists, by bridge name. */
  runs: Map<string, Bridge>
  /** The set is closing: no run starts any more. */
  closed: () => boolean
}

export type SlotState = BridgeStatus['state'] | 'paused' | 'outside window'

/** Backoff between attempts to start a bridge whose cursor the store refuses. */
const RESTART_BASE_MS = 500
const RESTART_MAX_MS = 30_000

export class BridgeSlot {
  readonly counts: BridgeCounts = { delivered: 0, filtered: 0, retries: 0, deadLettered: 0, missed: 0, bytesSent: 0, bytesBeforeCompression: 0 }
  run: Bridge | undefined
  paused = false
  window: DeliveryWindow | undefined
  /** The cursor as of the last run's stop (read from the store while running). */
  cursor = 0
  /** The end of the log when the bridge was added: a new bridge that starts late still starts there. */
  readonly endSeq: number
  private lastError: string | undefined
  /** Serialises control operations on this bridge. */
  private queue: Promise<unknown> = Promise.resolve()
  /** Why the last run was held when it stopped: the next run carries it on. */
  private held: Hold | undefined
  /** The upstream refused compressed requests (415): later runs send uncompressed too, until the config changes. */
  private compressionRefused = false
  /** A start that failed, tried again at `restartAt`. */
  private restart: NodeJS.Timeout | undefined
  private restartAt = 0
  private restartAttempts = 0

  constructor (public cfg: BridgeConfig, public compiled: CompiledBridge, private sink: HttpSink | undefined, private readonly deps: SlotDeps) {
    this.endSeq = deps.log.lastSeq
  }

  get name (): string {
    return this.cfg.name
  }

  /** Runs `op` after every control operation queued before it. */
  async control<T> (op: () => Promise<T>): Promise<T> {
    const next = this.queue.then(op)
    this.queue = next.catch(() => {})
    return await next
  }

  /** Starts the delivery window of the config, if it has one. */
  openWindow (): void {
    const w = this.cfg.window
    if (w === undefined) return
    const name = this.name
    // a window open already when it is made needs no start of its own: whoever opens it starts the run
    let made = false
    this.window = new DeliveryWindow(w.schedule, parseDuration(w.duration), {
      onOpen: () => {
        this.deps.logger.info({ event: 'window-open', bridge: name }, `bridge ${name}: delivery window open`)
        if (made) void this.control(async () => await this.startRun())
      },
      onClose: () => {
        this.deps.logger.info({ event: 'window-closed', bridge: name, nextOpen: this.window?.nextOpen() }, `bridge ${name}: delivery window closed`)
        void this.control(async () => await this.stopRun())
      }
    }, this.deps.now)
    made = true
  }

  /** Stops the run and the window (the cursor stays). */
  async retire (): Promise<void> {
    await this.stopRun()
    await this.window?.close()
    this.window = undefined
    await this.sink?.close()
    this.sink = undefined
  }

  /** A new config: the run stops and starts again under it (with `sink` when given). */
  async swap (cfg: BridgeConfig, compiled: CompiledBridge, sink: HttpSink | undefined, strict: boolean): Promise<void> {
    await this.retire()
    this.cfg = cfg
    this.compiled = compiled
    this.compressionRefused = false
    this.sink = sink
    this.openWindow()
    await this.startRun(strict)
  }

  /**
   * Starts the run when the bridge should run. When it cannot (the store refuses its cursor, a
   * TLS file cannot be read): with `strict` the error is thrown; otherwise it is tried again later.
   */
  async startRun (strict = false): Promise<void> {
    clearTimeout(this.restart)
    this.restart = undefined
    if (this.deps.closed() || this.run !== undefined || this.paused) return
    if (this.window !== undefined && !this.window.isOpen) return
    const { runs, onRequest } = this.deps
    const name = this.name
    if (runs.has(name)) throw new TypeError(`bridge ${name} is running already`)
    let sink = this.sink
    this.sink = undefined
    try {
      sink ??= await createSink(this.cfg)
      const run = new Bridge(this.compiled, {
        log: this.deps.log,
        cursors: this.deps.cursors,
        deadLetters: this.deps.deadLetters,
        sink,
        logger: this.deps.logger,
        counts: this.counts,
        held: this.held,
        compressionRefused: this.compressionRefused,
        endSeq: this.endSeq,
        now: this.deps.now,
        ...(onRequest !== undefined ? { onRequest: (status, ms) => onRequest(name, status, ms) } : {})
      })
      runs.set(name, run)
      this.run = run
      try {
        await run.start()
      } catch (err) {
        this.run = undefined
        await run.close()
        runs.delete(name)
        throw err
      }
    } catch (err) {
      await sink?.close()
      if (strict) throw err
      this.scheduleRestart(err as Error)
      return
    }
    this.restartAttempts = 0
    this.held = undefined
  }

  async stopRun (): Promise<void> {
    clearTimeout(this.restart)
    this.restart = undefined
    const run = this.run
    if (run === undefined) return
    this.run = undefined
    await run.close()
    this.deps.runs.delete(this.name)
    const status = run.status()
    this.lastError = status.lastError
    this.cursor = status.cursor
    this.held = run.held()
    this.compressionRefused = run.compressionRefused()
  }

  status (): BridgeStatus {
    if (this.run !== undefined) return this.run.status()
    const base = { name: this.name, cursor: this.cursor, ...this.counts, lastError: this.lastError }
    if (this.restart !== undefined) return { ...base, state: 'retrying', reason: 'store', nextAttemptAt: new Date(this.restartAt).toISOString() }
    return { ...base, state: 'stopped' }
  }

  /** The state an operator sees: paused and outside its window are states of their own. */
  state (): SlotState {
    const state = this.status().state
    if (this.run !== undefined) return state
    return this.paused ? 'paused' : this.window !== undefined && !this.window.isOpen ? 'outside window' : state
  }

  async close (): Promise<void> {
    await this.queue
    await this.retire()
  }

  private scheduleRestart (err: Error): void {
    const name = this.name
    this.restartAttempts++
    const delay = RESTART_BASE_MS + nextDelay(this.restartAttempts, { baseMs: RESTART_BASE_MS, maxMs: RESTART_MAX_MS, random: Math.random })
    this.restartAt = this.deps.now() + delay
    this.lastError = `start failed: ${err.message}`
    if (this.restartAttempts === 1) {
      this.deps.logger.warn({ event: 'bridge-start-failed', bridge: name, err }, `bridge ${name} cannot start (${err.message}); trying again`)
    }
    this.restart = setTimeout(() => {
      this.restart = undefined
      void this.control(async () => await this.startRun())
    }, delay)
    this.restart.unref()
  }
}
