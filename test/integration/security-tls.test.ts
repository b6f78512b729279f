/**
 * TLS and WebSocket listeners: client-certificate login over mqtts (the
 * certificate's CN becomes the user, and the access rules apply to it), a
 * refused handshake without a trusted certificate, and QoS 1 publishes over
 * ws:// and wss://. Certificates are made with openssl for each run.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { securityOf } from '../../gateway/broker.js'
import { hashPassword } from '../../gateway/auth/index.js'
import type { Gateway } from '../../gateway/index.js'
import { startGateway, tempDir, type TestContext } from '../helpers/gateway.js'
import { LogCapture, makePki, securityConfig, type Pki } from '../helpers/security.js'

type Outcome = { client: MqttClient } | { code: number } | { failed: string }

/** Connects and reports the CONNACK refusal code, or a failure before any CONNACK (TLS handshake). */
async function attempt (t: TestContext, url: string, opts: IClientOptions): Promise<Outcome> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
  t.teardown(async () => await client.endAsync(true))
  return await new Promise<Outcome>(resolve => {
    client.once('connect', () => resolve({ client }))
    client.once('error', err => {
      const code = (err as { code?: unknown }).code
      resolve(typeof code === 'number' ? { code } : { failed: err.message })
    })
    client.once('close', () => resolve({ failed: 'closed before CONNACK' }))
  })
}

async function tlsOptions (pki: Pki, client?: { cert: string, key: string }): Promise<IClientOptions> {
  return {
    ca: await readFile(pki.ca),
    rejectUnauthorized: true,
    ...(client !== undefined ? { cert: await readFile(client.cert), key: await readFile(client.key) } : {})
  }
}

function connected (outcome: Outcome, what: string): MqttClient {
  if (!('client' in outcome)) throw new Error(`${what}: expected a connection, got ${JSON.stringify(outcome)}`)
  return outcome.client
}

async function publishOutcome (client: MqttClient, topic: string): Promise<'acked' | 'disconnected'> {
  const closed = new Promise<'disconnected'>(resolve => client.once('close', () => resolve('disconnected')))
  const acked = client.publishAsync(topic, 'x', { qos: 1 }).then(() => 'acked' as const, async () => await closed)
  return await Promise.race([acked, closed])
}

const port = (gw: Gateway, i: number): number => gw.listeners[i]?.port ?? 0

t.test('TLS and WebSocket listeners', async t => {
  const dir = await tempDir(t)
  const pki = await makePki(join(dir, 'pki'))
  const carol = await hashPassword('carol-pw', { N: 1024, r: 8, p: 1 })
  const logs = new LogCapture()
  const tls = (clientCert: string): string => `{ cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, ca: ${JSON.stringify(pki.ca)}, clientCert: ${clientCert} }`
  const gw = await startGateway(t, securityConfig(join(dir, 'data'), `listeners:
  - { port: 0, protocol: mqtts, tls: ${tls('required')} }
  - { port: 0, host: 0.0.0.0, protocol: mqtts, tls: ${tls('optional')} }
  - { port: 0, protocol: ws }
  - { port: 0, protocol: wss, path: /mqtt, tls: ${tls('optional')} }
auth:
  users:
    - { name: carol, password: "${carol}" }
acl:
  - publish: ["devices/%u/#"]
    subscribe: ["devices/%u/#"]
  - publish: ["public/#"]`), { logger: logs.logger })
  const stats = (): ReturnType<NonNullable<ReturnType<typeof securityOf>>['stats']> | undefined => securityOf(gw.broker)?.stats()

  await t.test('mqtts with clientCert required: the certificate\'s CN is the user', async t => {
    const url = `mqtts://127.0.0.1:${port(gw, 0)}`
    const device = connected(await attempt(t, url, await tlsOptions(pki, await pki.client('device-7'))), 'device-7')
    t.equal(await publishOutcome(device, 'devices/device-7/temp'), 'acked', 'the rule for %u = device-7 applies')
    await gw.log.flush()
    const records = await gw.log.read(1, 100)
    t.equal(records.at(-1)?.username, 'device-7', 'the certificate user is recorded')
    t.equal(await publishOutcome(device, 'devices/device-8/temp'), 'disconnected', 'another device\'s topic is refused')

    t.match(await attempt(t, url, await tlsOptions(pki)), { failed: String }, 'no client certificate: the handshake fails')
    t.match(await attempt(t, url, await tlsOptions(pki, await pki.client('device-7', { untrusted: true }))), { failed: String }, 'a certificate from another CA: the handshake fails')
    t.ok((stats()?.protocolErrors ?? 0) >= 2, 'failed handshakes are counted')
  })

  await t.test('mqtts with clientCert optional on 0.0.0.0: certificate or password, never anonymous', async t => {
    const url = `mqtts://127.0.0.1:${port(gw, 1)}`
    const before = stats()?.authFailures
    const byCert = connected(await attempt(t, url, await tlsOptions(pki, await pki.client('device-8'))), 'device-8')
    t.equal(await publishOutcome(byCert, 'devices/device-8/x'), 'acked', 'logged in by certificate')
    const byPassword = connected(await attempt(t, url, { ...await tlsOptions(pki), username: 'carol', password: 'carol-pw' }), 'carol')
    t.equal(await publishOutcome(byPassword, 'devices/carol/x'), 'acked', 'logged in by password')
    t.match(await attempt(t, url, await tlsOptions(pki)), { code: 5 }, 'anonymous: not authorized (not a loopback listener)')
    t.match(await attempt(t, url, { ...await tlsOptions(pki, await pki.client('device-8')), username: 'carol', password: 'carol-pw' }), { code: 5 },
      'a user name that differs from the certificate\'s: not authorized')
    t.match(await attempt(t, url, await tlsOptions(pki, await pki.client('device-9', { untrusted: true }))), { code: 5 }, 'an untrusted certificate: not authorized')
    const wild = connected(await attempt(t, url, await tlsOptions(pki, await pki.client('#'))), 'CN #')
    t.equal(await publishOutcome(wild, 'devices/device-8/x'), 'disconnected', 'a CN of "#" does not widen devices/%u/#')
    const after = stats()?.authFailures
    t.equal((after?.anonymous ?? 0) - (before?.anonymous ?? 0), 1, 'the anonymous refusal is counted')
    t.equal((after?.certificate ?? 0) - (before?.certificate ?? 0), 2, 'the certificate refusals are counted')
  })

  await t.test('ws: an anonymous browser-style client publishes at QoS 1', async t => {
    const client = connected(await attempt(t, `ws://127.0.0.1:${port(gw, 2)}/mqtt`, { clientId: 'browser-1' }), 'ws')
    t.equal(await publishOutcome(client, 'public/hello'), 'acked')
    t.match(await attempt(t, `ws://127.0.0.1:${port(gw, 2)}/elsewhere`, {}), { failed: String }, 'another path is refused')
    const res = await fetch(`http://127.0.0.1:${port(gw, 2)}/mqtt`)
    t.equal(res.status, 426, 'a plain HTTP request is told to upgrade')
  })

  await t.test('wss with a client certificate', async t => {
    const client = connected(await attempt(t, `wss://localhost:${port(gw, 3)}/mqtt`, await tlsOptions(pki, await pki.client('device-10'))), 'wss')
    t.equal(await publishOutcome(client, 'devices/device-10/x'), 'acked', 'the certificate user applies over wss too')
    await gw.log.flush()
    const last = (await gw.log.read(1, 1000)).at(-1)
    t.match(last, { topic: 'devices/device-10/x', username: 'device-10' })
  })
})
