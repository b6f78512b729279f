/**
 * Hot reload: what a new config changes in a running gateway. Bridges are
 * added, removed or reconfigured (a changed bridge keeps its cursor); retention
 * and schedules change in place; what needs a restart is reported as such.
 */
import { isDeepStrictEqual } from 'node:util'
import { parseDuration, parseSize, type Config } from '../config/index.js'
import type { EventLog } from '../storage/index.js'
import type { BridgeSet } from './bridges.js'
import type { Logger } from './logger.js'

export interface ReloadResult {
  added: string[]
  removed: string[]
  changed: string[]
  retention: boolean
  /** Keys whose new values take effect only after a restart. */
  needsRestart: string[]
}

export interface ReloadDeps {
  log: EventLog
  bridges: BridgeSet
  logger: Logger
  scheduleJobs: (config: Readonly<Config>) => Promise<void>
  /** Other parts that take a new config in place (users and ACLs). */
  others?: Array<(config: Readonly<Config>) => Promise<void> | void>
}

const RESTART_KEYS: Array<[string, (c: Readonly<Config>) => unknown]> = [
  ['gateway.id', c => c.gateway.id],
  ['gateway.dataDir', c => c.gateway.dataDir],
  ['gateway.logLevel', c => c.gateway.logLevel],
  ['broker.listeners', c => c.broker.listeners],
  ['storage.durability', c => c.storage.durability],
  ['admin', c => c.admin]
]

export async function reloadGateway (current: Readonly<Config>, next: Readonly<Config>, deps: ReloadDeps): Promise<ReloadResult> {
  const result: ReloadResult = { added: [], removed: [], changed: [], retention: false, needsRestart: [] }
  for (const [key, get] of RESTART_KEYS) if (!isDeepStrictEqual(get(current), get(next))) result.needsRestart.push(key)

  const r = next.storage.retention
  const n = next.storage
  const c = current.storage
  if (!isDeepStrictEqual(c.retention, r) || c.whenFull !== n.whenFull || c.reserveFreeBytes !== n.reserveFreeBytes || c.maxPendingBytes !== n.maxPendingBytes) {
    deps.log.setRetention({ maxAgeMs: parseDuration(r.maxAge), maxBytes: parseSize(r.maxBytes), whenFull: n.whenFull, reserveFreeBytes: parseSize(n.reserveFreeBytes), maxPendingBytes: parseSize(n.maxPendingBytes) })
    result.retention = true
  }

  const hbBefore = current.jobs.heartbeat?.bridge
  const hbAfter = next.jobs.heartbeat?.bridge
  deps.bridges.heartbeatBridge = hbAfter
  const before = new Map(current.bridges.map(b => [b.name, b]))
  const after = new Map(next.bridges.map(b => [b.name, b]))
  for (const name of before.keys()) {
    if (!after.has(name)) {
      await deps.bridges.remove(name)
      result.removed.push(name)
    }
  }
  for (const [name, cfg] of after) {
    const old = before.get(name)
    if (old === undefined) {
      await deps.bridges.add(cfg)
      result.added.push(name)
    } else if (!isDeepStrictEqual(old, cfg) || (hbBefore !== hbAfter && (name === hbBefore || name === hbAfter))) {
      await deps.bridges.update(cfg)
      result.changed.push(name)
    }
  }
  await deps.scheduleJobs(next)
  for (const apply of deps.others ?? []) await apply(next)

  deps.logger.info({ event: 'reload', ...result }, 'configuration reloaded')
  if (result.needsRestart.length > 0) {
    deps.logger.warn({ event: 'reload-needs-restart', keys: result.needsRestart }, `changes to ${result.needsRestart.join(', ')} take effect after a restart`)
  }
  return result
}
