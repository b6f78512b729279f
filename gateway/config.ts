/**
 * Loading the gateway's config: the schema (config/) plus the checks only the
 * bridge compilers can make (filters, CESQL, topic patterns, templates).
 */
import { existsSync, readFileSync } from 'node:fs'
import { compileBridge, compileSqlFilter, privateKeyFromPem, SUBSCRIPTION_BRIDGE_PREFIX } from '../bridges/index.js'
import { ConfigValueError, defaultConfig, loadConfig, parseConfig, parseDuration, type Config, type ConfigIssue, type LoadedConfig } from '../config/index.js'
import { checkSecurityConfig, hashProblem, isLoopback } from './auth/index.js'
import { checkJobSchedule } from './jobs.js'
import { checkWindowSchedule } from './window.js'

const MAX_COMMIT_WINDOW_MS = 1000

function checkCron (expr: string, path: string, issues: ConfigIssue[]): void {
  const problem = checkJobSchedule(expr)
  if (problem !== undefined) issues.push({ path, message: problem })
}

export function checkConfig (config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = checkSecurityConfig(config)
  checkCron(config.storage.retention.sweepSchedule, 'storage.retention.sweepSchedule', issues)
  if (parseDuration(config.storage.commitWindow) > MAX_COMMIT_WINDOW_MS) issues.push({ path: 'storage.commitWindow', message: `is at most 1s (${config.storage.commitWindow}): every acknowledgement waits for it` })
  if (config.admin.enabled && !isLoopback(config.admin.host) && config.admin.token === undefined) {
    issues.push({ path: 'admin.token', message: `is required when the admin API listens beyond loopback (admin.host ${config.admin.host})` })
  }
  const heartbeat = config.jobs.heartbeat
  if (heartbeat !== undefined) {
    checkCron(heartbeat.schedule, 'jobs.heartbeat.schedule', issues)
    if (!config.bridges.some(b => b.name === heartbeat.bridge)) issues.push({ path: 'jobs.heartbeat.bridge', message: `no bridge is named ${JSON.stringify(heartbeat.bridge)}` })
  }
  const names = new Set<string>()
  config.bridges.forEach((bridge, i) => {
    const at = `bridges[${i}]`
    if (names.has(bridge.name)) issues.push({ path: `${at}.name`, message: `duplicate bridge name ${JSON.stringify(bridge.name)}` })
    names.add(bridge.name)
    if (bridge.name.startsWith(SUBSCRIPTION_BRIDGE_PREFIX)) issues.push({ path: `${at}.name`, message: `names starting with ${SUBSCRIPTION_BRIDGE_PREFIX} are the bridges of subscriptions` })
    try {
      compileBridge(bridge, config.gateway.id)
    } catch (err) {
      if (!(err instanceof ConfigValueError)) throw err
      const located = err.atPath(at)
      issues.push({ path: located.path, message: located.detail })
    }
    const window = bridge.window === undefined ? undefined : checkWindowSchedule(bridge.window.schedule)
    if (window !== undefined) issues.push({ path: `${at}.window.schedule`, message: window })
    for (const key of ['ca', 'cert', 'key'] as const) {
      const file = bridge.sink.tls[key]
      if (file !== undefined && !existsSync(file)) issues.push({ path: `${at}.sink.tls.${key}`, message: `file not found: ${file}` })
    }
    if ((bridge.sink.tls.cert === undefined) !== (bridge.sink.tls.key === undefined)) {
      issues.push({ path: `${at}.sink.tls`, message: 'cert and key go together' })
    }
  })
  checkSubscriptions(config, issues)
  checkSigning(config, issues)
  return issues
}

function checkSigning (config: Config, issues: ConfigIssue[]): void {
  const key = config.gateway.signing?.key
  if (key === undefined) return
  try {
    privateKeyFromPem(readFileSync(key), key)
  } catch (err) {
    issues.push({ path: 'gateway.signing.key', message: (err as NodeJS.ErrnoException).code === 'ENOENT' ? `file not found: ${key}` : (err as Error).message })
  }
}

function checkSubscriptions (config: Config, issues: ConfigIssue[]): void {
  const subs = config.subscriptions
  if (subs === undefined) return
  const tls = subs.tls
  if (tls !== undefined) {
    if (tls.clientCert !== 'none' && tls.ca === undefined) issues.push({ path: 'subscriptions.tls.ca', message: `is required when clientCert is ${tls.clientCert}` })
    for (const key of ['cert', 'key', 'ca'] as const) {
      const file = tls[key]
      if (file !== undefined && !existsSync(file)) issues.push({ path: `subscriptions.tls.${key}`, message: `file not found: ${file}` })
    }
  }
  const names = new Set<string>()
  subs.consumers.forEach((c, i) => {
    const at = `subscriptions.consumers[${i}]`
    if (names.has(c.name)) issues.push({ path: `${at}.name`, message: `duplicate consumer ${JSON.stringify(c.name)}` })
    names.add(c.name)
    if (c.token === undefined && c.certificate === undefined) issues.push({ path: at, message: 'needs a token (hash) or a certificate to be identified by' })
    if (c.token !== undefined) {
      const problem = hashProblem(c.token)
      if (problem !== undefined) issues.push({ path: `${at}.token`, message: problem })
    }
    if (c.certificate !== undefined && (tls === undefined || tls.clientCert === 'none')) issues.push({ path: `${at}.certificate`, message: 'needs subscriptions.tls with clientCert optional or required' })
    if (c.filter !== undefined) {
      try {
        compileSqlFilter(c.filter)
      } catch (err) {
        issues.push({ path: `${at}.filter`, message: (err as Error).message })
      }
    }
  })
}

/** Reads and checks a config file; without a file, the embedded defaults. */
export async function loadGatewayConfig (file?: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  return file === undefined ? defaultConfig() : await loadConfig(file, env, checkConfig)
}

export function parseGatewayConfig (text: string, opts: { env?: NodeJS.ProcessEnv, file?: string } = {}): LoadedConfig {
  return parseConfig(text, { ...opts, check: checkConfig })
}
