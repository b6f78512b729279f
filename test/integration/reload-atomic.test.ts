/**
 * A reload is all or nothing: when any step fails, the previous configuration keeps
 * running, each bridge exactly once, and the same reload can be applied later.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import type { MqttClient } from 'mqtt'
import t, { type Test } from 'tap'
import type { Gateway } from '../../gateway/index.js'
import { failingStores } from '../helpers/failing-stores.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig, within } from '../helpers/gateway.js'
import { ControlledReceiver, seqOf } from '../helpers/receiver-control.js'

interface Spec { name: string, url: string, extra?: string }

function bridges (specs: Spec[]): string {
  return 'bridges:\n' + specs.map(b => `  - name: ${b.name}
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(b.url)}, mode: batch${b.extra ?? ''} }
    batch: { lingerMs: 0 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`).join('')
}

/** Publishes `n` events and returns their sequence numbers. */
async function publish (gw: Gateway, client: MqttClient, n: number): Promise<number[]> {
  const first = gw.log.lastSeq + 1
  for (let i = 0; i < n; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })
  return Array.from({ length: n }, (_, i) => first + i)
}

/** Every one of `seqs` arrived at `receiver` exactly once: one run of the bridge, not two. */
async function exactlyOnce (t: Test, receiver: ControlledReceiver, seqs: number[], what: string): Promise<void> {
  await within(10_000, `${what}: every event`, receiver.until(() => seqs.every(s => receiver.arrivals.some(a => seqOf(a.event) === s))))
  const counts = seqs.map(s => receiver.arrivals.filter(a => seqOf(a.event) === s).length)
  t.ok(counts.every(c => c === 1), `${what}: each event arrived once (${JSON.stringify(counts)})`)
}

t.test('a reload whose new bridge cannot be prepared changes nothing; applied later, every bridge runs once', async t => {
  const dir = await tempDir(t)
  const a = await ControlledReceiver.start(t)
  const b = await ControlledReceiver.start(t)
  const c = await ControlledReceiver.start(t)
  const notAFile = join(dir, 'ca-is-a-directory')
  await mkdir(notAFile)
  const gw = await startGateway(t, testConfig(join(dir, 'data'), bridges([{ name: 'a', url: a.url() }])))
  const client = await connect(t, brokerUrl(gw))

  // b is fine, c's CA cannot be read: the whole reload is refused
  const broken = testConfig(join(dir, 'data'), bridges([{ name: 'a', url: a.url() }, { name: 'b', url: b.url() }, { name: 'c', url: c.url(), extra: `, tls: { ca: ${JSON.stringify(notAFile)} }` }]))
  await t.rejects(gw.reload(broken.config), { code: 'EISDIR' }, 'the reload fails')
  t.same(gw.bridges.names(), ['a'], 'b was not added: the previous set runs')
  await exactlyOnce(t, a, await publish(gw, client, 10), 'bridge a')
  t.equal(b.requests.length, 0, 'nothing went to b')

  // the same change with c corrected: applied, and b runs once
  const fixed = testConfig(join(dir, 'data'), bridges([{ name: 'a', url: a.url() }, { name: 'b', url: b.url() }, { name: 'c', url: c.url() }]))
  const result = await gw.reload(fixed.config)
  t.same(result.added, ['b', 'c'])
  const seqs = await publish(gw, client, 20)
  await exactlyOnce(t, a, seqs, 'bridge a')
  await exactlyOnce(t, b, seqs, 'bridge b')
  await exactlyOnce(t, c, seqs, 'bridge c')
})

t.test('a failure after the first bridge has changed: the previous set runs again, each bridge once', async t => {
  const dir = await tempDir(t)
  const [a1, b1, a2, b2, c] = await Promise.all([0, 1, 2, 3, 4].map(async () => await ControlledReceiver.start(t)))
  if (a1 === undefined || b1 === undefined || a2 === undefined || b2 === undefined || c === undefined) throw new Error('receivers')
  const stores = failingStores()
  const gw = await startGateway(t, testConfig(join(dir, 'data'), bridges([{ name: 'a', url: a1.url() }, { name: 'b', url: b1.url() }])), { bridgeStores: stores.bridgeStores })
  const client = await connect(t, brokerUrl(gw))
  await exactlyOnce(t, a1, await publish(gw, client, 5), 'a before')

  // a moves to a2 (done), then b cannot read its cursor when it restarts: the store fails mid-reload
  const next = testConfig(join(dir, 'data'), bridges([{ name: 'a', url: a2.url() }, { name: 'b', url: b2.url() }, { name: 'c', url: c.url() }]))
  stores.cursors().reads.only = 'b'
  stores.cursors().reads.failNext = 1
  await t.rejects(gw.reload(next.config), { code: 'ENOSPC' }, 'the reload fails')
  t.equal(stores.cursors().reads.injected, 1, 'after bridge a had changed')
  t.same(gw.bridges.names().sort(), ['a', 'b'], 'c was not added')
  t.same(gw.bridges.status().map(s => s.state), ['running', 'running'], 'a and b run')
  t.equal(gw.bridges.config('a')?.sink.url, a1.url(), 'a is back on its previous config')
  const seqs = await publish(gw, client, 10)
  await exactlyOnce(t, a1, seqs, 'bridge a on its previous upstream')
  await exactlyOnce(t, b1, seqs, 'bridge b on its previous upstream')
  t.equal(a2.arrivals.filter(e => seqs.includes(seqOf(e.event))).length, 0, 'nothing of it went to the new upstream of a')

  // applied again without the failure: the new set, each bridge once
  stores.cursors().reads.only = undefined
  const result = await gw.reload(next.config)
  t.same([result.changed, result.added], [['a', 'b'], ['c']])
  const after = await publish(gw, client, 10)
  await exactlyOnce(t, a2, after, 'bridge a on its new upstream')
  await exactlyOnce(t, b2, after, 'bridge b on its new upstream')
  await exactlyOnce(t, c, after, 'bridge c')
  t.equal(a1.arrivals.filter(e => after.includes(seqOf(e.event))).length, 0, 'the old upstream of a gets nothing more')
})
