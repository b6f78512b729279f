// The Subscriptions API end to end: real gateway, real MQTT client, real HTTP receivers,
// LevelDB in a temp dir, and the flowgate command in a child process for approval.
import t from 'tap'
import { brokerUrl, connect, eventually, startGateway, tempDir } from '../helpers/gateway.js'
import { runCli } from '../helpers/child.js'
import { startOpsReceiver } from '../helpers/ops-receiver.js'
import { admin as adminApi, ALICE, BOB, call, subscriptionsConfig } from '../helpers/subscriptions.js'

t.test('a consumer subscribes with filters and receives exactly the matching events; the producer\'s policy holds', async t => {
  const cloud = await startOpsReceiver(t)
  const sink = await startOpsReceiver(t)
  const dataDir = await tempDir(t)
  const gw = await startGateway(t, await subscriptionsConfig(dataDir, cloud.url))

  t.equal((await call(gw, 'GET', '/subscriptions', undefined)).status, 401, 'no token: 401')
  t.equal((await call(gw, 'GET', '/subscriptions', 'wrong-token')).json.error.code, 'FG_ERR_SUBSCRIPTION_UNAUTHORIZED', 'a wrong token: 401 with the error shape')
  const opts = await call(gw, 'OPTIONS', '/subscriptions', ALICE)
  t.equal(opts.headers.allow, 'GET, POST, OPTIONS', 'OPTIONS answers Allow')

  const outside = await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: 'https://elsewhere.example.com/events' })
  t.equal(outside.status, 403, 'a sink outside the policy: 403')
  t.match(outside.json.error, { code: 'FG_ERR_SUBSCRIPTION_FORBIDDEN', message: /outside the sinks allowed/ })
  const badType = await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: sink.url, types: ['org.other.thing'] })
  t.match(badType, { status: 403, json: { error: { message: /not allowed to consumer alice/ } } }, 'a type outside the policy: 403')
  t.match(await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'MQTT3', sink: sink.url }), { status: 400, json: { error: { code: 'FG_ERR_SUBSCRIPTION_INVALID', message: /over HTTP only/ } } }, 'another protocol: 400 with the reason')
  t.match(await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: sink.url, filters: [{ sql: 'subject LIKE' }] }), { status: 400, json: { error: { message: /invalid CESQL expression/ } } }, 'invalid CESQL: 400 with the reason')
  t.match(await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: sink.url, filters: [{ regex: { subject: 'x' } }] }), { status: 400, json: { error: { message: /regex/ } } }, 'an unsupported dialect: 400')

  // the consumer tries to reach devices/internal through its own filter; the pinned filter holds
  const created = await call(gw, 'POST', '/subscriptions', ALICE, {
    protocol: 'HTTP',
    sink: sink.url,
    types: ['com.example.telemetry'],
    filters: [{ any: [{ prefix: { subject: 'devices/th-' } }, { prefix: { subject: 'devices/internal/' } }] }],
    sinkcredential: { credentialtype: 'ACCESSTOKEN', accesstoken: 'sink-secret' }
  })
  t.equal(created.status, 201, 'within the policy with approval auto: 201')
  const id = created.json.id as string
  t.equal(created.headers.location, `${gw.subscriptionsApi?.url ?? ''}/subscriptions/${id}`, 'Location names the subscription')
  t.same(created.json.sinkcredential, { credentialtype: 'ACCESSTOKEN' }, 'sinkcredential is write-only: its secret is never returned')
  t.notOk(JSON.stringify((await call(gw, 'GET', `/subscriptions/${id}`, ALICE)).json).includes('sink-secret'), 'GET does not return the secret either')
  t.equal((await call(gw, 'GET', `/subscriptions/${id}`, BOB)).status, 404, 'another consumer cannot see it')

  const client = await connect(t, brokerUrl(gw), { clientId: 'dev' })
  for (const topic of ['devices/th-1/telemetry', 'devices/th-1/status', 'devices/xx-1/telemetry', 'devices/internal/telemetry', 'devices/th-2/telemetry']) {
    await client.publishAsync(topic, JSON.stringify({ topic }), { qos: 1 })
  }
  await eventually('the cloud bridge to deliver all five', () => cloud.events.length === 5)
  await eventually('the subscription to settle past the last record', () => gw.bridges.get(`sub-${id}`)?.status().cursor === 5, { seen: () => gw.bridges.get(`sub-${id}`)?.status() })
  t.same(sink.events.map(e => e.subject), ['devices/th-1/telemetry', 'devices/th-2/telemetry'], 'exactly the matching events: type, the consumer\'s filter and the pinned filter')
  t.match(sink.events[0], { type: 'com.example.telemetry', source: '/sites/kitchen/th-1', extensions: { deviceid: 'th-1', sequence: '0000000000000001' } }, 'mapped like the configured bridge')

  // the registry lists the types the gateway produces
  const reg = await call(gw, 'GET', '/registry?inline=*', ALICE)
  t.equal(reg.status, 200)
  t.match(reg.json, { specversion: '1.0-rc4', registryid: 'test-gw', xid: '/', messagegroupscount: 1, endpointscount: 1 })
  const messages = reg.json.messagegroups.cloud.messages as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  t.match(messages['com.example._kind_'], { envelope: 'CloudEvents/1.0', envelopemetadata: { type: { value: 'com.example.{kind}' }, source: { type: 'uritemplate', value: '/sites/kitchen/{deviceid}' }, deviceid: { required: true } } })
  t.match(JSON.parse(messages['com.example._kind_'].labels.example as string), { specversion: '1.0', type: /^com\.example\./ }, 'an example event from the log')
  t.match(reg.json.endpoints.subscriptions, { usage: ['subscriber'], protocol: 'HTTP', protocoloptions: { endpoints: [{ uri: `${gw.subscriptionsApi?.url ?? ''}/subscriptions` }] } })
  const root = await call(gw, 'GET', '/registry', ALICE)
  t.equal(root.json.messagegroups, undefined, 'without ?inline the collections are not inlined [xRegistry HTTP]')
  t.equal(root.json.messagegroupsurl, `${gw.subscriptionsApi?.url ?? ''}/registry/messagegroups`)
  t.equal((await call(gw, 'GET', '/registry/messagegroups/cloud/messages/com.example._kind_', ALICE)).json.messageid, 'com.example._kind_', 'entities are served at their self URL')
  const types = await call(gw, 'GET', '/registry?inline=messagegroups.messages', ALICE)
  t.same(Object.keys(types.json.messagegroups.cloud.messages), Object.keys(messages), '?inline=messagegroups.messages: the message definitions')
  t.equal(types.json.endpoints, undefined, 'and only what was named')
  // every address the registry gives answers, with the registry's root in a Link header
  const urls = new Set<string>()
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return
    for (const [k, v] of Object.entries(node)) {
      if ((k === 'self' || k.endsWith('url')) && typeof v === 'string' && v.includes('/registry')) urls.add(v)
      walk(v)
    }
  }
  walk(reg.json)
  for (const url of urls) {
    const answer = await call(gw, 'GET', url.slice((gw.subscriptionsApi?.url ?? '').length), ALICE)
    t.equal(answer.status, 200, `${url} answers`)
    t.equal(answer.headers.link, `<${gw.subscriptionsApi?.url ?? ''}/registry>;rel=xregistry-root`)
  }
  t.match(await call(gw, 'GET', '/registry?inline=subscriptions', ALICE), { status: 400, json: { type: /#inline_noninlineable$/, error: { code: 'FG_ERR_SUBSCRIPTION_INVALID' } } }, 'an ?inline the model lacks: 400, as problem details')
  t.equal((await call(gw, 'PUT', '/registry', ALICE, {})).status, 405, 'the registry is read-only')

  // bob: manual approval
  const pending = await call(gw, 'POST', '/subscriptions', BOB, { protocol: 'HTTP', sink: sink.url })
  t.equal(pending.status, 202, 'approval manual: 202 while pending')
  t.equal((await call(gw, 'GET', `/subscriptions/${pending.json.id as string}`, BOB)).json.state, 'pending', 'the consumer sees pending')
  t.equal((await call(gw, 'POST', '/subscriptions', BOB, { protocol: 'HTTP', sink: sink.url })).status, 403, 'beyond maxSubscriptions: 403')
  // the admin routes check their input like every other admin route
  t.match(await adminApi(gw, 'GET', '/api/subscriptions?state=sleeping'), { status: 400, json: { error: { code: 'FG_ERR_ADMIN_BAD_REQUEST' } } }, 'an unknown state: 400')
  t.match(await adminApi(gw, 'POST', `/api/subscriptions/${pending.json.id as string}/reject`, { reason: 'x'.repeat(1001) }), { status: 400, json: { error: { code: 'FG_ERR_ADMIN_BAD_REQUEST' } } }, 'a reason beyond 1000 characters: 400')
  t.match(await adminApi(gw, 'POST', '/api/subscriptions/none/approve', {}), { status: 404, json: { error: { code: 'FG_ERR_ADMIN_NOT_FOUND' } } }, 'an unknown id: 404')
  t.match((await adminApi(gw, 'GET', `/api/subscriptions?state=pending&consumer=bob`)).json.subscriptions, [{ id: pending.json.id, consumer: 'bob', state: 'pending' }], 'listed by consumer and state')
  const admin = ['--admin', gw.admin?.url ?? '']
  const listed = await runCli(['subscriptions', 'list', '--json', ...admin])
  t.equal(listed.code, 0)
  t.match(listed.stdout, new RegExp(`"id":"${pending.json.id as string}".*"state":"pending"`), 'flowgate subscriptions list shows it pending')
  const approved = await runCli(['subscriptions', 'approve', pending.json.id as string, ...admin])
  t.equal(approved.code, 0, approved.stderr)
  t.equal((await call(gw, 'GET', `/subscriptions/${pending.json.id as string}`, BOB)).json.state, 'active', 'after flowgate subscriptions approve it is active')
  await client.publishAsync('devices/th-3/telemetry', '{"n":3}', { qos: 1 })
  await eventually('bob\'s subscription to deliver from the end of the log', () => sink.events.some(e => e.subject === 'devices/th-3/telemetry' && !Object.hasOwn(e.extensions, 'x')) && sink.events.length === 4)
  t.equal(sink.events.filter(e => e.subject === 'devices/th-3/telemetry').length, 2, 'both subscriptions delivered the new event; bob\'s started at the end of the log')

  // deleting removes the bridge, its cursor and its dead letters
  const del = await runCli(['subscriptions', 'delete', pending.json.id as string, ...admin])
  t.equal(del.code, 0, del.stderr)
  t.equal((await call(gw, 'GET', `/subscriptions/${pending.json.id as string}`, BOB)).status, 404, 'gone')
  t.notOk(gw.bridges.has(`sub-${pending.json.id as string}`), 'its bridge is gone')
  t.equal(await gw.bridges.cursors.get(`sub-${pending.json.id as string}`), undefined, 'its cursor is gone')
})

t.test('subscriptions and their cursors survive a restart; a failing sink is suspended, not deleted', async t => {
  const cloud = await startOpsReceiver(t)
  const sink = await startOpsReceiver(t)
  const dataDir = await tempDir(t)
  const loaded = await subscriptionsConfig(dataDir, cloud.url)
  let gw = await startGateway(t, loaded)
  const id = (await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: sink.url, config: { mode: 'batch' } })).json.id as string
  let client = await connect(t, brokerUrl(gw))
  for (let i = 1; i <= 3; i++) await client.publishAsync(`devices/th-${i}/telemetry`, `{"i":${i}}`, { qos: 1 })
  await eventually('three events delivered', () => sink.events.length === 3)
  await eventually('the cursor stored', async () => await gw.bridges.cursors.get(`sub-${id}`) === 3)
  await client.endAsync(true)
  await gw.close()

  gw = await startGateway(t, loaded)
  t.match((await call(gw, 'GET', `/subscriptions/${id}`, ALICE)).json, { id, state: 'active', config: { mode: 'batch' } }, 'the subscription is back')
  t.equal(gw.bridges.get(`sub-${id}`)?.status().cursor, 3, 'with its cursor')
  client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/th-4/telemetry', '{"i":4}', { qos: 1 })
  await eventually('the new event delivered', () => sink.events.length === 4)
  t.same(sink.events.map(e => e.subject), ['devices/th-1/telemetry', 'devices/th-2/telemetry', 'devices/th-3/telemetry', 'devices/th-4/telemetry'], 'nothing delivered twice, nothing missed')

  sink.decide = () => 503
  await client.publishAsync('devices/th-5/telemetry', '{"i":5}', { qos: 1 })
  await eventually('the subscription to be suspended after suspendAfter (1s) of failures', async () => (await call(gw, 'GET', `/subscriptions/${id}`, ALICE)).json.state === 'suspended', { timeoutMs: 30_000 })
  const view = (await call(gw, 'GET', `/subscriptions/${id}`, ALICE)).json
  t.match(view, { state: 'suspended', reason: /suspendAfter/ }, 'shows suspended, and why')
  t.equal(gw.bridges.get(`sub-${id}`)?.status().cursor, 4, 'kept with its cursor')
  sink.decide = () => 204
  t.equal((await runCli(['subscriptions', 'approve', id, '--admin', gw.admin?.url ?? ''])).code, 0, 'the operator resumes it')
  await eventually('the held event delivered after resuming', () => sink.events.length === 5)
})

t.test('a step of the system clock does not suspend a subscription whose sink has just started failing', async t => {
  const cloud = await startOpsReceiver(t)
  const sink = await startOpsReceiver(t)
  const DAY = 86_400_000
  let offset = 0
  // suspendAfter is 1s; a Pi sets its clock when its uplink returns, while sinks may still fail
  const gw = await startGateway(t, await subscriptionsConfig(await tempDir(t), cloud.url), { now: () => Date.now() + offset, elapsed: () => performance.now() })
  const id = (await call(gw, 'POST', '/subscriptions', ALICE, { protocol: 'HTTP', sink: sink.url })).json.id as string
  sink.decide = () => 503
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/th-1/telemetry', '{"i":1}', { qos: 1 })
  await eventually('the subscription\'s sink to fail', () => gw.bridges.get(`sub-${id}`)?.status().state === 'retrying')
  const failing = performance.now()
  // the scenario: the sink has failed for half of suspendAfter when the clock is set
  await new Promise(resolve => setTimeout(resolve, 500))
  offset = 30 * DAY
  await eventually('the subscription to be suspended', async () => (await call(gw, 'GET', `/subscriptions/${id}`, ALICE)).json.state === 'suspended', { timeoutMs: 30_000 })
  const after = performance.now() - failing
  t.ok(after >= 850, `suspended once the sink had failed for suspendAfter (1 s), not at the step (0.5 s): ${Math.round(after)} ms after the failure`)
})
