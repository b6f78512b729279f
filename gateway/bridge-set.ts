/**
 * The set of running bridges (one BridgeSlot each, see bridge-slot.ts): adding them,
 * reconfiguring them on reload, and the operator's controls (what each control does to
 * delivery lives in bridges/, such as bridges/redrive.ts). Control operations
 * (pause, resume, replay, redrive, reconfigure) on one bridge run one at a time;
 * each stops the bridge's delivery run and starts a new one from the stored
 * cursor, so a bridge never has two delivery runs (nor more requests in flight than sink.maxInFlight).
 *
 * MUST: reconfigure is all or nothing: a step that fails undoes the steps before it,
 *       so the previous set runs again, each bridge once.
 * MUST: bridges added by name (`attach`: a subscription's) are not the config's: reconfigure
 *       leaves them running, and only `replace` and `detach` change them.
 */
import { isDeepStrictEqual } from 'node:util'
import { Bridge, compileBridge, redriveDeadLetters, type BridgeStatus, type CompiledBridge, type EventSigner, type HttpSink, type RedriveResult } from '../bridges/index.js'
import type { BridgeConfig } from '../config/index.js'
import { CursorStore, DeadLetterStore, type EventLog, type Store } from '../storage/index.js'
import { planBridges } from './bridge-plan.js'
import { createSink } from './bridge-sink.js'
import { BridgeSlot, type SlotState } from './bridge-slot.js'
import type { Logger } from './logger.js'

export interface BridgeSetDeps {
  store: Store
  log: EventLog
  logger: Logger
  gatewayId: string
  /** Signs every bridge's events (`gateway.signing`). */
  signer?: EventSigner | undefined
  now?: () => number
  onRequest?: (bridge: string, status: number | 'timeout' | 'error', durationMs: number) => void
  /** The cursor and dead-letter stores (default: in `store`); given to inject store failures. */
  cursors?: CursorStore
  deadLetters?: DeadLetterStore
}

export type BridgeReportState = SlotState

export interface BridgeReport extends Omit<BridgeStatus, 'state'> {
  state: BridgeReportState
  lag: number
  oldestUndeliveredAgeSeconds: number
  deadLetters: number
  nextWindowOpens?: string | undefined
  windowClosesAt?: string | undefined
}

/** What reconfigure changed; `commit` forgets the cursors of removed bridges, `rollback` restores the previous set. */
export interface BridgeChanges {
  added: string[]
  removed: string[]
  changed: string[]
  commit: () => Promise<void>
  rollback: () => Promise<void>
}

/** A bridge config ready to run: compiled, its sink open. */
interface Prepared { cfg: BridgeConfig, compiled: CompiledBridge, sink: HttpSink }

export class BridgeSet {
  private readonly slots = new Map<string, BridgeSlot>()
  /** Bridges added by name (attach), outside the configured set that reconfigure moves. */
  private readonly attached = new Set<string>()
  /** Every run that exists, by bridge name: the one place that makes a second run impossible. */
  private readonly runs = new Map<string, Bridge>()
  private readonly deps: BridgeSetDeps
  private readonly now: () => number
  private closed = false
  /** Changes to the set of bridges (see serial) run one at a time. */
  private reconfiguring: Promise<unknown> = Promise.resolve()
  /** Each bridge's oldest unsettled event's receive time, found at that cursor (see oldestAge). */
  private readonly oldest = new Map<string, { cursor: number, seq: number, time: number }>()
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
    return this.slots.has(name)
  }

  /** A bridge's live status, by name. */
  get (name: string): { status: () => BridgeStatus } | undefined {
    const slot = this.slots.get(name)
    return slot === undefined ? undefined : { status: () => slot.status() }
  }

  names (): string[] {
    return [...this.slots.keys()]
  }

  config (name: string): BridgeConfig | undefined {
    return this.slots.get(name)?.cfg
  }

  /** Adds a bridge and starts it (unless outside its window). A name can be added once. */
  async add (cfg: BridgeConfig): Promise<void> {
    const slot = await this.insert(cfg, compileBridge(cfg, this.deps.gatewayId, { heartbeat: cfg.name === this.heartbeatBridge, signer: this.deps.signer }), undefined)
    await slot.control(async () => await slot.startRun())
  }

  /**
   * Adds a bridge that is not part of the configured set (a subscription's) and starts it:
   * reconfigure leaves it alone. Its cursor is kept from an earlier run under the name.
   */
  async attach (cfg: BridgeConfig): Promise<void> {
    await this.serial(async () => {
      const slot = await this.insert(cfg, compileBridge(cfg, this.deps.gatewayId, { signer: this.deps.signer }), undefined)
      this.attached.add(cfg.name)
      await slot.control(async () => await slot.startRun())
    })
  }

  /** A new config for an attached bridge; its cursor is kept. Nothing restarts when the config is the same. */
  async replace (cfg: BridgeConfig): Promise<void> {
    await this.serial(async () => {
      const slot = this.mustAttached(cfg.name)
      if (isDeepStrictEqual(slot.cfg, cfg)) return
      const compiled = compileBridge(cfg, this.deps.gatewayId, { signer: this.deps.signer })
      await slot.control(async () => await slot.swap(cfg, compiled, undefined, false))
    })
  }

  /** Stops and forgets an attached bridge with its cursor (dead letters are the caller's). No-op for an unknown name. */
  async detach (name: string): Promise<void> {
    await this.serial(async () => {
      const slot = this.slots.get(name)
      if (slot === undefined) return
      this.mustAttached(name)
      await slot.control(async () => await slot.retire())
      this.slots.delete(name)
      this.attached.delete(name)
      await this.cursors.delete(name)
    })
  }

  /**
   * Moves from the running set of bridges to `next`, all or nothing: every bridge that (re)starts
   * is compiled and its sink opened first; then bridges are removed, changed and added, and a
   * step that fails undoes those before it, so the previous set runs again, each bridge once.
   */
  async reconfigure (next: readonly BridgeConfig[], heartbeatBridge: string | undefined): Promise<BridgeChanges> {
    return await this.serial(async () => await this.reconfigureNow(next, heartbeatBridge))
  }

  /** Changes to the set (reconfigure, attach, replace, detach) run one at a time. */
  private async serial<T> (op: () => Promise<T>): Promise<T> {
    const run = this.reconfiguring.then(op)
    this.reconfiguring = run.catch(() => {})
    return await run
  }

  async pause (name: string): Promise<BridgeReport> {
    const slot = this.must(name)
    await slot.control(async () => {
      slot.paused = true
      await slot.stopRun()
    })
    this.deps.logger.info({ event: 'bridge-paused', bridge: name }, `bridge ${name} paused`)
    return await this.reportOne(slot)
  }

  /** Starts a bridge that is not running (a held one attempts delivery at once). */
  async resume (name: string): Promise<BridgeReport> {
    const slot = this.must(name)
    await slot.control(async () => {
      slot.paused = false
      if (slot.run !== undefined && slot.run.status().state === 'stopped') await slot.stopRun()
      if (slot.run !== undefined) slot.run.retryNow()
      else await slot.startRun()
    })
    this.deps.logger.info({ event: 'bridge-resumed', bridge: name }, `bridge ${name} resumed`)
    return await this.reportOne(slot)
  }

  /** Redelivers from `fromSeq` (clamped to what retention still holds); live events follow in order. */
  async replay (name: string, fromSeq: number): Promise<{ bridge: string, fromSeq: number, previousCursor: number }> {
    const slot = this.must(name)
    const from = Math.min(Math.max(fromSeq, this.deps.log.firstSeq), this.deps.log.lastSeq + 1)
    let previousCursor = 0
    await slot.control(async () => {
      await slot.stopRun()
      previousCursor = (await this.cursors.get(name)) ?? 0
      await this.cursors.set(name, from - 1)
      slot.cursor = from - 1
      await slot.startRun()
    })
    this.deps.logger.info({ event: 'bridge-replay', bridge: name, fromSeq: from, previousCursor }, `bridge ${name} replaying from sequence ${from}`)
    return { bridge: name, fromSeq: from, previousCursor }
  }

  /** Sends dead letters (all, or `seqs`) again; those the upstream takes leave the store. */
  async redrive (name: string, seqs?: number[]): Promise<RedriveResult> {
    const slot = this.must(name)
    const result = await slot.control(async () => {
      await slot.stopRun()
      try {
        return await redriveDeadLetters(slot.cfg, seqs, { deadLetters: this.deadLetters, openSink: async () => await createSink(slot.cfg) })
      } finally {
        await slot.startRun()
      }
    })
    this.deps.logger.info({ event: 'dead-letter-redrive', bridge: name, redriven: result.redriven, failed: result.failed.length }, `bridge ${name}: ${result.redriven} dead letters redriven`)
    return result
  }

  status (): BridgeStatus[] {
    return [...this.slots.values()].map(s => s.status())
  }

  async report (): Promise<BridgeReport[]> {
    return await Promise.all([...this.slots.values()].map(async s => await this.reportOne(s)))
  }

  /**
   * Seconds since the oldest event the bridge has not settled was received; 0 when caught up.
   * Status and metrics ask on every call: the event is read once per cursor position, and while
   * the log cannot be read (a failing card, a segment a full disk keeps closed) the last one found
   * answers (0 when none was), so status and metrics never fail for it.
   */
  async oldestAge (name: string): Promise<number> {
    const slot = this.slots.get(name)
    if (slot === undefined) return 0
    const cursor = slot.status().cursor
    if (cursor >= this.deps.log.lastSeq) return 0
    let found = this.oldest.get(name)
    // found at this cursor, and not removed since (by retention, or to make room)
    if (found?.cursor !== cursor || found.seq < this.deps.log.firstSeq) {
      try {
        const [next] = await this.deps.log.read(cursor + 1, 1)
        found = next === undefined ? undefined : { cursor, seq: next.seq, time: next.time }
        if (found !== undefined) this.oldest.set(name, found)
      } catch {
        // the one found last, when there was one
      }
    }
    // an event stored before the system clock was set carries the old clock's time
    return found === undefined ? 0 : Math.max(0, (this.now() - found.time - this.deps.log.timeShift(found.seq)) / 1000)
  }

  async close (): Promise<void> {
    this.closed = true
    await this.reconfiguring
    await Promise.all([...this.slots.values()].map(async s => await s.close()))
  }

  private async reconfigureNow (next: readonly BridgeConfig[], heartbeat: string | undefined): Promise<BridgeChanges> {
    const hbBefore = this.heartbeatBridge
    const current = new Map([...this.slots].filter(([name]) => !this.attached.has(name)).map(([name, s]) => [name, s.cfg]))
    const { removed, changed, added } = planBridges(current, next, { before: hbBefore, after: heartbeat })
    const after = new Map(next.map(b => [b.name, b]))

    // prepare what can fail without touching what runs: compile, read TLS files, open sinks
    const prepared = new Map<string, Prepared>()
    const discard = async (): Promise<void> => { for (const p of prepared.values()) await p.sink.close() }
    try {
      for (const name of [...changed, ...added]) {
        const cfg = after.get(name) as BridgeConfig
        const compiled = compileBridge(cfg, this.deps.gatewayId, { heartbeat: name === heartbeat, signer: this.deps.signer })
        prepared.set(name, { cfg, compiled, sink: await createSink(cfg) })
      }
    } catch (err) {
      await discard()
      throw err
    }
    const take = (name: string): Prepared => {
      const p = prepared.get(name) as Prepared
      prepared.delete(name)
      return p
    }

    // apply, recording how to undo each step before taking it
    const undo: Array<() => Promise<void>> = []
    const rollback = async (): Promise<void> => {
      for (const step of undo.splice(0).reverse()) {
        await step().catch((err: unknown) => this.deps.logger.error({ event: 'bridge-rollback-failed', err }, 'a bridge could not be restored to the previous configuration'))
      }
      this.heartbeatBridge = hbBefore
    }
    try {
      this.heartbeatBridge = heartbeat
      for (const name of removed) {
        const slot = this.must(name)
        undo.push(async () => {
          this.slots.set(name, slot)
          slot.openWindow()
          await slot.control(async () => await slot.startRun())
        })
        await slot.control(async () => await slot.retire())
        this.slots.delete(name)
      }
      for (const name of changed) {
        const slot = this.must(name)
        const old = { cfg: slot.cfg, compiled: slot.compiled }
        const p = take(name)
        undo.push(async () => await slot.control(async () => await slot.swap(old.cfg, old.compiled, undefined, false)))
        await slot.control(async () => await slot.swap(p.cfg, p.compiled, p.sink, true))
      }
      for (const name of added) {
        const p = take(name)
        const hadCursor = (await this.cursors.get(name)) !== undefined
        const slot = await this.insert(p.cfg, p.compiled, p.sink)
        undo.push(async () => {
          await slot.control(async () => await slot.retire())
          this.slots.delete(name)
          if (!hadCursor) await this.cursors.delete(name)
        })
        await slot.control(async () => await slot.startRun(true))
      }
    } catch (err) {
      await discard()
      await rollback()
      throw err
    }
    const commit = async (): Promise<void> => {
      undo.length = 0
      for (const name of removed) await this.cursors.delete(name)
    }
    return { added, removed, changed, commit, rollback }
  }

  /** Adds the slot of a name that has none. */
  private async insert (cfg: BridgeConfig, compiled: CompiledBridge, sink: HttpSink | undefined): Promise<BridgeSlot> {
    if (this.slots.has(cfg.name)) throw new TypeError(`a bridge named ${cfg.name} exists already`)
    const { log, logger, onRequest } = this.deps
    const slot = new BridgeSlot(cfg, compiled, sink, { log, logger, onRequest, cursors: this.cursors, deadLetters: this.deadLetters, now: this.now, runs: this.runs, closed: () => this.closed })
    this.slots.set(cfg.name, slot)
    slot.cursor = (await this.cursors.get(cfg.name).catch(() => undefined)) ?? 0
    slot.openWindow()
    return slot
  }

  private mustAttached (name: string): BridgeSlot {
    const slot = this.must(name)
    if (!this.attached.has(name)) throw new TypeError(`bridge ${name} is a configured bridge: it changes with the config`)
    return slot
  }

  private must (name: string): BridgeSlot {
    const slot = this.slots.get(name)
    if (slot === undefined) throw new TypeError(`no bridge named ${name}`)
    return slot
  }

  private async reportOne (slot: BridgeSlot): Promise<BridgeReport> {
    const base = slot.status()
    return {
      ...base,
      state: slot.state(),
      lag: Math.max(0, this.deps.log.lastSeq - base.cursor),
      oldestUndeliveredAgeSeconds: await this.oldestAge(slot.name),
      deadLetters: await this.deadLetters.count(slot.name),
      ...(slot.window !== undefined ? { nextWindowOpens: slot.window.nextOpen(), windowClosesAt: slot.window.closesAt() } : {})
    }
  }
}
