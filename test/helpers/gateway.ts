import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import mqtt, { type MqttClient, type IClientOptions } from 'mqtt'
import { pino } from 'pino'
import type { LoadedConfig } from '../../config/index.js'
import { parseGatewayConfig } from '../../gateway/config.js'
import { createGateway, type Gateway, type GatewayDeps } from '../../gateway/index.js'

export interface TestContext {
  teardown (fn: () => unknown): void
}

/** A fresh temp directory removed at teardown. */
export async function tempDir (t: TestContext, prefix = 'flowgate-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

/** Config text for a gateway on port 0 with its data in `dataDir`; `extra` YAML is appended. */
export function testConfig (dataDir: string, extra = '', opts: { adminYaml?: string } = {}): LoadedConfig {
  return parseGatewayConfig(`gateway:
  id: test-gw
  dataDir: ${JSON.stringify(dataDir)}
  logLevel: silent
broker:
  listeners:
    - port: 0
admin:
  port: 0
${opts.adminYaml ?? ''}
${extra}`, { env: process.env })
}

/** Starts a gateway in this process; closed at teardown. Its log goes to stderr at FLOWGATE_TEST_LOG's level (default silent). */
export async function startGateway (t: TestContext, loaded: LoadedConfig, deps: GatewayDeps = {}): Promise<Gateway> {
  const gw = await createGateway(loaded.config, { logger: pino({ level: process.env.FLOWGATE_TEST_LOG ?? 'silent' }, pino.destination(2)), ...deps })
  t.teardown(async () => await gw.close())
  return gw
}

export function brokerUrl (gw: Gateway): string {
  const l = gw.listeners[0]
  if (l === undefined) throw new Error('gateway has no listener')
  return `mqtt://127.0.0.1:${l.port}`
}

/** A connected MQTT.js client, ended at teardown. Reconnects are off so a refusal is visible. */
export async function connect (t: TestContext, url: string, opts: IClientOptions = {}): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  t.teardown(async () => await client.endAsync(true))
  return client
}

export { eventually, within, type EventuallyOptions } from './wait.js'
