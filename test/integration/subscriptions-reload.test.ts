/**
 * Subscriptions are not in the config file: a reload leaves their bridges delivering, each
 * event once, even with a request in flight; they follow a changed mapping with their cursor;
 * a change to the Subscriptions API's listener is reported as needing a restart.
 */
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import t, { type Test } from 'tap'
import type { Gateway } from '../../gateway/index.js'
import { brokerUrl, connect, startGateway, tempDir, within } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, type Action } from '../helpers/receiver-control.js'
import { LogCapture } from '../helpers/security.js'
import { ALICE, call, subscriptionsConfig } from '../helpers/subscriptions.js'

async function publish (gw: Gateway, client: MqttClient, n: number): Promise<number[]> {
  const first = gw.log.lastSeq + 1
  for (let i = 0; i < n; i++) await client.publishAsync(`devices/th-${i}/telemetry`, JSON.stringify({ i }), { qos: 1 })
  return Array.from({ length: n }, (_, i) => first + i)
}

/** Every one of `seqs` arrived exactly once, in order. */
async function exactlyOnce (t: Test, receiver: ControlledReceiver, seqs: number[], what: string): Promise<void> {
  await within(30_000, `${what}: every event`, receiver.until(() => seqs.every(s => receiver.arrivals.some(a => seqOf(a.event) === s))))
  const got = receiver.arrivals.map(a => seqOf(a.event)).filter(s => seqs.includes(s))
  t.same(got, seqs, `${what}: each event once, in order`)
}

t.test('a reload while a subscription delivers: it keeps delivering, each event once; a changed mapping is followed with the cursor', async t => {
  const dir = await tempDir(t)
  const cloud = await ControlledReceiver.start(t)
  const cloud2 = await ControlledReceiver.start(t)
  const sink = await ControlledReceiver.start(t)
  const logs = new LogCapture('info')
  const data = join(dir, 'data')
  const gw = await startGateway(t, await subscriptionsConfig(data, cloud.url()), { logger: logs.logger })
  const created = await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: sink.url('/sub'), types: ['com.example.telemetry'] })
  t.equal(created.status, 201)
  const bridge = `sub-${created.json.id as string}`
  const client = await connect(t, brokerUrl(gw))
  const before = await publish(gw, client, 5)
  await exactlyOnce(t, sink, before, 'before the reload')

  // the next request is held by the receiver while the gateway reloads
  let release: (action: Action) => void = () => {}
  let heldSeen: () => void = () => {}
  const held = new Promise<void>(resolve => { heldSeen = resolve })
  sink.policy = async () => {
    sink.policy = () => OK
    heldSeen()
    return await new Promise<Action>(resolve => { release = resolve })
  }
  const during = await publish(gw, client, 1)
  await within(10_000, 'the request in flight', held)

  // the configured bridge moves and a bridge is added: nothing of the subscription's bridge
  const next = await subscriptionsConfig(data, cloud2.url(), { bridges: `  - name: extra\n    topics: ["other/#"]\n    sink: { url: ${JSON.stringify(cloud2.url('/extra'))} }` })
  const reloaded = await gw.reload(next.config)
  t.match(reloaded, { changed: ['cloud'], added: ['extra'], removed: [] }, 'the configured bridges changed; the subscription\'s bridge is none of them')
  t.equal(sink.requests.length, 5, 'the reload is done while the subscription\'s request is still held')
  release(OK)
  const after = await publish(gw, client, 5)
  await exactlyOnce(t, sink, [...before, ...during, ...after], 'across the reload')
  t.equal(gw.bridges.get(bridge)?.status().state, 'running', 'the subscription\'s bridge runs')
  t.equal((await call(gw, 'GET', `/subscriptions/${created.json.id as string}`, ALICE)).json.state, 'active')
  t.equal(logs.events('bridge-start-failed').length + logs.events('subscription-suspended').length, 0, 'no restart failure, no suspension')

  // a new mapping for the stream the subscription draws from: it follows, from its cursor
  const remapped = await subscriptionsConfig(data, cloud2.url(), { event: '{ topicPattern: "devices/{deviceid}/{kind}", type: "com.example.{kind}", source: "/sites/pantry/{deviceid}" }' })
  await gw.reload(remapped.config)
  const last = await publish(gw, client, 2)
  await exactlyOnce(t, sink, [...before, ...during, ...after, ...last], 'across the second reload')
  t.same(sink.arrivals.slice(-2).map(a => a.event.source), ['/sites/pantry/th-0', '/sites/pantry/th-1'], 'new events carry the new mapping')
})

t.test('a reload that changes the Subscriptions API\'s listener is reported as needing a restart', async t => {
  const dir = await tempDir(t)
  const cloud = await ControlledReceiver.start(t)
  const logs = new LogCapture('info')
  const data = join(dir, 'data')
  const gw = await startGateway(t, await subscriptionsConfig(data, cloud.url()), { logger: logs.logger })
  const url = gw.subscriptionsApi?.url

  const moved = await subscriptionsConfig(data, cloud.url(), { listener: '  host: localhost\n  publicUrl: https://gw.example.com:9443' })
  const result = await gw.reload(moved.config)
  t.same(result.needsRestart, ['subscriptions.host', 'subscriptions.publicUrl'], 'host and publicUrl need a restart')
  const warned = await logs.waitFor(e => e.event === 'reload-needs-restart')
  t.match(warned, { keys: ['subscriptions.host', 'subscriptions.publicUrl'], msg: /subscriptions\.host, subscriptions\.publicUrl take effect after a restart/ }, 'one warning names them')
  t.equal(gw.subscriptionsApi?.url, url, 'the listener keeps running where it was')
  t.equal((await call(gw, 'GET', '/subscriptions', ALICE)).status, 200, 'and answers')

  const off = await subscriptionsConfig(data, cloud.url())
  const withoutApi = { ...off.config, subscriptions: undefined }
  t.same((await gw.reload(withoutApi)).needsRestart, ['subscriptions'], 'turning the API off is one key, not one per setting')
})
