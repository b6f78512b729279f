/**
 * A subscription delivers like a configured bridge: from a sequence number its config asks for,
 * in batch mode, with dead letters for the events its sink rejects, paused and resumed, replayed
 * by the operator; deleting it removes its cursor and its dead letters.
 */
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import t from 'tap'
import type { Gateway } from '../../gateway/index.js'
import { runCli } from '../helpers/child.js'
import { brokerUrl, connect, eventually, startGateway, tempDir, within } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, untilCursor } from '../helpers/receiver-control.js'
import { admin, ALICE, call, subscriptionsConfig } from '../helpers/subscriptions.js'

async function publish (gw: Gateway, client: MqttClient, payloads: unknown[]): Promise<number[]> {
  const first = gw.log.lastSeq + 1
  for (const [i, p] of payloads.entries()) await client.publishAsync(`devices/th-${i}/telemetry`, JSON.stringify(p), { qos: 1 })
  return payloads.map((_, i) => first + i)
}

t.test('a subscription in batch mode: start, batches, dead letters, pause and replay; deleting it removes its cursor and dead letters', async t => {
  const dir = await tempDir(t)
  const cloud = await ControlledReceiver.start(t)
  // the consumer's sink rejects events whose data says bad: a batch holding one is split until it is found
  const sink = await ControlledReceiver.start(t, {
    policy: req => req.events.some(e => (e.data as { bad?: boolean } | undefined)?.bad === true) ? { kind: 'respond', status: 422, body: 'bad reading' } : OK
  })
  const gw = await startGateway(t, await subscriptionsConfig(join(dir, 'data'), cloud.url()))
  const client = await connect(t, brokerUrl(gw))
  const early = await publish(gw, client, [{ n: 1 }, { n: 2 }, { n: 3 }])

  // it asks to start at the second of those events
  const created = await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: sink.url('/sub'), config: { mode: 'batch', start: early[1] } })
  t.equal(created.status, 201)
  const id = created.json.id as string
  const bridge = `sub-${id}`
  await within(20_000, 'the events from the start asked for', sink.until(() => sink.arrivals.length === 2))
  t.same(sink.arrivals.map(a => seqOf(a.event)), early.slice(1), 'delivered from config.start, not from the end of the log')

  // paused by the operator, events wait; resumed, the backlog goes out in batches
  t.match((await admin(gw, 'POST', `/api/bridges/${bridge}/pause`)).json, { name: bridge, state: 'paused' }, 'the operator pauses the subscription\'s bridge')
  const backlog = await publish(gw, client, [{ n: 4 }, { n: 5 }, { bad: true }, { n: 7 }, { n: 8 }, { n: 9 }])
  t.equal(sink.requests.length, 1, 'nothing is sent while paused')
  await admin(gw, 'POST', `/api/bridges/${bridge}/resume`)
  await untilCursor(gw, bridge, backlog[backlog.length - 1] as number)
  const good = backlog.filter((_, i) => i !== 2)
  t.same(sink.arrivals.slice(2).map(a => seqOf(a.event)), good, 'every other event delivered once, in order')
  t.ok(sink.requests.every(r => r.mode === 'batch'), 'in batch mode')
  t.ok(sink.requests.some(r => r.events.length > 1), 'the backlog went out as batches')

  const letters = await admin(gw, 'GET', `/api/bridges/${bridge}/dead-letters`)
  t.match(letters.json, { bridge, count: 1, items: [{ seq: backlog[2], status: 422, body: 'bad reading' }] }, 'the rejected event is a dead letter of the subscription')
  const sub = await call(gw, 'GET', `/subscriptions/${id}`, ALICE)
  t.match(sub.json.delivery, { state: 'running', delivered: 7, deadLettered: 1 }, 'the consumer sees its delivery state')
  const metrics = await (await fetch(`${gw.admin?.url ?? ''}/metrics`)).text()
  t.match(metrics, new RegExp(`^flowgate_bridge_delivered_events_total\\{bridge="${bridge}"\\} 7$`, 'm'), '/metrics counts the subscription\'s deliveries')

  // the operator replays it from the first of the backlog: the events go again, with their ids
  const replayed = await runCli(['replay', bridge, '--from', String(backlog[0]), '--admin', gw.admin?.url ?? ''])
  t.equal(replayed.code, 0, replayed.stderr)
  await within(20_000, 'the replayed events', sink.until(() => sink.arrivals.length === 2 + good.length * 2))
  t.same(sink.arrivals.slice(2 + good.length).map(a => seqOf(a.event)), good, 'replayed in order; the rejected one is rejected again')
  t.same(sink.arrivals.slice(2 + good.length).map(a => a.event.id), sink.arrivals.slice(2, 2 + good.length).map(a => a.event.id), 'with the same ids')
  await eventually('the second rejection stored', async () => await gw.bridges.deadLetters.count(bridge) === 1 && gw.bridges.get(bridge)?.status().deadLettered === 2)

  const deleted = await runCli(['subscriptions', 'delete', id, '--admin', gw.admin?.url ?? ''])
  t.equal(deleted.code, 0, deleted.stderr)
  t.equal(await gw.bridges.deadLetters.count(bridge), 0, 'its dead letters are gone')
  t.equal(await gw.bridges.cursors.get(bridge), undefined, 'its cursor is gone')
  t.equal((await admin(gw, 'GET', `/api/bridges/${bridge}/dead-letters`)).status, 404, 'its bridge is gone')
  const sent = sink.requests.length
  await publish(gw, client, [{ n: 10 }])
  await within(20_000, 'the configured bridge to deliver the new event', cloud.until(() => cloud.arrivals.some(a => seqOf(a.event) === gw.log.lastSeq)))
  t.equal(sink.requests.length, sent, 'nothing more goes to the deleted subscription\'s sink')
})
