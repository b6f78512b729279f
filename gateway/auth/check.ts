/**
 * Checks of the broker's security settings beyond the schema's shape; each
 * issue names its key path and never repeats a secret value.
 */
import { existsSync } from 'node:fs'
import { parseDuration, parseSize, type Config, type ConfigIssue } from '../../config/index.js'
import { filterProblem } from './acl.js'
import { hashProblem } from './password.js'

/** The MQTT 3.1.1 ceiling: a remaining length of 268,435,455 plus 5 header bytes [MQTT-2.2.3]. */
export const MQTT_MAX_PACKET = 268_435_460

export function checkSecurityConfig (config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = []
  const broker = config.broker
  broker.listeners.forEach((l, i) => {
    const at = `broker.listeners[${i}]`
    const secure = l.protocol === 'mqtts' || l.protocol === 'wss'
    if (secure && l.tls === undefined) issues.push({ path: `${at}.tls`, message: `is required for ${l.protocol} listeners (cert and key)` })
    if (!secure && l.tls !== undefined) issues.push({ path: `${at}.tls`, message: `is only for mqtts and wss listeners (this one is ${l.protocol})` })
    if (l.path !== undefined && l.protocol !== 'ws' && l.protocol !== 'wss') issues.push({ path: `${at}.path`, message: 'is only for ws and wss listeners' })
    if (l.tls !== undefined) {
      if (l.tls.clientCert !== 'none' && l.tls.ca === undefined) issues.push({ path: `${at}.tls.ca`, message: `is required when clientCert is ${l.tls.clientCert}` })
      for (const key of ['cert', 'key', 'ca'] as const) {
        const file = l.tls[key]
        if (file !== undefined && !existsSync(file)) issues.push({ path: `${at}.tls.${key}`, message: `file not found: ${file}` })
      }
    }
  })
  const names = new Set<string>()
  broker.auth.users.forEach((u, i) => {
    if (names.has(u.name)) issues.push({ path: `broker.auth.users[${i}].name`, message: `duplicate user ${JSON.stringify(u.name)}` })
    names.add(u.name)
    const problem = hashProblem(u.password)
    if (problem !== undefined) issues.push({ path: `broker.auth.users[${i}].password`, message: problem })
  })
  const file = broker.auth.passwordFile
  if (file !== undefined && !existsSync(file)) issues.push({ path: 'broker.auth.passwordFile', message: `file not found: ${file}` })
  broker.acl.forEach((rule, i) => {
    for (const action of ['publish', 'subscribe'] as const) {
      rule[action].forEach((filter, j) => {
        const problem = filterProblem(filter)
        if (problem !== undefined) issues.push({ path: `broker.acl[${i}].${action}[${j}]`, message: problem })
      })
    }
  })
  const size = parseSize(broker.limits.maxPacketSize)
  if (size < 64 || size > MQTT_MAX_PACKET) issues.push({ path: 'broker.limits.maxPacketSize', message: 'must be from 64B to 256MiB' })
  if (parseDuration(broker.limits.connectTimeout) < 1) issues.push({ path: 'broker.limits.connectTimeout', message: 'must be at least 1ms' })
  return issues
}
