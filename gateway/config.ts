/**
 * Loading the gateway's config: the schema (config/) plus the checks only the
 * bridge compilers can make (filters, CESQL, topic patterns, templates).
 */
import { existsSync } from 'node:fs'
import cron from 'node-cron'
import { compileBridge } from '../bridges/index.js'
import { ConfigValueError, defaultConfig, loadConfig, parseConfig, type Config, type ConfigIssue, type LoadedConfig } from '../config/index.js'
import { checkSecurityConfig, isLoopback } from './auth/index.js'
import { checkWindowSchedule } from './window.js'

function checkCron (expr: string, path: string, issues: ConfigIssue[]): void {
  if (!cron.validate(expr)) issues.push({ path, message: `not a valid cron expression: ${JSON.stringify(expr)}` })
}

export function checkConfig (config: Config): ConfigIssue[] {
  const issues: ConfigIssue[] = checkSecurityConfig(config)
  checkCron(config.storage.retention.sweepSchedule, 'storage.retention.sweepSchedule', issues)
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
  return issues
}

/** Reads and checks a config file; without a file, the embedded defaults. */
export async function loadGatewayConfig (file?: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadedConfig> {
  return file === undefined ? defaultConfig() : await loadConfig(file, env, checkConfig)
}

export function parseGatewayConfig (text: string, opts: { env?: NodeJS.ProcessEnv, file?: string } = {}): LoadedConfig {
  return parseConfig(text, { ...opts, check: checkConfig })
}
