/**
 * The configured bridges and their lifecycle: a bridge delivers while it is
 * neither paused by the operator nor outside its delivery window. Control
 * operations (pause, resume, replay, redrive, reconfigure) on one bridge run
 * one at a time; each stops the bridge's delivery run and starts a new one from
 * the stored cursor, so there is never more than one request in flight.
 *
 * MUST: at most one run (one delivery loop, one request in flight) per bridge name, by
 *       construction: a run is created only by startRun, inside the bridge's control queue,
 *       and only when the name has no run (`runs` is the one registry).
 * MUST: a bridge that should run and cannot start (the store refuses its cursor) is
 *       started again with backoff: it is never left stopped; `resume` starts it at once.
 */
import { readFile } from 'node:fs/promises'
import { Bridge, classify, compileBridge, encodeEventBatch, encodeHttp, fromJSONFormat, loadHttpSink, nextDelay, type BridgeCounts, type BridgeStatus, type CompiledBridge, type Hold, type HttpSink } from '../bridges/index.js'
import { parseDuration, type BridgeConfig } from '../config/index.js'
import { CursorStore, DeadLetterStore, type EventLog, type Store } from '../storage/index.js'
import type { Logger } from './logger.js'
import { DeliveryWindow } from './window.js'

export interface BridgeSetDeps {
  store: Store
  log: EventLog
  logger: Logger
  gatewayId: string
  now?: () => number
  onRequest?: (bridge: string, status: number | 'timeout' | 'error', durationMs: number) => void
  /** The cursor and dead-letter stores (default: in `store`); given to inject store failures. */
  cursors?: CursorStore
  deadLetters?: DeadLetterStore
}

export type BridgeReportState = BridgeStatus['state'] | 'paused' | 'outside window'

export interface BridgeReport extends Omit<BridgeStatus, 'state'> {
  state: BridgeReportState
  lag: number
  oldestUndeliveredAgeSeconds: number
  deadLetters: number
  nextWindowOpens?: string | undefined
  windowClosesAt?: string | undefined
}

interface Entry {
  cfg: BridgeConfig
  compiled: CompiledBridge
  counts: BridgeCounts
  run: Bridge | undefined
  paused: boolean
  window: DeliveryWindow | undefined
  /** Serialises control operations on this bridge. */
  queue: Promise<unknown>
  lastError: string | undefined
  /** The cursor as of the last run's stop (read from the store while running). */
  cursor: number
  /** The end of the log when the bridge was added: a new bridge that starts late still starts there. */
  endSeq: number
  /** Why the last run was held when it stopped: the next run carries it on. */
  held: Hold | undefined
  /** A start that failed, tried again at `restartAt`. */
  restart: NodeJS.Timeout | undefined
  restartAt: number
  restartAttempts: number
}

/** Backoff between attempts to start a bridge whose cursor the store refuses. */
const RESTART_BASE_MS = 500
const RESTART_MAX_MS = 30_000

async function readOptional (file: string | undefined): Promise<Buffer | undefined> {
  return file === undefined ? undefined : await readFile(file)
}

export async function createSink (cfg: BridgeConfig): Promise<HttpSink> {
  // loaded with the first bridge: the HTTP client is about 5 MB of heap and a noticeable part of start-up
  const HttpSink = await loadHttpSink()
  const headers: Record<string, string> = { ...cfg.sink.headers }
  if (cfg.sink.token !== undefined) headers.authorization = `Bearer ${cfg.sink.token}`
  return new HttpSink({
    url: cfg.sink.url,
    headers,
    timeoutMs: cfg.sink.timeoutMs,
    connectTimeoutMs: cfg.sink.connectTimeoutMs,
    tls: {
      ca: await readOptional(cfg.sink.tls.ca),
      cert: await readOptional(cfg.sink.tls.cert),
      key: await readOptional(cfg.sink.tls.key),
      rejectUnauthorized: cfg.sink.tls.rejectUnauthorized
    }
  })
}

export class BridgeSet {
  private readonly entries = new Map<string, Entry>()
  /** Every run that exists, by bridge name: the one place that makes a second run impossible. */
  private readonly runs = new Map<string, Bridge>()
  private readonly deps: BridgeSetDeps
  private readonly now: () => number
  private closed = false
  /** The bridge that carries heartbeat events (jobs.heartbeat.bridge). */
  heartbeatBridge: string | undefined
  readonly cursors: CursorStore
  readonly deadLetters: DeadLetterStore

  constructor (deps: BridgeSetDeps) {
    this.deps = deps
    this.now = deps.now ?? Date.now
    this.cursors = deps.cursors ?? new CursorStore(deps.store)
    this.deadLetters = deps.deadLetters ?? new DeadLetterStore(deps.store)
  }

  has (name: string): boolean {
    return this.entries.has(name)
  }

  /** A bridge's live status, by name. */
  get (name: string): { status: () => BridgeStatus } | undefined {
    const entry = this.entries.get(name)
    return entry === undefined ? undefined : { status: () => this.baseStatus(entry) }
  }

  names (): string[] {
    return [...this.entries.keys()]
  }

  config (name: string): BridgeConfig | undefined {
    return this.entries.get(name)?.cfg
  }

  /** Adds a bridge and starts it (unless outside its window). A name can be added once. */
  async add (cfg: BridgeConfig): Promise<void> {
    if (this.entries.has(cfg.name)) throw new TypeError(`a bridge named ${cfg.name} exists already`)
    const entry: Entry = {
      cfg,
      compiled: compileBridge(cfg, this.deps.gatewayId, { heartbeat: cfg.name === this.heartbeatBridge }),
      counts: { delivered: 0, filtered: 0, retries: 0, deadLettered: 0, missed: 0 },
      run: undefined,
      paused: false,
      window: undefined,
      queue: Promise.resolve(),
      lastError: undefined,
      cursor: 0,
      endSeq: this.deps.log.lastSeq,
      held: undefined,
      restart: undefined,
      restartAt: 0,
      restartAttempts: 0
    }
    this.entries.set(cfg.name, entry)
    entry.cursor = (await this.cursors.get(cfg.name).catch(() => undefined)) ?? 0
    this.setWindow(entry)
    await this.control(entry, async () => await this.startRun(entry))
  }

  /** Applies a changed config to a running bridge; its cursor is kept. */
  async update (cfg: BridgeConfig): Promise<void> {
    const entry = this.entries.get(cfg.name)
    if (entry === undefined) return await this.add(cfg)
    await this.control(entry, async () => {
      await this.stopRun(entry)
      await entry.window?.close()
      entry.cfg = cfg
      entry.compiled = compileBridge(cfg, this.deps.gatewayId, { heartbeat: cfg.name === this.heartbeatBridge })
      entry.window = undefined
      this.setWindow(entry)
      await this.startRun(entry)
    })
  }

  /** Stops and forgets a bridge, with its cursor (a bridge added again under the name starts afresh). */
  async remove (name: string): Promise<void> {
    const entry = this.entries.get(name)
    if (entry === undefined) return
    await this.control(entry, async () => {
      await this.stopRun(entry)
      await entry.window?.close()
      this.entries.delete(name)
      await this.cursors.delete(name)
    })
  }

  async pause (name: string): Promise<BridgeReport> {
    const entry = this.must(name)
    await this.control(entry, async () => {
      entry.paused = true
      await this.stopRun(entry)
    })
    this.deps.logger.info({ event: 'bridge-paused', bridge: name }, `bridge ${name} paused`)
    return await this.reportOne(entry)
  }

  /** Starts a bridge that is not running (a held one attempts delivery at once). */
  async resume (name: string): Promise<BridgeReport> {
    const entry = this.must(name)
    await this.control(entry, async () => {
      entry.paused = false
      if (entry.run !== undefined && entry.run.status().state === 'stopped') await this.stopRun(entry)
      if (entry.run !== undefined) entry.run.retryNow()
      else await this.startRun(entry)
    })
    this.deps.logger.info({ event: 'bridge-resumed', bridge: name }, `bridge ${name} resumed`)
    return await this.reportOne(entry)
  }

  /** Redelivers from `fromSeq` (clamped to what retention still holds); live events follow in order. */
  async replay (name: string, fromSeq: number): Promise<{ bridge: string, fromSeq: number, previousCursor: number }> {
    const entry = this.must(name)
    const from = Math.min(Math.max(fromSeq, this.deps.log.firstSeq), this.deps.log.lastSeq + 1)
    let previousCursor = 0
    await this.control(entry, async () => {
      await this.stopRun(entry)
      previousCursor = (await this.cursors.get(name)) ?? 0
      await this.cursors.set(name, from - 1)
      entry.cursor = from - 1
      await this.startRun(entry)
    })
    this.deps.logger.info({ event: 'bridge-replay', bridge: name, fromSeq: from, previousCursor }, `bridge ${name} replaying from sequence ${from}`)
    return { bridge: name, fromSeq: from, previousCursor }
  }

  /** Sends dead letters (all, or `seqs`) again; those the upstream takes leave the store. */
  async redrive (name: string, seqs?: number[]): Promise<{ bridge: string, redriven: number, failed: Array<{ seq: number, status?: number, error?: string }> }> {
    const entry = this.must(name)
    const result = { bridge: name, redriven: 0, failed: [] as Array<{ seq: number, status?: number, error?: string }> }
    await this.control(entry, async () => {
      await this.stopRun(entry)
      const wanted = seqs === undefined ? undefined : new Set(seqs)
      const letters = (await this.deadLetters.list(name, { limit: 100_000 })).filter(l => wanted === undefined || wanted.has(l.seq))
      const sink = await createSink(entry.cfg)
      try {
        for (const letter of letters) {
          const event = fromJSONFormat(letter.event)
          const message = entry.cfg.sink.mode === 'batch' ? encodeEventBatch([event]) : encodeHttp(event, entry.cfg.sink.mode)
          const sent = await sink.send(message)
          const decision = classify(sent.outcome)
          if (decision.action === 'success') {
            await this.deadLetters.remove(name, [letter.seq])
            result.redriven++
          } else {
            result.failed.push(sent.outcome.kind === 'response' ? { seq: letter.seq, status: sent.outcome.status } : { seq: letter.seq, error: sent.outcome.kind })
          }
        }
      } finally {
        await sink.close()
        await this.startRun(entry)
      }
    })
    this.deps.logger.info({ event: 'dead-letter-redrive', bridge: name, redriven: result.redriven, failed: result.failed.length }, `bridge ${name}: ${result.redriven} dead letters redriven`)
    return result
  }

  status (): BridgeStatus[] {
    return [...this.entries.values()].map(e => this.baseStatus(e))
  }

  async report (): Promise<BridgeReport[]> {
    return await Promise.all([...this.entries.values()].map(async e => await this.reportOne(e)))
  }

  /** Seconds since the oldest event the bridge has not settled was received; 0 when caught up. */
  async oldestAge (name: string): Promise<number> {
    const entry = this.entries.get(name)
    if (entry === undefined) return 0
    const cursor = this.baseStatus(entry).cursor
    if (cursor >= this.deps.log.lastSeq) return 0
    const [next] = await this.deps.log.read(cursor + 1, 1)
    return next === undefined ? 0 : Math.max(0, (this.now() - next.time) / 1000)
  }

  async close (): Promise<void> {
    this.closed = true
    await Promise.all([...this.entries.values()].map(async e => {
      await e.queue
      await this.stopRun(e)
      await e.window?.close()
    }))
  }

  private must (name: string): Entry {
    const entry = this.entries.get(name)
    if (entry === undefined) throw new TypeError(`no bridge named ${name}`)
    return entry
  }

  private async control<T> (entry: Entry, op: () => Promise<T>): Promise<T> {
    const next = entry.queue.then(op)
    entry.queue = next.catch(() => {})
    return await next
  }

  private setWindow (entry: Entry): void {
    const w = entry.cfg.window
    if (w === undefined) return
    const name = entry.cfg.name
    entry.window = new DeliveryWindow(w.schedule, parseDuration(w.duration), {
      onOpen: () => {
        this.deps.logger.info({ event: 'window-open', bridge: name }, `bridge ${name}: delivery window open`)
        void this.control(entry, async () => await this.startRun(entry))
      },
      onClose: () => {
        this.deps.logger.info({ event: 'window-closed', bridge: name, nextOpen: entry.window?.nextOpen() }, `bridge ${name}: delivery window closed`)
        void this.control(entry, async () => await this.stopRun(entry))
      }
    }, this.deps.now)
  }

  /** Starts the bridge's run when it should run; when the store refuses its cursor, tries again later. */
  private async startRun (entry: Entry): Promise<void> {
    clearTimeout(entry.restart)
    entry.restart = undefined
    if (this.closed || entry.run !== undefined || entry.paused) return
    if (entry.window !== undefined && !entry.window.isOpen) return
    const name = entry.cfg.name
    if (this.runs.has(name)) throw new TypeError(`bridge ${name} is running already`)
    const onRequest = this.deps.onRequest
    let sink: HttpSink | undefined
    try {
      sink = await createSink(entry.cfg)
      const run = new Bridge(entry.compiled, {
        log: this.deps.log,
        cursors: this.cursors,
        deadLetters: this.deadLetters,
        sink,
        logger: this.deps.logger,
        counts: entry.counts,
        held: entry.held,
        endSeq: entry.endSeq,
        ...(onRequest !== undefined ? { onRequest: (status, ms) => onRequest(name, status, ms) } : {}),
        ...(this.deps.now !== undefined ? { now: this.deps.now } : {})
      })
      this.runs.set(name, run)
      entry.run = run
      try {
        await run.start()
      } catch (err) {
        entry.run = undefined
        await run.close()
        this.runs.delete(name)
        throw err
      }
    } catch (err) {
      await sink?.close()
      this.scheduleRestart(entry, err as Error)
      return
    }
    entry.restartAttempts = 0
    entry.held = undefined
  }

  private scheduleRestart (entry: Entry, err: Error): void {
    const name = entry.cfg.name
    entry.restartAttempts++
    const delay = RESTART_BASE_MS + nextDelay(entry.restartAttempts, { baseMs: RESTART_BASE_MS, maxMs: RESTART_MAX_MS, random: Math.random })
    entry.restartAt = this.now() + delay
    entry.lastError = `start failed: ${err.message}`
    if (entry.restartAttempts === 1) {
      this.deps.logger.warn({ event: 'bridge-start-failed', bridge: name, err }, `bridge ${name} cannot start (${err.message}); trying again`)
    }
    entry.restart = setTimeout(() => {
      entry.restart = undefined
      void this.control(entry, async () => await this.startRun(entry))
    }, delay)
    entry.restart.unref()
  }

  private async stopRun (entry: Entry): Promise<void> {
    clearTimeout(entry.restart)
    entry.restart = undefined
    const run = entry.run
    if (run === undefined) return
    entry.run = undefined
    await run.close()
    this.runs.delete(entry.cfg.name)
    entry.lastError = run.status().lastError
    entry.cursor = run.status().cursor
    entry.held = run.held()
  }

  private baseStatus (entry: Entry): BridgeStatus {
    if (entry.run !== undefined) return entry.run.status()
    const base = { name: entry.cfg.name, cursor: entry.cursor, ...entry.counts, lastError: entry.lastError }
    if (entry.restart !== undefined) return { ...base, state: 'retrying', reason: 'store', nextAttemptAt: new Date(entry.restartAt).toISOString() }
    return { ...base, state: 'stopped' }
  }

  private async reportOne (entry: Entry): Promise<BridgeReport> {
    const base = this.baseStatus(entry)
    const cursor = base.cursor
    const state: BridgeReportState = entry.run !== undefined ? base.state : entry.paused ? 'paused' : entry.window !== undefined && !entry.window.isOpen ? 'outside window' : base.state
    return {
      ...base,
      cursor,
      state,
      lag: Math.max(0, this.deps.log.lastSeq - cursor),
      oldestUndeliveredAgeSeconds: await this.oldestAge(entry.cfg.name),
      deadLetters: await this.deadLetters.count(entry.cfg.name),
      ...(entry.window !== undefined ? { nextWindowOpens: entry.window.nextOpen(), windowClosesAt: entry.window.closesAt() } : {})
    }
  }
}
