/**
 * A subscriber that stops reading its socket holds up nobody: publishers keep
 * getting their PUBACKs, the stuck client is disconnected (`slow-client`) and
 * the gateway stays up. A persistent session finds its QoS 1 messages waiting
 * when it comes back. The gateway runs as a child process, as in production,
 * so that a crash shows as an exit and not as a failure of the test runner.
 */
import { join } from 'node:path'
import tap from 'tap'
import mqtt from 'mqtt'
import { request } from 'undici'
import { startChild, writeConfig, type ChildGateway } from '../helpers/child.js'
import { tempDir, type TestContext } from '../helpers/gateway.js'
import { blastPublishes, payloadId, publishMany, quantile, stuckSubscriber, within, type PublishRun } from '../helpers/load.js'
import type { RawClient } from '../helpers/raw-mqtt.js'

const PUBLISHERS = 4
const PER_PUBLISHER = 5000
const SIZE = 1024
/** QoS 1 publishes each publisher keeps in flight (MQTT.js and mosquitto clients default to tens). */
const WINDOW = 8

async function gateway (t: TestContext): Promise<ChildGateway> {
  const dir = await tempDir(t)
  return await startChild(t, await writeConfig(dir, join(dir, 'data')))
}

/** `p`, unless the gateway exits first: then an error with the end of its stderr (a crash's stack trace). */
async function whileUp<T> (gw: ChildGateway, p: Promise<T>): Promise<T> {
  const died = gw.exited.then(({ code, signal }) => { throw new Error(`the gateway exited (${code ?? signal}):\n${gw.stderr.slice(-15).join('\n')}`) })
  return await Promise.race([p, died])
}

async function logLastSeq (gw: ChildGateway): Promise<number> {
  const { url } = await gw.waitForLog(e => e.event === 'admin-listening', true) as { url: string }
  const res = await request(`${url}/api/status`)
  return ((await res.body.json()) as { log: { lastSeq: number } }).log.lastSeq
}

async function publishAll (port: number, count = PER_PUBLISHER, prefix = 'pub'): Promise<PublishRun[]> {
  return await Promise.all(Array.from({ length: PUBLISHERS }, async (_, i) => await publishMany(port, { name: `${prefix}-${i}`, count, window: WINDOW, size: SIZE })))
}

/**
 * A gateway that has been running a moment: the first few hundred publishes of a fresh process
 * meet code that is not compiled yet, and a p99 over 20,000 is the slowest 200.
 */
async function warmUp (port: number): Promise<void> {
  const runs = await publishAll(port, 500, 'warm')
  if (runs.some(r => r.acked !== 500)) throw new Error('warm-up publishes were not acknowledged')
}

/** After the slow-client line: the stuck client reads again, gets what was sent before the close, then the end. */
async function closedByGateway (stuck: RawClient): Promise<void> {
  stuck.socket.resume()
  await within(30_000, 'the stuck client to see its connection closed', stuck.closedPromise())
}

function checkPublishers (t: Pick<typeof tap, 'same' | 'ok' | 'comment'>, runs: PublishRun[]): void {
  for (const r of runs) t.same({ name: r.name, acked: r.acked, stopped: r.stopped }, { name: r.name, acked: PER_PUBLISHER, stopped: undefined }, `${r.name}: every PUBACK arrived`)
  const latencies = runs.flatMap(r => r.latencies)
  const p99 = quantile(latencies, 0.99)
  const elapsed = Math.max(...runs.map(r => r.elapsedMs))
  t.comment(`PUBACK latency p50 ${quantile(latencies, 0.5).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms; ${latencies.length} publishes in ${(elapsed / 1000).toFixed(1)} s`)
  t.ok(p99 < 100, `publishers' PUBACK p99 stays under 100 ms (${p99.toFixed(1)} ms)`)
}

tap.test('behind a subscriber that stops reading, 100 publishers blasting 200 QoS 1 publishes each: all acknowledged, the gateway stays up', async t => {
  const gw = await gateway(t)
  const stuck = await stuckSubscriber(gw.port, 'stuck', { clean: true })
  t.teardown(() => stuck.destroy())
  // each publisher writes all its publishes at once, so the broker has thousands in hand at a time
  const acks = await whileUp(gw, within(90_000, '20,000 PUBACKs', Promise.all(Array.from({ length: 100 }, async (_, i) => await blastPublishes(gw.port, `blast-${i}`, 200, SIZE)))))
  t.equal(acks.reduce((a, b) => a + b, 0), 20_000, 'every publish acknowledged')
  await whileUp(gw, within(30_000, 'a slow-client log line', gw.waitForLog(e => e.event === 'limit' && e.limit === 'slow-client', true)))
  await closedByGateway(stuck)
  t.equal(await logLastSeq(gw), 20_000, 'all in the log')
  t.equal(gw.proc.exitCode, null, 'the gateway is still running')
})

tap.test('a subscriber that stops reading: every PUBACK arrives promptly, the stuck client is disconnected and logged', async t => {
  const gw = await gateway(t)
  await warmUp(gw.port)
  const stuck = await stuckSubscriber(gw.port, 'stuck', { clean: true })
  t.teardown(() => stuck.destroy())
  const runs = await whileUp(gw, within(90_000, `${PUBLISHERS} publishers to be acknowledged`, publishAll(gw.port)))
  checkPublishers(t, runs)
  const line = await whileUp(gw, within(30_000, 'a slow-client log line', gw.waitForLog(e => e.event === 'limit' && e.limit === 'slow-client', true)))
  t.match(line, { clientId: 'stuck', remote: /^127\.0\.0\.1:\d+$/, detail: /maxOutboundBytes|slowClientTimeout/ }, 'logged with the client and the bound it passed')
  await closedByGateway(stuck)
  t.equal(await logLastSeq(gw), PUBLISHERS * (PER_PUBLISHER + 500), 'all in the log (and the warm-up before them)')
  t.equal(gw.proc.exitCode, null, 'the gateway is still running')
})

tap.test('a persistent session that stops reading gets its queued QoS 1 messages when it comes back', async t => {
  const gw = await gateway(t)
  const url = `mqtt://127.0.0.1:${gw.port}`
  await warmUp(gw.port)
  const stuck = await stuckSubscriber(gw.port, 'keeper', { clean: false })
  t.teardown(() => stuck.destroy())
  const runs = await whileUp(gw, within(90_000, `${PUBLISHERS} publishers to be acknowledged`, publishAll(gw.port)))
  checkPublishers(t, runs)
  await whileUp(gw, within(30_000, 'a slow-client log line', gw.waitForLog(e => e.event === 'limit' && e.limit === 'slow-client' && e.clientId === 'keeper', true)))
  await closedByGateway(stuck)

  // back, reading this time: every message published while it was stuck arrives (some twice: those
  // written to the old connection but never acknowledged are sent again, as MQTT requires)
  const back = await mqtt.connectAsync(url, { clientId: 'keeper', clean: false, reconnectPeriod: 0 })
  t.teardown(async () => await back.endAsync(true))
  const seen = new Set<string>()
  const all = new Promise<void>(resolve => back.on('message', (_topic, payload) => {
    seen.add(payloadId(payload))
    if (seen.size === PUBLISHERS * PER_PUBLISHER) resolve()
  }))
  await whileUp(gw, within(90_000, `all ${PUBLISHERS * PER_PUBLISHER} queued messages to arrive (${seen.size} so far)`, all))
  t.equal(seen.size, PUBLISHERS * PER_PUBLISHER, 'every queued QoS 1 message arrived')
  t.equal(gw.proc.exitCode, null, 'the gateway is still running')
})
