/**
 * Failures that belong to the bridge hold the bridge, never the events: a wrong
 * token (401) is retried with backoff until a reload corrects it, and nothing is
 * dead-lettered. Failures that belong to events (400, 413 alone) dead-letter just
 * those events; a 413 for a batch splits it until it fits.
 */
import { readFile } from 'node:fs/promises'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import type { CloudEvent } from '../../bridges/cloudevents/index.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig, within } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, untilCursor } from '../helpers/receiver-control.js'
import { LogCapture, makePki } from '../helpers/security.js'

const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i)

t.test('a wrong token holds the bridge (retrying, unauthorized) until a reload corrects it: 0 dead letters, all events in order', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, {
    policy: req => req.headers.authorization === 'Bearer right-token' ? OK : { kind: 'respond', status: 401, body: 'invalid token' }
  })
  const bridge = (token: string): string => `bridges:
  - name: cloud
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch, token: ${token} }
    batch: { maxEvents: 64, lingerMs: 1000 }
`
  const capture = new LogCapture('info')
  const gw = await startGateway(t, testConfig(dir, bridge('wrong-token')), { logger: capture.logger })
  const client = await connect(t, brokerUrl(gw))
  await Promise.all(range(1, 64).map(async i => await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })))
  await receiver.until(() => receiver.requests.length > 0)

  // 30 s of a wrong token while devices keep publishing; the status is sampled every second
  const samples: Array<{ state: string, reason: string | undefined, nextAttemptAt: string | undefined }> = []
  const started = Date.now()
  let published = 64
  while (Date.now() - started < 30_000) {
    await sleep(1000) // the scenario's pace, not a synchronisation
    const [report] = await gw.bridges.report()
    samples.push({ state: report?.state ?? '', reason: report?.reason, nextAttemptAt: report?.nextAttemptAt })
    await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i: ++published }), { qos: 1 })
  }
  const refused = receiver.requests.length
  t.ok(samples.every(s => s.state === 'retrying' && s.reason === 'unauthorized'), `status said retrying/unauthorized throughout (${JSON.stringify(samples.slice(-1))})`)
  t.ok(samples.every(s => s.nextAttemptAt !== undefined && Date.parse(s.nextAttemptAt) > started), 'and when the next attempt is')
  const firstIds = receiver.requests[0]?.events.map(e => e.id)
  t.equal(firstIds?.length, 64, 'the first request carried the 64-event batch')
  t.ok(receiver.requests.every(r => JSON.stringify(r.events.map(e => e.id)) === JSON.stringify(firstIds)), 'every attempt was that same request: the batch was never split')
  t.ok(refused <= 30, `retried with backoff, not once per event (${refused} requests in 30 s)`)
  t.equal(receiver.arrivals.length, 0, 'nothing was accepted')
  t.equal(await gw.bridges.deadLetters.count('cloud'), 0, 'nothing was dead-lettered')
  const metrics = await (await fetch(`${gw.admin?.url ?? ''}/metrics`)).text()
  t.match(metrics, /^flowgate_bridge_retrying\{bridge="cloud",reason="unauthorized"\} 1$/m, '/metrics shows the bridge held, and why')
  const held = capture.events('bridge-retrying')
  t.equal(held.length, 1, 'one log line for the whole hold')
  t.match(held[0], { bridge: 'cloud', reason: 'unauthorized', status: 401 })

  // the operator corrects the token: the bridge tries again at once and delivers everything, in order
  const reloadedAt = Date.now()
  const result = await gw.reload(testConfig(dir, bridge('right-token')).config)
  t.same(result.changed, ['cloud'])
  await within(5000, 'first delivery after the reload', receiver.until(() => receiver.arrivals.length > 0))
  t.ok(Date.now() - reloadedAt < 5000, `delivered ${Date.now() - reloadedAt} ms after the reload`)
  await within(10_000, 'every event delivered', receiver.untilDistinct(published))
  t.same(receiver.firstArrivals().map(seqOf), range(1, published), 'every event, in order')
  t.equal(await gw.bridges.deadLetters.count('cloud'), 0, 'still no dead letter')
  const [report] = await gw.bridges.report()
  t.equal(report?.state, 'running')
  t.equal(report?.reason, undefined)
  t.equal(capture.events('bridge-recovered').length, 1, 'one log line when it delivers again')
  t.notMatch(await (await fetch(`${gw.admin?.url ?? ''}/metrics`)).text(), /^flowgate_bridge_retrying\{/m, 'and /metrics no longer shows it held')
})

t.test('a receiver that answers 413 to batches over 10 events gets everything; nothing is dead-lettered', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, {
    policy: req => req.events.length > 10 ? { kind: 'respond', status: 413, body: 'payload too large' } : OK
  })
  const capture = new LogCapture('info')
  const gw = await startGateway(t, testConfig(dir, `bridges:
  - name: small
    topics: ["devices/#"]
    start: earliest
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch }
    batch: { maxEvents: 500, lingerMs: 20 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`), { logger: capture.logger })
  const client = await connect(t, brokerUrl(gw))
  const TOTAL = 1000
  await Promise.all(range(1, TOTAL).map(async i => await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })))
  await untilCursor(gw, 'small', TOTAL)

  t.same(receiver.firstArrivals().map(seqOf), range(1, TOTAL), 'every event, in order')
  t.equal(receiver.arrivals.length, TOTAL, 'each once')
  t.equal(await gw.bridges.deadLetters.count('small'), 0, 'nothing dead-lettered')
  const tooLarge = receiver.requests.filter(r => r.action.kind === 'respond' && r.action.status === 413).length
  t.ok(tooLarge < 20, `the bridge learnt the size that fits instead of halving every batch (${tooLarge} requests answered 413 of ${receiver.requests.length})`)
  t.ok(capture.events('bridge-batch-limit').length >= 1, 'and logged the smaller batch size')
})

t.test('an event too large on its own is dead-lettered with reason too-large; one event a 400 rejects is dead-lettered alone', async t => {
  const dir = await tempDir(t)
  const isBig = (e: CloudEvent): boolean => typeof (e.data as { big?: string } | undefined)?.big === 'string'
  const isBad = (e: CloudEvent): boolean => (e.data as { bad?: boolean } | undefined)?.bad === true
  const receiver = await ControlledReceiver.start(t, {
    policy: req => req.events.some(isBig)
      ? { kind: 'respond', status: 413 }
      : req.events.some(isBad) ? { kind: 'respond', status: 400, body: 'field bad is not allowed' } : OK
  })
  const gw = await startGateway(t, testConfig(dir, `bridges:
  - name: mixed
    topics: ["devices/#"]
    start: earliest
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch }
    batch: { maxEvents: 100, lingerMs: 20 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`))
  const client = await connect(t, brokerUrl(gw))
  const BIG = 7
  const BAD = 15
  for (let i = 1; i <= 30; i++) {
    const data = i === BIG ? { i, big: 'x'.repeat(10_000) } : i === BAD ? { i, bad: true } : { i }
    await client.publishAsync('devices/th-1/telemetry', JSON.stringify(data), { qos: 1 })
  }
  await untilCursor(gw, 'mixed', 30)

  t.same(receiver.firstArrivals().map(seqOf), range(1, 30).filter(s => s !== BIG && s !== BAD), 'every other event, in order')
  const letters = await gw.bridges.deadLetters.list('mixed')
  t.same(letters.map(l => [l.seq, l.status, (l as { reason?: string }).reason]), [[BIG, 413, 'too-large'], [BAD, 400, 'rejected']], 'exactly those two events are dead letters, each with its reason')
})

t.test('retry.deadLetterStatuses: a status left out holds the bridge on the event instead of dead-lettering it', async t => {
  const dir = await tempDir(t)
  let accept = false
  const receiver = await ControlledReceiver.start(t, {
    policy: req => !accept && req.events.some(e => (e.data as { bad?: boolean }).bad === true) ? { kind: 'respond', status: 422 } : OK
  })
  const gw = await startGateway(t, testConfig(dir, `bridges:
  - name: strict
    topics: ["devices/#"]
    start: earliest
    sink: { url: ${JSON.stringify(receiver.url('/events'))}, mode: batch }
    batch: { maxEvents: 100, lingerMs: 20 }
    retry: { initialDelay: 10ms, maxDelay: 50ms, deadLetterStatuses: [400] }
`))
  const client = await connect(t, brokerUrl(gw))
  for (let i = 1; i <= 10; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify(i === 6 ? { i, bad: true } : { i }), { qos: 1 })
  await untilCursor(gw, 'strict', 5)
  await receiver.until(() => receiver.requests.filter(r => r.events.length === 1 && r.action.kind === 'respond' && r.action.status === 422).length >= 3)
  const [report] = await gw.bridges.report()
  t.match(report, { state: 'retrying', reason: 'rejected', cursor: 5 }, 'the bridge holds on the rejected event, after delivering the ones before it')
  t.equal(await gw.bridges.deadLetters.count('strict'), 0, 'nothing dead-lettered')
  accept = true
  await untilCursor(gw, 'strict', 10)
  t.same(receiver.firstArrivals().map(seqOf), range(1, 10), 'once the upstream takes it, everything arrives in order')
})

t.test('an upstream certificate the bridge cannot verify holds it (tls) until a reload gives it the CA', async t => {
  const dir = await tempDir(t)
  const pki = await makePki(join(dir, 'pki'))
  const received: string[] = []
  const server = createHttpsServer({ cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) }, (req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      received.push(Buffer.concat(chunks).toString())
      res.writeHead(204).end()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() }))
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/events`
  const bridge = (tls: string): string => `bridges:
  - name: secure
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(url)}, mode: binary${tls} }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`
  const capture = new LogCapture('info')
  const gw = await startGateway(t, testConfig(join(dir, 'data'), bridge('')), { logger: capture.logger })
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/th-1/telemetry', '{"i":1}', { qos: 1 })
  await capture.waitFor(e => e.event === 'bridge-retrying')
  const [held] = await gw.bridges.report()
  t.match(held, { state: 'retrying', reason: 'tls' }, `a certificate it cannot verify holds the bridge (${held?.lastError ?? ''})`)
  t.equal(await gw.bridges.deadLetters.count('secure'), 0)

  await gw.reload(testConfig(join(dir, 'data'), bridge(`, tls: { ca: ${JSON.stringify(pki.ca)} }`)).config)
  await within(5000, 'delivery once the CA is configured', untilCursor(gw, 'secure', 1))
  t.equal(received.length, 1, 'the event arrived')
  t.equal((await gw.bridges.report())[0]?.state, 'running')
})
