/**
 * The admin API refuses what a browser or a stranger should not do: state
 * changes from another origin, requests naming a foreign host (DNS rebinding),
 * bodies that are not JSON; every error, the framework's included, comes in the
 * documented shape.
 */
import { connect as netConnect } from 'node:net'
import t from 'tap'
import { request } from 'undici'
import type { Gateway } from '../../gateway/index.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { startOpsReceiver } from '../helpers/ops-receiver.js'

interface Answer { status: number, json: any } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call (gw: Gateway, method: 'GET' | 'POST', path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const res = await request(`${gw.admin?.url ?? ''}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) })
  const text = await res.body.text()
  return { status: res.statusCode, json: res.headers['content-type']?.toString().startsWith('application/json') === true ? JSON.parse(text) : text }
}

/** A raw HTTP/1.1 exchange, for requests a client library will not send; resolves with the status and the JSON body. */
async function raw (gw: Gateway, head: string): Promise<Answer> {
  const { port } = new URL(gw.admin?.url ?? '')
  const socket = netConnect(Number(port), '127.0.0.1')
  socket.write(head)
  let text = ''
  socket.on('data', (d: Buffer) => { text += d.toString() })
  await new Promise(resolve => socket.once('close', resolve))
  const [status, body] = [Number(text.split(' ')[1]), text.slice(text.indexOf('\r\n\r\n') + 4)]
  return { status, json: JSON.parse(body) }
}

const bridgeYaml = (url: string): string => `bridges:
  - name: cloud
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(url)}, mode: binary }
`

process.env.FG_TEST_PROTECT_TOKEN = 'a-long-enough-admin-token'

const shape = { error: { code: /^FG_ERR_ADMIN_[A-Z_]+$/, message: String } }

t.test('a cross-origin POST is refused and the bridge keeps running; same origin and no origin are served', async t => {
  const receiver = await startOpsReceiver(t)
  for (const withToken of [false, true]) {
    const gw = await startGateway(t, testConfig(await tempDir(t), bridgeYaml(receiver.url), withToken ? { adminYaml: '  token: ${FG_TEST_PROTECT_TOKEN}' } : {}))
    const auth: Record<string, string> = withToken ? { authorization: 'Bearer a-long-enough-admin-token' } : {}
    const label = withToken ? 'with a token' : 'without a token'
    for (const origin of ['http://evil.example', 'null', `http://localhost:${new URL(gw.admin?.url ?? '').port}`]) {
      const refused = await call(gw, 'POST', '/api/bridges/cloud/pause', { ...auth, origin, 'content-type': 'text/plain' }, 'x')
      t.match(refused, { status: 403, json: { error: { code: 'FG_ERR_ADMIN_FORBIDDEN', message: /another origin/ } } }, `${label}: Origin ${origin} refused`)
    }
    t.equal(gw.bridges.get('cloud')?.status().state, 'running', `${label}: the bridge still runs`)
    t.match(await call(gw, 'POST', '/api/bridges/cloud/replay', { ...auth, 'content-type': 'text/plain' }, '{"fromSeq":1}'), { status: 415, json: { error: { code: 'FG_ERR_ADMIN_UNSUPPORTED_MEDIA_TYPE' } } }, `${label}: a text/plain body is refused`)
    t.match(await call(gw, 'POST', '/api/bridges/cloud/pause', { ...auth, 'content-type': 'application/x-www-form-urlencoded' }, 'a=1'), { status: 415 }, `${label}: so is a form`)
    t.equal(gw.bridges.get('cloud')?.status().state, 'running')
    t.equal((await call(gw, 'GET', '/api/status', { ...auth, origin: 'http://evil.example' })).status, 200, `${label}: reads are not state changes (the browser keeps their answers from the page)`)
    const own = `http://127.0.0.1:${new URL(gw.admin?.url ?? '').port}`
    t.match(await call(gw, 'POST', '/api/bridges/cloud/pause', { ...auth, origin: own }), { status: 200, json: { state: 'paused' } }, `${label}: the API's own origin is served`)
    t.match(await call(gw, 'POST', '/api/bridges/cloud/resume', auth), { status: 200, json: { state: 'running' } }, `${label}: a request without Origin (curl) is served`)
  }
})

t.test('a request naming a foreign host is refused (DNS rebinding); localhost, IP addresses and allowedHosts are served', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t), '', { adminYaml: '  allowedHosts: [gateway.lan]' }))
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('x/y', 'secret', { qos: 1 })
  const port = new URL(gw.admin?.url ?? '').port
  for (const host of [`evil.example:${port}`, 'evil.example', `gateway.lan.evil.example:${port}`]) {
    t.match(await call(gw, 'GET', '/api/events', { host }), { status: 403, json: { error: { code: 'FG_ERR_ADMIN_FORBIDDEN', message: /Host header/ } } }, `Host: ${host}`)
  }
  t.match(await call(gw, 'POST', '/api/bridges/x/pause', { host: 'evil.example' }), { status: 403 }, 'before anything else')
  for (const path of ['/healthz', '/readyz']) t.match(await call(gw, 'GET', path, { host: 'evil.example' }), { status: 403, json: { error: { code: 'FG_ERR_ADMIN_FORBIDDEN' } } }, `${path} too`)
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`, `GATEWAY.lan:${port}`, `192.168.1.20:${port}`]) {
    t.equal((await call(gw, 'GET', '/api/events', { host })).status, 200, `Host: ${host}`)
  }
  t.equal((await call(gw, 'GET', '/api/events')).json.events[0].payload, 'secret', 'the log is readable from the API\'s own address')
})

t.test('every error is in the documented shape, the HTTP framework\'s and parser\'s included', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t), bridgeYaml('http://127.0.0.1:9/')))
  const json = { 'content-type': 'application/json' }
  const cases: Array<[string, Promise<Answer>, number, string]> = [
    ['bad percent-encoding', call(gw, 'POST', '/api/bridges/%E0%A4%A/pause'), 400, 'FG_ERR_ADMIN_BAD_REQUEST'],
    ['a path segment over the router\'s limit', call(gw, 'POST', `/api/bridges/${'b'.repeat(200)}/pause`), 414, 'FG_ERR_ADMIN_TOO_LARGE'],
    ['a body over 64 KiB', call(gw, 'POST', '/api/bridges/cloud/dead-letters/redrive', json, JSON.stringify({ seqs: Array(20_000).fill(1234567) })), 413, 'FG_ERR_ADMIN_TOO_LARGE'],
    ['malformed JSON', call(gw, 'POST', '/api/bridges/cloud/replay', json, '{"fromSeq":'), 400, 'FG_ERR_ADMIN_BAD_REQUEST'],
    ['a query that fails its schema', call(gw, 'GET', '/api/events?limit=abc'), 400, 'FG_ERR_ADMIN_BAD_REQUEST'],
    ['a body that fails its schema', call(gw, 'POST', '/api/bridges/cloud/replay', json, '{"fromTime":"yesterday"}'), 400, 'FG_ERR_ADMIN_BAD_REQUEST'],
    ['seqs that are not sequence numbers', call(gw, 'POST', '/api/bridges/cloud/dead-letters/redrive', json, '{"seqs":["a"]}'), 400, 'FG_ERR_ADMIN_BAD_REQUEST'],
    ['replay without a position', call(gw, 'POST', '/api/bridges/cloud/replay', json, '{}'), 400, 'FG_ERR_ADMIN_BAD_REQUEST'],
    ['a limit over the maximum', call(gw, 'GET', '/api/events?limit=10001'), 400, 'FG_ERR_ADMIN_BAD_REQUEST'],
    ['an unknown route', call(gw, 'GET', '/api/nothing'), 404, 'FG_ERR_ADMIN_NOT_FOUND'],
    ['a URL over the HTTP parser\'s 16 KiB', raw(gw, `GET /api/events?x=${'y'.repeat(20_000)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`), 431, 'FG_ERR_ADMIN_TOO_LARGE'],
    ['a request that is not HTTP', raw(gw, 'HELLO\r\n\r\n'), 400, 'FG_ERR_ADMIN_BAD_REQUEST']
  ]
  for (const [what, answer, status, code] of cases) {
    const a = await answer
    t.match(a, { status, json: { error: { code } } }, what)
    t.match(a.json, shape, `${what}: {"error":{"code","message"}}`)
  }
  t.match(await call(gw, 'POST', '/api/bridges/cloud/dead-letters/redrive'), { status: 200, json: { bridge: 'cloud', redriven: 0 } }, 'a body is optional where the route says so')
})
