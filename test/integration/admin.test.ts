import diagnostics from 'node:diagnostics_channel'
import type { IncomingMessage } from 'node:http'
import t from 'tap'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import { request } from 'undici'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { startOpsReceiver } from '../helpers/ops-receiver.js'
import type { Gateway } from '../../gateway/index.js'

async function api (gw: Gateway, method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<{ status: number, json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await request(`${gw.admin?.url ?? ''}${path}`, {
    method,
    headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {})
  })
  const text = await res.body.text()
  return { status: res.statusCode, json: res.headers['content-type']?.toString().includes('json') === true ? JSON.parse(text) : text }
}

/** A request with headers of the caller's choosing (an Origin, a text/plain body). */
async function call (gw: Gateway, path: string, opts: { method?: 'GET' | 'POST', headers?: Record<string, string>, body?: string } = {}): Promise<{ status: number, json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await request(`${gw.admin?.url ?? ''}${path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.body !== undefined ? { body: opts.body } : {}) })
  const text = await res.body.text()
  return { status: res.statusCode, json: String(res.headers['content-type']).includes('json') ? JSON.parse(text) : text }
}

function bridgeYaml (url: string, mode = 'batch'): string {
  return `bridges:
  - name: cloud
    topics: ["devices/#"]
    start: earliest
    sink: { url: ${JSON.stringify(url)}, mode: ${mode} }
    batch: { lingerMs: 0 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`
}

process.env.FG_TEST_ADMIN_TOKEN = 'a-long-enough-admin-token'

const seqOf = (e: { extensions: Record<string, unknown> }): number => Number(e.extensions.sequence)

t.test('status figures match what was published and delivered; metrics parse and move', async t => {
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(await tempDir(t), bridgeYaml(receiver.url)))
  const client = await connect(t, brokerUrl(gw), { clientId: 'dev-1' })
  for (let i = 0; i < 30; i++) await client.publishAsync(`devices/d${i % 3}/t`, JSON.stringify({ i }), { qos: 1 })
  await client.publishAsync('other/topic', 'x', { qos: 1 })
  await receiver.until(e => e.length === 30)

  const { status, json } = await api(gw, 'GET', '/api/status')
  t.equal(status, 200)
  t.equal(json.clients, 1, 'one client connected')
  t.match(json.log, { firstSeq: 1, lastSeq: 31, records: 31 })
  t.match(json.log.drops, { maxAge: 0, maxBytes: 0, rejected: 0 })
  t.equal(typeof json.version, 'string')
  const [b] = json.bridges
  // the last record (other/topic) is filtered out; the cursor settles past it
  await eventually('the cursor to settle past the filtered record (31)', () => gw.bridges.get('cloud')?.status().cursor === 31, { seen: () => gw.bridges.get('cloud')?.status() })
  const after = (await api(gw, 'GET', '/api/status')).json.bridges[0]
  t.match(b, { name: 'cloud', delivered: 30 })
  t.match(after, { name: 'cloud', state: 'running', cursor: 31, lag: 0, oldestUndeliveredAgeSeconds: 0, delivered: 30, filtered: 1, deadLettered: 0, deadLetters: 0 })

  const metrics = await api(gw, 'GET', '/metrics')
  t.equal(metrics.status, 200)
  const families = parsePrometheusTextFormat(metrics.json as string)
  const family = (name: string): Array<{ labels?: Record<string, string>, value?: string }> => families.find(f => f.name === name)?.metrics ?? []
  const value = (name: string, labels: Record<string, string> = {}): number => Number(family(name).find(m => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))?.value)
  t.equal(value('flowgate_ingested_messages_total', { qos: '1' }), 31)
  t.equal(value('flowgate_bridge_delivered_events_total', { bridge: 'cloud' }), 30)
  t.equal(value('flowgate_bridge_filtered_records_total', { bridge: 'cloud' }), 1)
  t.equal(value('flowgate_log_records'), 31)
  t.equal(value('flowgate_connected_clients'), 1)
  t.equal(value('flowgate_bridge_lag_events', { bridge: 'cloud' }), 0)
  t.ok(families.some(f => f.name === 'flowgate_bridge_request_duration_seconds'), 'request latency histogram exists')
  t.ok(families.some(f => f.name === 'flowgate_commit_duration_seconds'), 'commit latency histogram exists')

  for (let i = 0; i < 5; i++) await client.publishAsync('devices/d9/t', '{}', { qos: 1 })
  await receiver.until(e => e.length === 35)
  const again = parsePrometheusTextFormat((await api(gw, 'GET', '/metrics')).json as string)
  const delivered = again.find(f => f.name === 'flowgate_bridge_delivered_events_total')?.metrics[0]
  t.equal(Number(delivered?.value), 35, 'counters move')

  t.same((await api(gw, 'GET', '/healthz')).json, { status: 'ok' })
  t.same((await api(gw, 'GET', '/readyz')).json, { ready: true })
})

t.test('the oldest waiting event\'s age follows retention: once it is removed, the next one\'s counts', async t => {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(await tempDir(t), `storage: { retention: { maxBytes: 64KiB }, whenFull: drop-oldest }
${bridgeYaml(receiver.url)}`), { now: () => now })
  await gw.bridges.pause('cloud')
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a/t', 'first', { qos: 1 })
  now += 60_000
  const age = async (): Promise<unknown> => (await api(gw, 'GET', '/api/status')).json.bridges[0].oldestUndeliveredAgeSeconds
  t.equal(await age(), 60, 'the first event has waited 60 s')

  // enough newer events that retention removes the first
  for (let i = 0; i < 100; i++) await client.publishAsync('devices/a/t', Buffer.alloc(2048, i), { qos: 1 })
  await eventually('the first event removed by retention', () => gw.log.firstSeq > 1, { seen: () => gw.log.stats() })
  now += 10_000
  t.equal(await age(), 10, 'the oldest event still waiting has waited 10 s')
})

t.test('pause stops delivery; resume catches up in order', async t => {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(await tempDir(t), bridgeYaml(receiver.url, 'binary')), { now: () => now })
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a/t', '0', { qos: 1 })
  await receiver.until(e => e.length === 1)

  await eventually('the first event\'s cursor (1) to be stored', () => gw.bridges.get('cloud')?.status().cursor === 1, { seen: () => gw.bridges.get('cloud')?.status() })
  const paused = await api(gw, 'POST', '/api/bridges/cloud/pause')
  t.equal(paused.status, 200)
  t.equal(paused.json.state, 'paused')
  now += 1000
  for (let i = 1; i <= 20; i++) await client.publishAsync('devices/a/t', String(i), { qos: 1 })
  now += 90_000
  const during = (await api(gw, 'GET', '/api/status')).json.bridges[0]
  t.match(during, { state: 'paused', cursor: 1, lag: 20, oldestUndeliveredAgeSeconds: 90 }, 'the oldest waiting event has waited 90 s')
  t.equal(receiver.events.length, 1, 'nothing delivered while paused')

  const resumed = await api(gw, 'POST', '/api/bridges/cloud/resume')
  t.equal(resumed.status, 200)
  await receiver.until(e => e.length >= 21)
  t.same(receiver.events.map(seqOf), [...Array(21).keys()].map(i => i + 1), 'caught up in order')
  await eventually('the cursor to reach the last event (21)', () => gw.bridges.get('cloud')?.status().cursor === 21, { seen: () => gw.bridges.get('cloud')?.status() })
  t.match((await api(gw, 'GET', '/api/status')).json.bridges[0], { state: 'running', lag: 0, oldestUndeliveredAgeSeconds: 0 }, 'nothing waits once caught up')
})

t.test('replay from a time redelivers exactly the events from that time on', async t => {
  let now = Date.parse('2026-01-01T00:00:00Z')
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(await tempDir(t), bridgeYaml(receiver.url)), { now: () => now })
  const client = await connect(t, brokerUrl(gw))
  for (let i = 0; i < 10; i++) { now += 1000; await client.publishAsync('devices/a/t', `a${i}`, { qos: 1 }) }
  const from = new Date(now + 500).toISOString()
  for (let i = 0; i < 10; i++) { now += 1000; await client.publishAsync('devices/a/t', `b${i}`, { qos: 1 }) }
  await receiver.until(e => e.length === 20)

  const r = await api(gw, 'POST', '/api/bridges/cloud/replay', { fromTime: from })
  t.equal(r.status, 200)
  t.match(r.json, { bridge: 'cloud', fromSeq: 11, previousCursor: 20 })
  await receiver.until(e => e.length === 30)
  const replayed = receiver.events.slice(20)
  t.same(replayed.map(seqOf), [11, 12, 13, 14, 15, 16, 17, 18, 19, 20], 'exactly the events from that time')
  t.same(replayed.map(e => e.id), receiver.events.slice(10, 20).map(e => e.id), 'with their original ids')

  // live flow goes on after a replay
  await client.publishAsync('devices/a/t', 'live', { qos: 1 })
  await receiver.until(e => e.length === 31)
  t.equal(seqOf(receiver.events[30] as never), 21)

  const bySeq = await api(gw, 'POST', '/api/bridges/cloud/replay', { fromSeq: 19 })
  t.equal(bySeq.json.fromSeq, 19)
  await receiver.until(e => e.length === 34)
  t.same(receiver.events.slice(31).map(seqOf), [19, 20, 21])
})

t.test('dead letters can be listed and redriven to success', async t => {
  const receiver = await startOpsReceiver(t)
  receiver.decide = events => events.some(e => (e.data as { bad?: boolean } | undefined)?.bad === true) ? 400 : 204
  const gw = await startGateway(t, testConfig(await tempDir(t), bridgeYaml(receiver.url)))
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a/t', '{"n":1}', { qos: 1 })
  await client.publishAsync('devices/a/t', '{"bad":true}', { qos: 1 })
  await client.publishAsync('devices/a/t', '{"n":3}', { qos: 1 })
  await receiver.until(e => e.length === 2)
  await eventually('one dead-lettered event', () => gw.bridges.get('cloud')?.status().deadLettered === 1, { seen: () => gw.bridges.get('cloud')?.status() })

  const listed = await api(gw, 'GET', '/api/bridges/cloud/dead-letters')
  t.equal(listed.status, 200)
  t.equal(listed.json.count, 1)
  t.match(listed.json.items[0], { seq: 2, status: 400, body: 'rejected with 400', event: { id: 'test-gw-2', data: { bad: true } } })

  receiver.decide = () => 204 // the upstream is fixed
  const redrive = await api(gw, 'POST', '/api/bridges/cloud/dead-letters/redrive', {})
  t.match(redrive.json, { bridge: 'cloud', redriven: 1, failed: [] })
  await receiver.until(e => e.length === 3)
  t.equal(receiver.events[2]?.id, 'test-gw-2', 'the dead letter arrived with its id')
  t.equal((await api(gw, 'GET', '/api/bridges/cloud/dead-letters')).json.count, 0, 'and left the store')
})

t.test('inspect the log; errors are JSON with stable codes', async t => {
  let now = Date.parse('2026-03-01T12:00:00Z')
  const gw = await startGateway(t, testConfig(await tempDir(t)), { now: () => now })
  const client = await connect(t, brokerUrl(gw), { clientId: 'c1', username: 'u1' })
  for (let i = 0; i < 5; i++) { now += 1000; await client.publishAsync('x/y', i === 4 ? Buffer.from([0xff, 0xfe]) : `m${i}`, { qos: 1 }) }
  const page = await api(gw, 'GET', '/api/events?fromSeq=2&limit=2')
  t.equal(page.status, 200)
  t.match(page.json, { firstSeq: 1, lastSeq: 5 })
  t.match(page.json.events, [{ seq: 2, topic: 'x/y', qos: 1, clientId: 'c1', username: 'u1', payload: 'm1', payloadEncoding: 'utf8' }, { seq: 3 }])
  const byTime = await api(gw, 'GET', `/api/events?fromTime=${encodeURIComponent(new Date(Date.parse('2026-03-01T12:00:03.500Z')).toISOString())}`)
  t.same(byTime.json.events.map((e: { seq: number }) => e.seq), [4, 5])
  t.match(byTime.json.events[1], { payload: '//4=', payloadEncoding: 'base64' })

  t.match(await api(gw, 'POST', '/api/bridges/nope/pause'), { status: 404, json: { error: { code: 'FG_ERR_ADMIN_NOT_FOUND' } } })
  t.match(await api(gw, 'GET', '/api/events?fromSeq=abc'), { status: 400, json: { error: { code: 'FG_ERR_ADMIN_BAD_REQUEST' } } })
  t.match(await api(gw, 'GET', '/api/events?fromTime=yesterday'), { status: 400, json: { error: { code: 'FG_ERR_ADMIN_BAD_REQUEST' } } })
  t.match(await api(gw, 'GET', '/api/nothing'), { status: 404, json: { error: { code: 'FG_ERR_ADMIN_NOT_FOUND' } } })
})

t.test('a bearer token protects everything but health checks', async t => {
  const loaded = testConfig(await tempDir(t), '', { adminYaml: '  token: ${FG_TEST_ADMIN_TOKEN}' })
  const gw = await startGateway(t, loaded)
  t.match(await api(gw, 'GET', '/api/status'), { status: 401, json: { error: { code: 'FG_ERR_ADMIN_UNAUTHORIZED' } } })
  t.match(await api(gw, 'GET', '/api/status', undefined, 'wrong-token-wrong-token'), { status: 401 })
  t.equal((await api(gw, 'GET', '/api/status', undefined, 'a-long-enough-admin-token')).status, 200)
  t.equal((await api(gw, 'GET', '/metrics')).status, 401)
  t.equal((await api(gw, 'GET', '/healthz')).status, 200)
  t.equal((await api(gw, 'GET', '/readyz')).status, 200)
})

t.test('the requests that arrive together while the API loads are each answered; HEAD works on the health checks', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t), ''))
  // the first requests other than a health check load the API: none of them waits for another, none is lost
  const answers = await Promise.all([
    api(gw, 'GET', '/api/status'), api(gw, 'GET', '/readyz'), api(gw, 'GET', '/api/nothing'),
    api(gw, 'POST', '/api/bridges/none/pause'), api(gw, 'GET', '/api/status'), api(gw, 'GET', '/healthz')
  ])
  t.same(answers.map(a => a.status), [200, 200, 404, 404, 200, 200])
  t.equal(answers[0]?.json.log.lastSeq, 0)
  t.same(answers[1]?.json, { ready: true })
  t.equal(answers[2]?.json.error.code, 'FG_ERR_ADMIN_NOT_FOUND')
  for (const path of ['/healthz', '/readyz']) {
    const head = await request(`${gw.admin?.url ?? ''}${path}`, { method: 'HEAD' })
    await head.body.dump()
    t.equal(head.statusCode, 200, `HEAD ${path}`)
  }
})

t.test('status names the gateway and its log budget; /api/rates holds recent ingest and delivery rates', async t => {
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(await tempDir(t), `storage:
  retention: { maxAge: 2d, maxBytes: 10MiB }
${bridgeYaml(receiver.url)}`))
  const s = (await call(gw, '/api/status')).json
  t.equal(s.id, 'test-gw')
  t.same(s.retention, { maxBytes: 10 * 1024 * 1024, maxAge: '2d', whenFull: 'drop-oldest' })
  t.match(s.store, { state: 'ok', backpressure: false })

  const client = await connect(t, brokerUrl(gw))
  for (let i = 0; i < 12; i++) await client.publishAsync('devices/a/t', String(i), { qos: 1 })
  await client.publishAsync('elsewhere', 'x', { qos: 1 })
  await receiver.until(e => e.length === 12)
  const sum = (xs: Array<number | null>, interval: number): number => Math.round(xs.reduce<number>((a, b) => a + (b ?? 0), 0) * interval)
  let rates: any // eslint-disable-line @typescript-eslint/no-explicit-any
  // sampled once a second: wait for the samples that cover the publishes
  await eventually('the rates to count 13 records received and 12 delivered', async () => {
    rates = (await call(gw, '/api/rates')).json
    return sum(rates.ingest, rates.intervalSeconds) === 13 && sum(rates.bridges.cloud, rates.intervalSeconds) === 12
  }, { everyMs: 100, seen: () => rates })
  t.equal(rates.intervalSeconds, 1)
  t.equal(rates.times.length, rates.ingest.length)
  t.equal(rates.times.length, rates.bridges.cloud.length)
  t.ok(rates.times.every((x: number, i: number) => i === 0 || x > rates.times[i - 1]), 'oldest first')
  const last = rates.times[rates.times.length - 1]
  const later = (await call(gw, `/api/rates?after=${last}`)).json
  t.ok(later.times.every((x: number) => x > last), 'after= gives only newer samples')
  t.match(await call(gw, '/api/rates?after=soon'), { status: 400, json: { error: { code: 'FG_ERR_ADMIN_BAD_REQUEST' } } })
})

t.test('a long poll for events ends when the gateway stops, instead of holding up the stop', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t)))
  // the poll is in flight once the admin API's HTTP server has received it
  const received = new Promise<void>(resolve => {
    const seen = (message: unknown): void => {
      if ((message as { request: IncomingMessage }).request.url?.includes('waitMs=60000') !== true) return
      diagnostics.unsubscribe('http.server.request.start', seen)
      resolve()
    }
    diagnostics.subscribe('http.server.request.start', seen)
  })
  const waiting = call(gw, '/api/events?fromSeq=1&waitMs=60000')
  await received
  const started = Date.now()
  await gw.close()
  const answer = await waiting
  const took = Date.now() - started
  t.equal(answer.status, 200)
  t.same(answer.json.events, [], 'no events, and an answer')
  // the poll asked to wait 60 s; a stop that waited for it would take that long (bound kept generous for a loaded machine)
  t.ok(took < 20_000, `the gateway stopped in ${took} ms`)
})

t.test('a cross-origin POST (Origin of another site, text/plain body) to pause a bridge is refused on a gateway with no token, and the bridge keeps running', async t => {
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(await tempDir(t), bridgeYaml(receiver.url)))
  t.equal(gw.config.admin.token, undefined, 'no token')
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a/t', '1', { qos: 1 })
  await receiver.until(e => e.length === 1)

  // what a form or fetch on another site sends without a preflight
  const simple = { 'content-type': 'text/plain', origin: 'https://evil.example' }
  const pause = await call(gw, '/api/bridges/cloud/pause', { method: 'POST', headers: simple, body: 'x' })
  t.match(pause, { status: 403, json: { error: { code: 'FG_ERR_ADMIN_FORBIDDEN' } } })
  t.match(await call(gw, '/api/bridges/cloud/replay', { method: 'POST', headers: simple, body: '{"fromSeq":1}' }), { status: 403 })
  t.match(await call(gw, '/api/bridges/cloud/dead-letters/redrive', { method: 'POST', headers: simple, body: '{}' }), { status: 403 })
  t.match(await call(gw, '/api/bridges/cloud/pause', { method: 'POST', headers: { origin: 'null' } }), { status: 403 }, 'a sandboxed page (Origin: null) too')
  // a look-alike of the admin API's origin on another port or scheme is another origin
  const own = new URL(gw.admin?.url ?? '')
  t.match(await call(gw, '/api/bridges/cloud/pause', { method: 'POST', headers: { origin: `http://${own.hostname}:1` } }), { status: 403 })
  t.match(await call(gw, '/api/bridges/cloud/pause', { method: 'POST', headers: { origin: `https://${own.host}` } }), { status: 403 })

  const after = (await call(gw, '/api/status')).json.bridges[0]
  t.equal(after.state, 'running', 'the bridge is still running')
  t.equal(after.cursor, 1)
  await client.publishAsync('devices/a/t', '2', { qos: 1 })
  await receiver.until(e => e.length === 2)
  t.pass('and still delivers')

  // the dashboard's own requests: same origin as the admin API
  const mine = await call(gw, '/api/bridges/cloud/pause', { method: 'POST', headers: { origin: own.origin } })
  t.equal(mine.status, 200, 'the page itself may pause')
  t.equal(mine.json.state, 'paused')
})
