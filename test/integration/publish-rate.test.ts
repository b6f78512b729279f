/**
 * Bursts are slowed, never refused: a client that publishes as fast as it can
 * (a device flushing its offline buffer) is never disconnected; with
 * `publishRate` set it is held to that rate by TCP backpressure, and the time
 * it spent held shows in /metrics.
 */
import t from 'tap'
import mqtt from 'mqtt'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { request } from 'undici'
import type { Gateway } from '../../gateway/index.js'
import { securityOf } from '../../gateway/broker.js'
import { parseGatewayConfig } from '../../gateway/config.js'
import { brokerUrl, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { loadPayload, within } from '../helpers/load.js'

const COUNT = 20_000

interface Flood { acked: number, closed: boolean, elapsedMs: number }

/** One MQTT.js client publishing COUNT QoS 1 messages at once, without waiting for any PUBACK. */
async function flood (gw: Gateway): Promise<Flood> {
  const client = await mqtt.connectAsync(brokerUrl(gw), { clientId: 'burster', reconnectPeriod: 0 })
  const result: Flood = { acked: 0, closed: false, elapsedMs: 0 }
  let ending = false
  client.on('close', () => { if (!ending) result.closed = true })
  // (were it closed, its PUBACKs would never come: the caller's deadline says so)
  const start = performance.now()
  await Promise.all(Array.from({ length: COUNT }, async (_, i) => {
    await client.publishAsync('devices/burster/t', loadPayload('burster', i, 200), { qos: 1 })
    result.acked++
  }))
  result.elapsedMs = performance.now() - start
  ending = true
  await client.endAsync()
  return result
}

async function inLog (gw: Gateway): Promise<number> {
  await gw.log.flush()
  let n = 0
  for (let seq = 1; seq <= gw.log.lastSeq; seq += 5000) n += (await gw.log.read(seq, 5000)).filter(r => r.clientId === 'burster').length
  return n
}

async function throttledSeconds (gw: Gateway): Promise<number> {
  const res = await request(`${gw.admin?.url ?? ''}/metrics`)
  const families = parsePrometheusTextFormat(await res.body.text())
  return Number(families.find(f => f.name === 'flowgate_publish_throttled_seconds_total')?.metrics[0]?.value)
}

t.test('default config: 20,000 QoS 1 publishes as fast as the client can, all acknowledged and logged', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t)))
  const run = await within(60_000, `${COUNT} PUBACKs`, flood(gw))
  t.equal(run.acked, COUNT, 'every publish acknowledged')
  t.notOk(run.closed, 'never disconnected')
  t.equal(await inLog(gw), COUNT, 'every one in the log')
  t.same(securityOf(gw.broker)?.stats().limitClosures, { maxPacketSize: 0, maxConnections: 0, maxTopicLength: 0, maxTopicLevels: 0, connectTimeout: 0, 'slow-client': 0 }, 'no limit closed anything')
  t.equal(await throttledSeconds(gw), 0, 'no rate is set, so nobody was slowed down')
  t.comment(`${COUNT} in ${(run.elapsedMs / 1000).toFixed(1)} s (${Math.round(COUNT / run.elapsedMs * 1000)}/s)`)
})

t.test('publishRate 500: the same 20,000 arrive at about 500 a second, none refused', async t => {
  const dir = await tempDir(t)
  const gw = await startGateway(t, parseGatewayConfig(`gateway: { id: rate-gw, dataDir: ${JSON.stringify(dir)}, logLevel: silent }
broker:
  listeners: [{ port: 0 }]
  limits: { publishRate: 500 }
admin: { port: 0 }
`))
  const run = await within(90_000, `${COUNT} PUBACKs`, flood(gw))
  t.equal(run.acked, COUNT, 'every publish acknowledged')
  t.notOk(run.closed, 'never disconnected')
  t.equal(await inLog(gw), COUNT, 'every one in the log')
  const rate = COUNT / run.elapsedMs * 1000
  t.comment(`${COUNT} in ${(run.elapsedMs / 1000).toFixed(1)} s: ${rate.toFixed(0)}/s`)
  // the first second's worth (the burst, 500) goes at once, then 500 a second: 20,000 in 39 s, 513/s
  t.ok(rate > 450 && rate < 530, `about 500 a second (${rate.toFixed(0)}/s)`)
  const held = await throttledSeconds(gw)
  t.ok(held > 30 && held < run.elapsedMs / 1000, `the time it was held shows in /metrics (${held.toFixed(1)} s)`)
  t.equal(securityOf(gw.broker)?.stats().limitClosures['slow-client'], 0, 'not taken for a slow client either')
})
