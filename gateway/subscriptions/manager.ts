/**
 * Subscriptions made through the API: stored in the state store, each running as a bridge
 * of the running set (named `sub-<id>`) once accepted. A pending or rejected subscription has
 * no bridge; a suspended one keeps its bridge paused, with its cursor and dead letters.
 *
 * MUST: a subscription and its cursor survive a restart; deleting one removes its cursor and dead letters.
 * MUST: a subscription whose sink has failed for longer than suspendAfter is suspended, not deleted.
 */
import { randomUUID } from 'node:crypto'
import {
  chooseStream, DEFAULT_TYPE, policyProblem, RequestError, subscriptionBridge, subscriptionBridgeName, suspendCheck,
  type Stream, type Subscription, type SubscriptionRequest, type SuspendWatch
} from '../../bridges/index.js'
import { loadBridgeDefaults, parseDuration, type BridgeDefaults, type ConsumerConfig, type SubscriptionsConfig } from '../../config/index.js'
import { SubscriptionStore, type Store } from '../../storage/index.js'
import type { BridgeSet } from '../bridge-set.js'
import type { Logger } from '../logger.js'
import { Consumers } from './consumers.js'

export interface SubscriptionManagerDeps {
  store: Store
  bridges: BridgeSet
  logger: Logger
  gatewayId: string
  config: SubscriptionsConfig
  streams: readonly Stream[]
  /** The system's time (epoch ms), for the times a subscription shows. */
  now?: () => number
  /**
   * A clock that setting the system time does not move, for how long a sink has failed:
   * performance.now(), or `now` when only that is given (a test's own clock).
   */
  elapsed?: () => number
}

export class SubscriptionManager {
  readonly consumers: Consumers
  private readonly subs = new Map<string, Subscription>()
  private readonly watches = new Map<string, SuspendWatch>()
  private readonly db: SubscriptionStore<Subscription>
  private readonly now: () => number
  private readonly elapsed: () => number
  private config: SubscriptionsConfig
  private streams: readonly Stream[]
  private timer: NodeJS.Timeout | undefined
  /** Changes run one at a time. */
  private queue: Promise<unknown> = Promise.resolve()

  private constructor (private readonly deps: SubscriptionManagerDeps, private readonly withDefaults: BridgeDefaults) {
    this.db = new SubscriptionStore<Subscription>(deps.store)
    this.now = deps.now ?? Date.now
    this.elapsed = deps.elapsed ?? deps.now ?? (() => performance.now())
    this.config = deps.config
    this.streams = deps.streams
    this.consumers = new Consumers(deps.config.consumers, deps.config.tls?.certUserField ?? 'CN')
  }

  /** Loads the stored subscriptions and starts the bridges of those accepted. */
  static async open (deps: SubscriptionManagerDeps): Promise<SubscriptionManager> {
    const m = new SubscriptionManager(deps, await loadBridgeDefaults())
    const stored = await m.db.all(id => deps.logger.warn({ event: 'store-damaged', store: 'subscriptions', id }, `subscription ${id} could not be read and is skipped`))
    for (const sub of stored) {
      m.subs.set(sub.id, sub)
      if (sub.state === 'active' || sub.state === 'suspended') await m.startBridge(sub)
    }
    m.schedule()
    return m
  }

  private schedule (): void {
    const every = Math.min(Math.max(parseDuration(this.config.suspendAfter) / 10, 100), 30_000)
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = setInterval(() => { void this.serial(async () => await this.checkSuspensions()) }, every)
    this.timer.unref()
  }

  private async serial<T> (fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn)
    this.queue = run.catch(() => {})
    return await run
  }

  list (consumer?: string): Subscription[] {
    return [...this.subs.values()].filter(s => consumer === undefined || s.consumer === consumer).sort((a, b) => a.createdat.localeCompare(b.createdat))
  }

  get (id: string): Subscription | undefined {
    return this.subs.get(id)
  }

  /** Live (not rejected) subscriptions of a consumer. */
  private held (consumer: string, except?: string): number {
    return this.list(consumer).filter(s => s.state !== 'rejected' && s.id !== except).length
  }

  private bridgeConfig (sub: Subscription, consumer: ConsumerConfig) {
    const stream = chooseStream(sub.types, this.streams, this.deps.gatewayId, DEFAULT_TYPE)
    if (typeof stream === 'string') throw new RequestError(400, stream)
    return subscriptionBridge(sub, consumer, stream.event, this.withDefaults)
  }

  private check (req: SubscriptionRequest, consumer: ConsumerConfig, except?: string): void {
    const problem = policyProblem(req, consumer, this.held(consumer.name, except))
    if (problem !== undefined) throw new RequestError(403, problem)
    const stream = chooseStream(req.types, this.streams, this.deps.gatewayId, DEFAULT_TYPE)
    if (typeof stream === 'string') throw new RequestError(400, stream)
  }

  async create (consumer: ConsumerConfig, req: SubscriptionRequest): Promise<Subscription> {
    return await this.serial(async () => {
      this.check(req, consumer)
      const at = new Date(this.now()).toISOString()
      const sub: Subscription = { ...req, id: randomUUID(), consumer: consumer.name, state: consumer.approval === 'auto' ? 'active' : 'pending', createdat: at, modifiedat: at }
      this.bridgeConfig(sub, consumer) // refuses a subscription that cannot run, before it is stored
      await this.db.put(sub)
      this.subs.set(sub.id, sub)
      this.deps.logger.info({ event: 'subscription-created', id: sub.id, consumer: consumer.name, state: sub.state, sink: new URL(sub.sink).origin }, `consumer ${consumer.name} subscribed (${sub.state})`)
      if (sub.state === 'active') await this.startBridge(sub)
      return sub
    })
  }

  /** Replaces what the consumer asked for; the subscription keeps its id, state and cursor. */
  async update (consumer: ConsumerConfig, id: string, req: SubscriptionRequest): Promise<Subscription | undefined> {
    return await this.serial(async () => {
      const old = this.subs.get(id)
      if (old === undefined || old.consumer !== consumer.name) return undefined
      this.check(req, consumer, id)
      const sub: Subscription = { ...req, id, consumer: old.consumer, state: old.state, createdat: old.createdat, modifiedat: new Date(this.now()).toISOString() }
      if (old.reason !== undefined) sub.reason = old.reason
      const cfg = this.bridgeConfig(sub, consumer)
      await this.db.put(sub)
      this.subs.set(id, sub)
      if (this.deps.bridges.has(cfg.name)) await this.deps.bridges.replace(cfg)
      this.deps.logger.info({ event: 'subscription-updated', id, consumer: consumer.name }, `consumer ${consumer.name} changed subscription ${id}`)
      return sub
    })
  }

  /** Deletes a subscription with its bridge, cursor and dead letters. False when there is none. */
  async delete (id: string): Promise<boolean> {
    return await this.serial(async () => {
      const sub = this.subs.get(id)
      if (sub === undefined) return false
      const name = subscriptionBridgeName(id)
      await this.deps.bridges.detach(name)
      await this.deps.bridges.deadLetters.clear(name)
      await this.db.delete(id)
      this.subs.delete(id)
      this.watches.delete(id)
      this.deps.logger.info({ event: 'subscription-deleted', id, consumer: sub.consumer }, `subscription ${id} of ${sub.consumer} deleted`)
      return true
    })
  }

  /** Accepts a pending subscription, or resumes a suspended one. */
  async approve (id: string): Promise<Subscription | undefined> {
    return await this.serial(async () => {
      const sub = this.subs.get(id)
      if (sub === undefined) return undefined
      if (sub.state === 'active') return sub
      const was = sub.state
      const next: Subscription = { ...sub, state: 'active', modifiedat: new Date(this.now()).toISOString() }
      delete next.reason
      await this.db.put(next)
      this.subs.set(id, next)
      this.watches.delete(id)
      const name = subscriptionBridgeName(id)
      if (this.deps.bridges.has(name)) await this.deps.bridges.resume(name)
      else await this.startBridge(next)
      this.deps.logger.info({ event: was === 'suspended' ? 'subscription-resumed' : 'subscription-approved', id, consumer: sub.consumer }, `subscription ${id} of ${sub.consumer} ${was === 'suspended' ? 'resumed' : 'approved'}`)
      return next
    })
  }

  async reject (id: string, reason = 'rejected by the operator'): Promise<Subscription | undefined> {
    return await this.serial(async () => {
      const sub = this.subs.get(id)
      if (sub === undefined) return undefined
      const next: Subscription = { ...sub, state: 'rejected', reason, modifiedat: new Date(this.now()).toISOString() }
      await this.deps.bridges.detach(subscriptionBridgeName(id))
      await this.db.put(next)
      this.subs.set(id, next)
      this.deps.logger.info({ event: 'subscription-rejected', id, consumer: sub.consumer }, `subscription ${id} of ${sub.consumer} rejected`)
      return next
    })
  }

  /** The bridge's delivery state, for a subscription that has one. */
  delivery (id: string): unknown {
    return this.deps.bridges.get(subscriptionBridgeName(id))?.status()
  }

  /** New consumers, policies and streams (on reload): running subscriptions follow; one whose consumer is gone is suspended. */
  async reconfigure (config: SubscriptionsConfig, streams: readonly Stream[]): Promise<void> {
    await this.serial(async () => {
      this.config = config
      this.streams = streams
      this.consumers.set(config.consumers)
      this.schedule()
      for (const sub of this.subs.values()) {
        if (sub.state !== 'active' && sub.state !== 'suspended') continue
        const consumer = this.consumers.named(sub.consumer)
        if (consumer === undefined) {
          await this.suspend(sub, `consumer ${sub.consumer} is no longer configured`)
          continue
        }
        try {
          // an unchanged bridge config leaves the bridge running as it is
          const cfg = this.bridgeConfig(sub, consumer)
          if (this.deps.bridges.has(cfg.name)) await this.deps.bridges.replace(cfg)
          else await this.startBridge(sub)
        } catch (err) {
          await this.suspend(sub, (err as Error).message)
        }
      }
    })
  }

  private async startBridge (sub: Subscription): Promise<void> {
    const consumer = this.consumers.named(sub.consumer)
    if (consumer === undefined) {
      if (sub.state === 'active') await this.suspend(sub, `consumer ${sub.consumer} is no longer configured`)
      return
    }
    const name = subscriptionBridgeName(sub.id)
    try {
      await this.deps.bridges.attach(this.bridgeConfig(sub, consumer))
    } catch (err) {
      this.deps.logger.error({ err, id: sub.id }, `subscription ${sub.id} cannot run`)
      return
    }
    if (sub.state === 'suspended') await this.deps.bridges.pause(name)
  }

  private async suspend (sub: Subscription, reason: string): Promise<void> {
    const next: Subscription = { ...sub, state: 'suspended', reason, modifiedat: new Date(this.now()).toISOString() }
    const name = subscriptionBridgeName(sub.id)
    if (this.deps.bridges.has(name)) await this.deps.bridges.pause(name)
    await this.db.put(next)
    this.subs.set(sub.id, next)
    this.watches.delete(sub.id)
    this.deps.logger.warn({ event: 'subscription-suspended', id: sub.id, consumer: sub.consumer, reason }, `subscription ${sub.id} of ${sub.consumer} suspended: ${reason}`)
  }

  private async checkSuspensions (): Promise<void> {
    const after = parseDuration(this.config.suspendAfter)
    for (const sub of this.subs.values()) {
      if (sub.state !== 'active') continue
      const status = this.deps.bridges.get(subscriptionBridgeName(sub.id))?.status()
      if (status === undefined) continue
      // on the elapsed clock: a Pi setting its clock when its uplink returns must not look like a long failure
      const { watch, suspend } = suspendCheck(this.watches.get(sub.id), status, this.elapsed(), after)
      this.watches.set(sub.id, watch)
      if (suspend) await this.suspend(sub, `the sink has failed for longer than subscriptions.suspendAfter (${this.config.suspendAfter}): ${status.lastError ?? 'no response'}`)
    }
  }

  close (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
