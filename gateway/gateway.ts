/**
 * Composition root: opens the store and the log, starts the broker and its
 * listeners, and closes them in reverse order.
 */
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import { createEventSigner, keyIdOf, preloadHttpSink, privateKeyFromPem, signWith, type EventSigner } from '../bridges/index.js'
import type { Aedes } from 'aedes'
import { parseDuration, parseSize, type Config } from '../config/index.js'
import { createStoredBrokerPersistence, EventLog, Store, type CursorStore, type DeadLetterStore, type DropEvent, type EventLogOptions, type EvictEvent } from '../storage/index.js'
import type { AdminServer } from './admin/server.js'
import { BridgeSet } from './bridge-set.js'
import { Security } from './auth/index.js'
import { createBroker, setBrokerLimits } from './broker.js'
import { IngestGate } from './ingest-gate.js'
import { Jobs } from './jobs.js'
import { Listeners, type BoundListener } from './listeners.js'
import { createLogger, type Logger } from './logger.js'
import { Metrics } from './metrics.js'
import { sampleRates } from './rate-sampler.js'
import { StoreHealth } from './store-health.js'
import { clockStepMessage, dropMessage } from './store-messages.js'
import { reloadGateway, type ReloadResult } from './reload.js'
import { HEARTBEAT_TOPIC, heartbeatPayload } from './heartbeat.js'
import { VERSION } from './version.js'
import type { SubscriptionManager } from './subscriptions/manager.js'
import type { SubscriptionsServer } from './subscriptions/server.js'

export interface GatewayDeps {
  logger?: Logger
  /** The system's time (epoch ms). */
  now?: () => number
  /** A clock that setting the system time does not move (see EventLogOptions.elapsed): log retention and subscription suspension measure on it. */
  elapsed?: () => number
  /** The boot's id and its monotonic clock (see EventLogOptions.boot): a step of the clock made while the gateway was stopped. */
  boot?: EventLogOptions['boot']
  /** Whether the system clock is synchronised (see EventLogOptions.clockSynced): records stored on a clock never set, found after a reboot. */
  clockSynced?: EventLogOptions['clockSynced']
  /** Called once when the gateway cannot go on (broker state cannot be written); the caller closes it. */
  onFatal?: (err: Error) => void
  /** The bridges' cursor and dead-letter stores, instead of those in `store` (to inject store failures). */
  bridgeStores?: (store: Store) => { cursors?: CursorStore, deadLetters?: DeadLetterStore }
}

export interface Gateway {
  readonly config: Readonly<Config>
  readonly store: Store
  readonly log: EventLog
  readonly broker: Aedes
  readonly listeners: readonly BoundListener[]
  readonly bridges: BridgeSet
  readonly logger: Logger
  readonly metrics: Metrics
  /** Authentication, access rules and limits; its counters are `security.stats()`. */
  readonly security: Security
  /** The admin API, when enabled. */
  readonly admin: AdminServer | undefined
  /** Subscriptions made through the Subscriptions API, and its listener, when `subscriptions` is configured. */
  readonly subscriptions: SubscriptionManager | undefined
  readonly subscriptionsApi: SubscriptionsServer | undefined
  /** Applies a new config to the running gateway (bridges, retention, schedules); see reload.ts. */
  reload (config: Readonly<Config>): Promise<ReloadResult>
  /** Stop accepting, finish the commit in flight, close everything. Idempotent. */
  close (): Promise<void>
}

function logOptions (config: Readonly<Config>, { now, elapsed, boot, clockSynced }: GatewayDeps): EventLogOptions {
  const storage = config.storage
  return {
    durability: storage.durability,
    maxAgeMs: parseDuration(storage.retention.maxAge),
    maxBytes: parseSize(storage.retention.maxBytes),
    whenFull: storage.whenFull,
    reserveFreeBytes: parseSize(storage.reserveFreeBytes),
    maxPendingBytes: parseSize(storage.maxPendingBytes),
    commitWindowMs: parseDuration(storage.commitWindow),
    ...(now !== undefined ? { now } : {}),
    ...(elapsed !== undefined ? { elapsed } : {}),
    ...(boot !== undefined ? { boot } : {}),
    ...(clockSynced !== undefined ? { clockSynced } : {})
  }
}

/** The event signer of `gateway.signing` (the key was checked with the config). */
function loadSigner (config: Readonly<Config>): EventSigner | undefined {
  const signing = config.gateway.signing
  if (signing === undefined) return undefined
  const key = privateKeyFromPem(readFileSync(signing.key), signing.key)
  return createEventSigner(signWith(key), signing.keyId ?? keyIdOf(key))
}

export async function createGateway (config: Readonly<Config>, deps: GatewayDeps = {}): Promise<Gateway> {
  const logger = deps.logger ?? createLogger(config.gateway.logLevel)
  const dataDir = resolve(config.gateway.dataDir)
  const cleanups: Array<() => Promise<void>> = []
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn()
  }

  const noRoom = (cause: unknown): void => {
    logger.error({ event: 'store-full', store: 'state store', detail: (cause as Error).message }, 'no room on the disk to open the store: waiting for space')
  }
  try {
    const store = await Store.open(dataDir, {
      onRepair: cause => logger.warn({ event: 'store-repaired', store: 'state store', detail: (cause as Error).message }, 'state store was damaged: LevelDB repaired it, keeping every entry it could read'),
      onNoRoom: noRoom
    })
    cleanups.push(async () => await store.close())

    const log = await EventLog.open(store, { ...logOptions(config, deps), onNoRoom: noRoom })
    cleanups.push(async () => await log.close())
    for (const dir of log.atOpen.repaired) logger.warn({ event: 'store-repaired', store: 'event log', dir }, 'a log segment was damaged: LevelDB repaired it, keeping every record it could read')
    for (const e of log.atOpen.lost) logger.warn({ event: 'drop', ...e }, dropMessage(e))
    const unclean = log.atOpen.unclean
    if (unclean !== undefined) {
      logger.warn({ event: 'unclean-stop', ...unclean }, `the gateway did not stop cleanly: the log ends at sequence ${unclean.lastSeq}; new records start at ${unclean.nextSeq}, after the numbers reserved before the stop, so no id is issued twice`)
    }
    log.on('drop', (e: DropEvent) => logger.warn({ event: 'drop', ...e }, dropMessage(e)))
    const step = log.atOpen.clockStep
    if (step !== undefined) logger.warn({ event: 'clock-step', stepMs: step.stepMs, found: step.found }, clockStepMessage(step.stepMs, step.found))
    log.on('clock-step', (e: { stepMs: number }) => logger.warn({ event: 'clock-step', stepMs: e.stepMs }, clockStepMessage(e.stepMs)))
    log.on('repaired', (e: { dir: string }) => logger.warn({ event: 'store-repaired', store: 'event log', dir: e.dir }, 'a log segment was damaged: LevelDB repaired it, keeping every record it could read'))
    const health = new StoreHealth(log, store, logger)

    const jobs = new Jobs((name, err) => { logger.error({ err, job: name }, `scheduled job ${name} failed`) })
    cleanups.push(async () => { jobs.stop() })

    let failed = false
    // the state store holds and retries a write the disk refuses; a write fails only once the store is closed
    const persistence = createStoredBrokerPersistence(store, {
      durability: config.storage.durability,
      onDamaged: entries => logger.warn({ event: 'store-damaged', store: 'broker state', entries: entries.length, keys: entries.slice(0, 20).map(e => e.key) }, `${entries.length} broker state entries could not be read and were removed (sessions or retained messages lost to damage on disk)`),
      onFailure: err => {
        if (failed || (err.cause as { code?: string } | undefined)?.code === 'FG_ERR_STORE_CLOSED') return
        failed = true
        logger.fatal({ err }, 'broker state write failed; stopping')
        deps.onFatal?.(err)
      }
    })
    cleanups.push(async () => await persistence.close())

    const security = await Security.create(config, { logger })
    cleanups.push(async () => await security.close())
    const broker = await createBroker({ log, logger, persistence, maxClientIdLength: config.broker.maxClientIdLength, security, limits: config.broker.limits })
    cleanups.push(async () => await new Promise<void>(resolve => broker.close(() => resolve())))

    const bridges = new BridgeSet({
      store,
      log,
      logger,
      gatewayId: config.gateway.id,
      signer: loadSigner(config),
      onRequest: (bridge, status, ms) => metrics.observeRequest(bridge, status, ms),
      ...(deps.now !== undefined ? { now: deps.now } : {}),
      ...deps.bridgeStores?.(store)
    })
    cleanups.push(async () => await bridges.close())
    bridges.deadLetters.on('evict', (e: EvictEvent) => logger.warn({ event: 'dead-letters-evicted', ...e }, `bridge ${e.bridge}: ${e.count} oldest dead letters removed (storage.deadLetters.maxBytes)`))
    // counts them now (status and metrics then take the counts from memory, never waiting on the
    // store), and trims them to a budget lowered while the gateway was stopped
    await bridges.deadLetters.setMaxBytes(parseSize(config.storage.deadLetters.maxBytes))
    const metrics = new Metrics({
      log,
      health,
      deadLetters: bridges.deadLetters,
      bridges: () => bridges.status(),
      bridgeOldestAge: async name => await bridges.oldestAge(name),
      connectedClients: () => broker.connectedClients,
      security: () => security.stats()
    })
    cleanups.push(async () => metrics.close())
    bridges.heartbeatBridge = config.jobs.heartbeat?.bridge
    for (const b of config.bridges) await bridges.add(b)

    const startedAt = performance.now()
    let current = config
    let subscriptions: SubscriptionManager | undefined
    let subscriptionsApi: SubscriptionsServer | undefined
    if (config.subscriptions !== undefined) {
      // the Subscriptions API and its manager are loaded only where subscriptions are configured
      const { SubscriptionManager } = await import('./subscriptions/manager.js')
      const { startSubscriptionsApi } = await import('./subscriptions/server.js')
      const { registrySource, streamsOf } = await import('./subscriptions/registry-source.js')
      const manager = await SubscriptionManager.open({ store, bridges, logger, gatewayId: config.gateway.id, config: config.subscriptions, streams: streamsOf(config), ...(deps.now !== undefined ? { now: deps.now } : {}), ...(deps.elapsed !== undefined ? { elapsed: deps.elapsed } : {}) })
      subscriptions = manager
      cleanups.push(async () => { manager.close() })
      subscriptionsApi = await startSubscriptionsApi(config.subscriptions, { manager, logger, registry: registrySource(log, () => current) })
      const api = subscriptionsApi
      cleanups.push(async () => { await api.close() })
      logger.info({ event: 'subscriptions-listening', url: api.url }, `Subscriptions API on ${api.url}`)
    }
    const scheduleJobs = async (cfg: Readonly<Config>): Promise<void> => {
      jobs.set('retention-sweep', cfg.storage.retention.sweepSchedule, async () => { await log.sweep() })
      const hb = cfg.jobs.heartbeat
      jobs.set('heartbeat', hb?.schedule, async () => {
        log.append({ topic: HEARTBEAT_TOPIC, payload: heartbeatPayload({ gatewayId: cfg.gateway.id, version: VERSION, startedAt, log, bridges: bridges.status(), clients: broker.connectedClients }), qos: 1, retain: false, clientId: '' })
      })
    }
    await scheduleJobs(config)

    // the log asks for a pause when commits fall behind (storage.maxPendingBytes): clients are not read from until they catch up
    const gate = new IngestGate()
    // (opened after the commit that relieved the pressure has settled, not from inside it)
    log.on('pressure', (on: boolean) => { queueMicrotask(() => { gate.set(!on) }) })
    const listeners = await Listeners.open(broker, config.broker.listeners, { security, limits: config.broker.limits, logger, gate })
    cleanups.push(async () => await listeners.close())
    for (const l of listeners.bound) logger.info({ event: 'listening', ...l }, `broker listening on ${l.protocol}://${l.host}:${l.port}`)

    let ready = true
    let admin: AdminServer | undefined
    if (config.admin.enabled) {
      const rates = sampleRates(log, bridges)
      cleanups.push(async () => rates.stop())
      // the HTTP framework is loaded only for an admin API that is served
      const { startAdmin } = await import('./admin/server.js')
      admin = await startAdmin(config.admin, {
        id: config.gateway.id,
        version: VERSION,
        startedAt,
        log,
        bridges,
        subscriptions,
        metrics,
        logger,
        clients: () => broker.connectedClients,
        ready: () => ready && health.writable(),
        storage: () => health.status(),
        security: () => security.stats(),
        config: () => current,
        rates: rates.history
      })
      cleanups.push(async () => { ready = false; await admin?.close() })
      logger.info({ event: 'admin-listening', url: admin.url }, `admin API on ${admin.url}`)
    }

    const stats = log.stats()
    logger.info({ event: 'started', gatewayId: config.gateway.id, dataDir, firstSeq: stats.firstSeq, lastSeq: stats.lastSeq, records: stats.records }, 'gateway started')
    // The HTTP client is loaded when the first device connects: publishes (and so deliveries) are
    // coming, and the first delivery need not wait for it. Until then a gateway does without its
    // memory (some 7 MiB); one that has delivered keeps it.
    if (config.bridges.length > 0 || config.subscriptions !== undefined) {
      broker.once('client', () => { preloadHttpSink().catch(err => logger.warn({ err }, 'HTTP client failed to load')) })
    }

    let closing: Promise<void> | undefined
    let limits = config.broker.limits
    return {
      config,
      store,
      log,
      broker,
      listeners: listeners.bound,
      bridges,
      logger,
      metrics,
      admin,
      subscriptions,
      subscriptionsApi,
      security,
      async reload (next) {
        const others: Array<(cfg: Readonly<Config>) => Promise<void> | void> = [
          cfg => security.reconfigure(cfg),
          cfg => {
            // only a change: new limits give every connection a full publish burst
            if (isDeepStrictEqual(cfg.broker.limits, limits)) return
            limits = cfg.broker.limits
            listeners.setLimits(limits)
            setBrokerLimits(broker, limits)
          }
        ]
        if (subscriptions !== undefined && next.subscriptions !== undefined) {
          const { streamsOf } = await import('./subscriptions/registry-source.js')
          const manager = subscriptions
          others.push(async cfg => { if (cfg.subscriptions !== undefined) await manager.reconfigure(cfg.subscriptions, streamsOf(cfg)) })
        }
        const result = await reloadGateway(current, next, { log, bridges, logger, scheduleJobs, others })
        current = next
        return result
      },
      async close () {
        closing ??= (async () => {
          // stop accepting now; open connections are ended by the broker and listener close below
          void listeners.stopAccepting()
          // on a disk that refuses writes, what waits for one is given up rather than waited for
          if (!health.writable()) {
            log.abandon()
            store.abandon()
          }
          await cleanup()
          logger.info({ event: 'stopped' }, 'gateway stopped')
        })()
        await closing
      }
    }
  } catch (err) {
    await cleanup()
    throw err
  }
}
