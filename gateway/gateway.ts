/**
 * Composition root: opens the store and the log, starts the broker and its
 * listeners, and closes them in reverse order.
 */
import { resolve } from 'node:path'
import type { Aedes } from 'aedes'
import { parseDuration, parseSize, type Config } from '../config/index.js'
import { createBrokerPersistence, EventLog, Store, type DropEvent } from '../storage/index.js'
import { BridgeSet } from './bridges.js'
import { createBroker } from './broker.js'
import { Listeners, type BoundListener } from './listeners.js'
import { createLogger, type Logger } from './logger.js'

export interface GatewayDeps {
  logger?: Logger
  now?: () => number
  /** Called once when the gateway cannot go on (broker state cannot be written); the caller closes it. */
  onFatal?: (err: Error) => void
}

export interface Gateway {
  readonly config: Readonly<Config>
  readonly store: Store
  readonly log: EventLog
  readonly broker: Aedes
  readonly listeners: readonly BoundListener[]
  readonly bridges: BridgeSet
  readonly logger: Logger
  /** Stop accepting, finish the commit in flight, close everything. Idempotent. */
  close (): Promise<void>
}

export async function createGateway (config: Readonly<Config>, deps: GatewayDeps = {}): Promise<Gateway> {
  const logger = deps.logger ?? createLogger(config.gateway.logLevel)
  const dataDir = resolve(config.gateway.dataDir)
  const cleanups: Array<() => Promise<void>> = []
  const cleanup = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) await fn()
  }

  try {
    const store = await Store.open(dataDir)
    cleanups.push(async () => await store.close())

    const retention = config.storage.retention
    const log = await EventLog.open(store, {
      durability: config.storage.durability,
      maxAgeMs: parseDuration(retention.maxAge),
      maxBytes: parseSize(retention.maxBytes),
      whenFull: config.storage.whenFull,
      ...(deps.now !== undefined ? { now: deps.now } : {})
    })
    cleanups.push(async () => await log.close())
    log.on('drop', (e: DropEvent) => logger.warn({ event: 'drop', ...e }, e.reason === 'rejected' ? 'publish refused: event log is full' : `records dropped by retention (${e.reason})`))
    log.on('error', (err: Error) => logger.error({ err }, 'event log write failed'))

    const sweepMs = parseDuration(retention.sweepInterval)
    const sweeper = setInterval(() => {
      log.sweep().catch((err: unknown) => logger.error({ err }, 'retention sweep failed'))
    }, sweepMs)
    sweeper.unref()
    cleanups.push(async () => clearInterval(sweeper))

    let failed = false
    const persistence = createBrokerPersistence(store.sublevel('broker'), {
      durability: config.storage.durability,
      onFailure: err => {
        // memory and disk would drift apart: stop rather than serve from a state that is not stored
        if (failed) return
        failed = true
        logger.fatal({ err }, 'broker state write failed; stopping')
        deps.onFatal?.(err)
      }
    })
    cleanups.push(async () => await persistence.close())

    const broker = await createBroker({ log, logger, persistence, maxClientIdLength: config.broker.maxClientIdLength })
    cleanups.push(async () => await new Promise<void>(resolve => broker.close(() => resolve())))

    const bridges = new BridgeSet({ store, log, logger, gatewayId: config.gateway.id, ...(deps.now !== undefined ? { now: deps.now } : {}) })
    cleanups.push(async () => await bridges.close())
    for (const b of config.bridges) await bridges.add(b)

    const listeners = await Listeners.open(broker, config.broker.listeners)
    cleanups.push(async () => await listeners.close())
    for (const l of listeners.bound) logger.info({ event: 'listening', ...l }, `broker listening on ${l.protocol}://${l.host}:${l.port}`)

    const stats = log.stats()
    logger.info({ event: 'started', gatewayId: config.gateway.id, dataDir, firstSeq: stats.firstSeq, lastSeq: stats.lastSeq, records: stats.records }, 'gateway started')

    let closing: Promise<void> | undefined
    return {
      config,
      store,
      log,
      broker,
      listeners: listeners.bound,
      bridges,
      logger,
      async close () {
        closing ??= (async () => {
          await listeners.stopAccepting()
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
