// Signed events in every content mode, checked the way a receiver would: flowgate verify on the
// bodies of real requests (batch and structured), the verify function on a binary-mode request,
// and the same bodies with one attribute or one byte of data changed.
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import { decodeHttp } from '../../bridges/cloudevents/index.js'
import { keyIdOf, verifyEvent } from '../../bridges/signing/index.js'
import { parseGatewayConfig } from '../../gateway/config.js'
import { brokerUrl, connect, eventually, startGateway, tempDir, type TestContext } from '../helpers/gateway.js'
import { cliPath } from '../helpers/child.js'

interface Captured { headers: IncomingHttpHeaders, body: Buffer }

async function rawReceiver (t: TestContext): Promise<{ url: string, requests: Captured[] }> {
  const requests: Captured[] = []
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => { requests.push({ headers: req.headers, body: Buffer.concat(chunks) }); res.writeHead(204).end() })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, requests }
}

async function verifyCli (keyFile: string, input: Buffer | string): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [cliPath, 'verify', '--key', keyFile], { stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (c: Buffer) => { stdout += c.toString() })
  child.stderr.on('data', (c: Buffer) => { stderr += c.toString() })
  child.stdin.end(input)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  return { code, stdout, stderr }
}

t.test('every bridge signs every event, in every content mode; flowgate verify accepts them and refuses a changed one', async t => {
  const dir = await tempDir(t)
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const keyFile = join(dir, 'signing.pem')
  const pubFile = join(dir, 'public.pem')
  await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }))
  await writeFile(pubFile, publicKey.export({ type: 'spki', format: 'pem' }))
  const receivers = { binary: await rawReceiver(t), structured: await rawReceiver(t), batch: await rawReceiver(t) }
  const bridges = Object.entries(receivers).map(([mode, r]) => `  - name: ${mode}
    topics: ["devices/#"]
    event: { topicPattern: "devices/{deviceid}/{kind}", type: "com.example.{kind}", traceparent: true }
    sink: { url: ${JSON.stringify(r.url)}, mode: ${mode} }
    batch: { lingerMs: 1000 }`).join('\n')
  const gw = await startGateway(t, parseGatewayConfig(`gateway:
  id: test-gw
  dataDir: ${JSON.stringify(join(dir, 'data'))}
  logLevel: silent
  signing: { key: ${JSON.stringify(keyFile)} }
broker:
  listeners: [{ port: 0 }]
admin: { enabled: false }
bridges:
${bridges}
`))
  const client = await connect(t, brokerUrl(gw), { clientId: 'dev-1' })
  // a payload with white space inside and after: it travels as it is, and the signature covers it
  await client.publishAsync('devices/th-1/telemetry', '{"t": 21.5}\n', { qos: 1 })
  await client.publishAsync('devices/th-2/status', Buffer.from([0xde, 0xad, 0xbe, 0xef]), { qos: 1 })
  await client.publishAsync('devices/th-3/telemetry', '{"t":19}', { qos: 1 })
  await eventually('every mode to deliver the three events', () =>
    receivers.binary.requests.length === 3 && receivers.structured.requests.length === 3 &&
    receivers.batch.requests.reduce((n, r) => n + (JSON.parse(r.body.toString()) as unknown[]).length, 0) === 3)

  const keys = [{ key: publicKey, keyIds: [keyIdOf(publicKey)] }]
  for (const req of receivers.binary.requests) {
    const { events } = decodeHttp(req.headers, req.body)
    const event = events[0]
    if (event === undefined) throw new Error('no event')
    const r = verifyEvent(event, req.body.length > 0 ? req.body : undefined, keys)
    t.match(r, { ok: true, verified: 'core+extensions', keyid: keyIdOf(publicKey) }, `binary mode ${event.subject ?? ''}: verifies, core and extensions`)
    t.equal(req.headers.traceparent, event.extensions.traceparent, 'the traceparent header carries the event\'s trace')
    t.match(event.extensions.traceparent, /^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    const changed = Buffer.from(req.body)
    changed[0] = (changed[0] as number) ^ 1
    t.notOk(verifyEvent(event, changed, keys).ok, 'binary mode: one byte of data changed fails')
  }

  const structured = receivers.structured.requests.map(r => r.body.toString()).join('\n')
  const ok = await verifyCli(pubFile, structured)
  t.equal(ok.code, 0, `structured events verify with flowgate verify${ok.stderr}`)
  t.equal(ok.stdout.trim().split('\n').filter(l => (JSON.parse(l) as { verified: boolean }).verified).length, 3, 'one line per event, each verified')

  const batch = receivers.batch.requests.map(r => r.body.toString())
  t.ok(batch.some(b => (JSON.parse(b) as unknown[]).length > 1), 'events went out as a batch')
  const body = batch.join('\n')
  const good = await verifyCli(pubFile, body)
  t.equal(good.code, 0, `the signed batch verifies with flowgate verify${good.stderr}`)
  t.match(good.stdout, /"covers":"core\+extensions","signedextattrs":\["sequence","clientid","deviceid","kind","traceparent"\]/, 'the sequence, client id, topic levels and traceparent are signed')

  const attr = await verifyCli(pubFile, body.replace('"subject":"devices/th-1/telemetry"', '"subject":"devices/th-9/telemetry"'))
  t.equal(attr.code, 1, 'one attribute changed: flowgate verify exits 1')
  t.match(attr.stdout, /"verified":false,"reason":"the core attributes or the data differ/)
  t.match(attr.stderr, /FG_ERR_VERIFY_FAILED: 1 of 3 events do not verify/)
  const ext = await verifyCli(pubFile, body.replace('"deviceid":"th-3"', '"deviceid":"th-4"'))
  t.equal(ext.code, 1, 'a signed extension changed: fails')
  const data = await verifyCli(pubFile, body.replace('"t": 21.5', '"t": 21.6'))
  t.equal(data.code, 1, 'one byte of data changed: fails')
  const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey
  const otherFile = join(dir, 'other.pem')
  await writeFile(otherFile, other.export({ type: 'spki', format: 'pem' }))
  t.equal((await verifyCli(otherFile, body)).code, 1, 'another key: fails')
})
