/** Builds the configured bridges over the store and runs them. */
import { readFile } from 'node:fs/promises'
import { Bridge, compileBridge, HttpSink, type BridgeStatus } from '../bridges/index.js'
import type { BridgeConfig } from '../config/index.js'
import { CursorStore, DeadLetterStore, type EventLog, type Store } from '../storage/index.js'
import type { Logger } from './logger.js'

export interface BridgeSetDeps {
  store: Store
  log: EventLog
  logger: Logger
  gatewayId: string
  now?: () => number
}

async function readOptional (file: string | undefined): Promise<Buffer | undefined> {
  return file === undefined ? undefined : await readFile(file)
}

export async function createSink (cfg: BridgeConfig): Promise<HttpSink> {
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

/** The running bridges. close() stops them all; idempotent. */
export class BridgeSet {
  private readonly bridges = new Map<string, Bridge>()
  private readonly deps: BridgeSetDeps
  readonly cursors: CursorStore
  readonly deadLetters: DeadLetterStore

  constructor (deps: BridgeSetDeps) {
    this.deps = deps
    this.cursors = new CursorStore(deps.store)
    this.deadLetters = new DeadLetterStore(deps.store)
  }

  async add (cfg: BridgeConfig): Promise<Bridge> {
    const compiled = compileBridge(cfg, this.deps.gatewayId)
    const bridge = new Bridge(compiled, {
      log: this.deps.log,
      cursors: this.cursors,
      deadLetters: this.deadLetters,
      sink: await createSink(cfg),
      logger: this.deps.logger,
      ...(this.deps.now !== undefined ? { now: this.deps.now } : {})
    })
    this.bridges.set(cfg.name, bridge)
    await bridge.start()
    return bridge
  }

  get (name: string): Bridge | undefined {
    return this.bridges.get(name)
  }

  status (): BridgeStatus[] {
    return [...this.bridges.values()].map(b => b.status())
  }

  async close (): Promise<void> {
    await Promise.all([...this.bridges.values()].map(async b => await b.close()))
  }
}
