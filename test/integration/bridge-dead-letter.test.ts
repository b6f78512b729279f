/**
 * Permanent rejections: a 4xx for one event of a batch puts that event (and only
 * it) in the dead-letter store with the response; the rest are delivered in
 * order and the bridge goes on. Redirects are not followed: they are retried.
 */
import t from 'tap'
import type { CloudEvent } from '../../bridges/cloudevents/index.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, untilCursor, type Action } from '../helpers/receiver-control.js'
import { LogCapture } from '../helpers/security.js'
import { DEAD_LETTER_LINES } from '../../bridges/delivery.js'

const RETRY = { initialDelay: '10ms', maxDelay: '200ms' }

const isPoison = (e: CloudEvent): boolean => (e.data as { poison?: boolean } | undefined)?.poison === true

/** Rejects any request that carries a poisoned event, naming it in the body. */
function rejectPoison (status: number): (req: { events: CloudEvent[] }) => Action {
  return req => {
    const bad = req.events.find(isPoison)
    return bad === undefined ? OK : { kind: 'respond', status, headers: { 'content-type': 'application/problem+json' }, body: JSON.stringify({ title: 'invalid event', detail: `event ${bad.id}: field "poison" is not allowed` }) }
  }
}

t.test('a 4xx for one event of a batch dead-letters that event; the others are delivered in order', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, { policy: rejectPoison(400) })
  const gw = await startGateway(t, testConfig(dir))
  const client = await connect(t, brokerUrl(gw), { clientId: 'dlq-client' })
  const POISON = 13
  for (let i = 0; i < 20; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify(i === POISON ? { i, poison: true } : { i }), { qos: 1 })

  // added now, from the start of the log: the twenty events go out as one batch
  const loaded = testConfig(dir, `bridges: [{ name: dlq-batch, start: earliest, sink: { url: ${JSON.stringify(receiver.url('/batch'))}, mode: batch }, batch: { maxEvents: 100, lingerMs: 5 }, retry: ${JSON.stringify(RETRY)} }]\n`)
  await gw.bridges.add(loaded.config.bridges[0] as (typeof loaded.config.bridges)[number])
  await untilCursor(gw, 'dlq-batch', 20)
  for (let i = 20; i < 25; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })
  await untilCursor(gw, 'dlq-batch', 25)

  const first = receiver.requestsOn('/batch')[0]
  t.equal(first?.events.length, 20, 'the first request carried all twenty events')
  t.equal(first?.action.kind === 'respond' ? first.action.status : undefined, 400, 'and was rejected with 400')
  const delivered = receiver.firstArrivals('/batch')
  t.same(delivered.map(seqOf), [...Array(25).keys()].map(i => i + 1).filter(s => s !== POISON + 1), 'every other event was delivered, in order')
  t.equal(receiver.arrivalsOn('/batch').length, delivered.length, 'none twice')
  t.ok(delivered.every(e => !isPoison(e)), 'the poisoned event was never accepted')

  const letters = await gw.bridges.deadLetters.list('dlq-batch')
  t.equal(letters.length, 1, 'one dead letter')
  const letter = letters[0]
  t.equal(letter?.seq, POISON + 1, 'it is the rejected event')
  t.equal(letter?.status, 400, 'with the status of the rejection')
  t.match(letter?.body, /event test-gw-14: field \\"poison\\" is not allowed/, 'and an excerpt of the response body')
  t.match(letter?.event, { id: 'test-gw-14', specversion: '1.0', data: { i: POISON, poison: true }, sequence: '0000000000000014' }, 'the event is stored in the JSON format')
  const status = gw.bridges.get('dlq-batch')?.status()
  t.equal(status?.deadLettered, 1)
  t.equal(status?.delivered, 24)
  t.equal(status?.state, 'running', 'the bridge goes on')
})

t.test('binary mode: a 4xx dead-letters the event and the next events are delivered', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, { policy: rejectPoison(422) })
  const gw = await startGateway(t, testConfig(dir, `bridges: [{ name: dlq-bin, sink: { url: ${JSON.stringify(receiver.url('/bin'))}, mode: binary }, retry: ${JSON.stringify(RETRY)} }]\n`))
  const client = await connect(t, brokerUrl(gw), { clientId: 'dlq-client' })
  const payloads = [{ i: 0 }, { i: 1 }, { i: 2, poison: true }, { i: 3 }, { i: 4, poison: true }, { i: 5 }]
  for (const p of payloads) await client.publishAsync('devices/th-1/telemetry', JSON.stringify(p), { qos: 1 })
  await untilCursor(gw, 'dlq-bin', payloads.length)

  t.same(receiver.firstArrivals('/bin').map(e => (e.data as { i: number }).i), [0, 1, 3, 5], 'the events after each rejected one are delivered, in order')
  const letters = await gw.bridges.deadLetters.list('dlq-bin')
  t.same(letters.map(l => [l.seq, l.status]), [[3, 422], [5, 422]], 'each rejected event is a dead letter with its status')
  t.ok(letters.every(l => /field \\"poison\\" is not allowed/.test(l.body)), 'with the response body')
  t.same(receiver.requestsOn('/bin').filter(r => r.events.some(isPoison)).length, 2, 'a permanent rejection is not retried')
  t.equal(gw.bridges.get('dlq-bin')?.status().deadLettered, 2)
})

t.test('redirects are not followed: the bridge retries the configured URL', async t => {
  const dir = await tempDir(t)
  const REDIRECTS = [301, 302, 307, 308]
  let attempts = 0
  const receiver: ControlledReceiver = await ControlledReceiver.start(t, {
    policy: req => {
      if (req.path === '/target') return OK
      const status = REDIRECTS[attempts++]
      return status === undefined ? OK : { kind: 'respond', status, headers: { location: receiver.url('/target') } }
    }
  })
  const gw = await startGateway(t, testConfig(dir, `bridges: [{ name: moved, sink: { url: ${JSON.stringify(receiver.url('/moved'))}, mode: binary }, retry: ${JSON.stringify(RETRY)} }]\n`))
  const client = await connect(t, brokerUrl(gw), { clientId: 'redirect-client' })
  await client.publishAsync('devices/th-1/telemetry', '{"i":0}', { qos: 1 })
  await untilCursor(gw, 'moved', 1)

  t.equal(receiver.requestsOn('/target').length, 0, 'nothing went to the redirect target')
  t.same(receiver.requestsOn('/moved').map(r => r.action.kind === 'respond' ? r.action.status : r.action.kind), [...REDIRECTS, 204], 'each redirect was retried at the configured URL until it took the event')
  t.equal(receiver.firstArrivals('/moved').length, 1, 'the event was delivered there')
  t.equal((await gw.bridges.deadLetters.list('moved')).length, 0, 'a redirect is not a permanent rejection')
  t.equal(gw.bridges.get('moved')?.status().retries, REDIRECTS.length)
})

t.test('an upstream that rejects every event: the log names the first dead letters one by one and counts the rest in one line', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t, { policy: () => ({ kind: 'respond', status: 400, headers: {}, body: 'no' }) })
  const logs = new LogCapture('info')
  const gw = await startGateway(t, testConfig(dir, `bridges: [{ name: refused, sink: { url: ${JSON.stringify(receiver.url('/x'))}, mode: binary }, retry: ${JSON.stringify(RETRY)} }]\n`), { logger: logs.logger })
  const client = await connect(t, brokerUrl(gw), { clientId: 'dlq-flood' })
  for (let i = 0; i < 50; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })
  await untilCursor(gw, 'refused', 50)
  t.equal(await gw.bridges.deadLetters.count('refused'), 50, 'all fifty are in the dead-letter store')
  const one = logs.entries.filter(e => e.event === 'dead-letter')
  t.equal(one.length, DEAD_LETTER_LINES.burst, `the first ${DEAD_LETTER_LINES.burst} are logged one by one`)
  await gw.bridges.pause('refused')
  const summary = logs.entries.filter(e => e.event === 'dead-letters')
  t.same(summary.map(e => e.count), [50 - DEAD_LETTER_LINES.burst], 'the other forty in one line, when the bridge stops at the latest')
  t.match(summary[0]?.msg, /40 more events rejected by the upstream/)
})
