/**
 * Hot reload: what a new config changes in a running gateway. Bridges are
 * added, removed or reconfigured (a changed bridge keeps its cursor); retention,
 * the dead-letter budget, schedules, broker limits and the log level change in
 * place; what needs a restart is reported as such.
 * A reload that fails at any step leaves the previous configuration running.
 */
import { isDeepStrictEqual } from 'node:util'
import { parseDuration, parseSize, type Config } from '../config/index.js'
import type { EventLog } from '../storage/index.js'
import type { BridgeSet } from './bridge-set.js'
import type { Logger } from './logger.js'

export interface ReloadResult {
  added: string[]
  removed: string[]
  changed: string[]
  retention: boolean
  /** The new `gateway.logLevel`, when it changed (it applies from the end of the reload). */
  logLevel?: string
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
  ['broker.listeners', c => c.broker.listeners],
  ['broker.maxClientIdLength', c => c.broker.maxClientIdLength],
  ['broker.auth.passwordFile', c => c.broker.auth.passwordFile],
  ['broker.auth.allowAnonymous', c => c.broker.auth.allowAnonymous],
  ['gateway.signing', c => c.gateway.signing],
  ['storage.durability', c => c.storage.durability],
  ['admin', c => c.admin],
  // the Subscriptions API's listener (its consumers, policies and suspendAfter change in place)
  ['subscriptions', c => c.subscriptions !== undefined],
  ['subscriptions.host', c => c.subscriptions?.host],
  ['subscriptions.port', c => c.subscriptions?.port],
  ['subscriptions.tls', c => c.subscriptions?.tls],
  ['subscriptions.publicUrl', c => c.subscriptions?.publicUrl]
]

/** The keys whose change needs a restart; a section turned on or off is named once, not with each of its keys. */
function restartKeys (current: Readonly<Config>, next: Readonly<Config>): string[] {
  const changed = RESTART_KEYS.filter(([, get]) => !isDeepStrictEqual(get(current), get(next))).map(([key]) => key)
  return changed.filter(key => !changed.some(section => key.startsWith(section + '.')))
}

/**
 * All or nothing: the bridges change first (that step undoes itself when it fails), then
 * schedules and the other parts; when one of those fails the bridges go back to the previous
 * set and the previous schedules are restored. Retention changes last (it cannot fail), and
 * the cursors of removed bridges are forgotten only once everything else has succeeded.
 */
export async function reloadGateway (current: Readonly<Config>, next: Readonly<Config>, deps: ReloadDeps): Promise<ReloadResult> {
  const result: ReloadResult = { added: [], removed: [], changed: [], retention: false, needsRestart: restartKeys(current, next) }

  const changes = await deps.bridges.reconfigure(next.bridges, next.jobs.heartbeat?.bridge)
  try {
    await deps.scheduleJobs(next)
    for (const apply of deps.others ?? []) await apply(next)
  } catch (err) {
    await changes.rollback()
    await deps.scheduleJobs(current).catch((e: unknown) => deps.logger.error({ err: e }, 'the previous schedules could not be restored'))
    for (const apply of deps.others ?? []) await Promise.resolve(apply(current)).catch((e: unknown) => deps.logger.error({ err: e }, 'a part could not be restored to the previous configuration'))
    throw err
  }
  result.added = changes.added
  result.removed = changes.removed
  result.changed = changes.changed

  const r = next.storage.retention
  const n = next.storage
  const c = current.storage
  if (!isDeepStrictEqual(c.retention, r) || c.whenFull !== n.whenFull || c.reserveFreeBytes !== n.reserveFreeBytes || c.maxPendingBytes !== n.maxPendingBytes || c.commitWindow !== n.commitWindow) {
    deps.log.setRetention({ maxAgeMs: parseDuration(r.maxAge), maxBytes: parseSize(r.maxBytes), whenFull: n.whenFull, reserveFreeBytes: parseSize(n.reserveFreeBytes), maxPendingBytes: parseSize(n.maxPendingBytes), commitWindowMs: parseDuration(n.commitWindow) })
    result.retention = true
  }
  if (c.deadLetters.maxBytes !== n.deadLetters.maxBytes) {
    // beyond a lowered budget the oldest dead letters go at once, logged as at any eviction; the
    // reload does not wait for their removal, which a full disk holds
    deps.bridges.deadLetters.setMaxBytes(parseSize(n.deadLetters.maxBytes)).catch((err: unknown) => deps.logger.warn({ err }, 'dead letters beyond the new storage.deadLetters.maxBytes could not be removed'))
    result.retention = true
  }
  await changes.commit().catch((err: unknown) => deps.logger.warn({ event: 'bridge-cursor-not-forgotten', bridges: changes.removed, err }, 'the cursor of a removed bridge could not be forgotten; a bridge added again under its name resumes from it'))

  const level = next.gateway.logLevel
  if (current.gateway.logLevel !== level) result.logLevel = level

  deps.logger.info({ event: 'reload', ...result }, 'configuration reloaded')
  if (result.needsRestart.length > 0) {
    deps.logger.warn({ event: 'reload-needs-restart', keys: result.needsRestart }, `changes to ${result.needsRestart.join(', ')} take effect after a restart`)
  }
  // last, so the lines above are written at the level they were made under (a quieter level would drop them)
  if (result.logLevel !== undefined) deps.logger.level = level
  return result
}
