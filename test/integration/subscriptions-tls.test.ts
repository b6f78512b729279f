/**
 * Consumers identified by a client certificate on a TLS Subscriptions API: the certificate
 * names the consumer (its CN), an untrusted or unknown one gets 401, a token still works where
 * certificates are optional, and where they are required the handshake fails without one.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { Agent, request } from 'undici'
import { startGateway, tempDir } from '../helpers/gateway.js'
import { startOpsReceiver } from '../helpers/ops-receiver.js'
import { makePki, type Pki } from '../helpers/security.js'
import { admin, ALICE, call, subscriptionsConfig } from '../helpers/subscriptions.js'

const CAROL = `    - name: carol
      certificate: carol
      sinks: ["http://127.0.0.1:*/**"]
      approval: auto`

async function agent (t: { teardown: (fn: () => unknown) => void }, pki: Pki, client?: { cert: string, key: string }): Promise<Agent> {
  const a = new Agent({
    connect: {
      ca: await readFile(pki.ca),
      ...(client !== undefined ? { cert: await readFile(client.cert), key: await readFile(client.key) } : {})
    }
  })
  t.teardown(async () => await a.close())
  return a
}

function tlsYaml (pki: Pki, clientCert: 'optional' | 'required'): string {
  return `  tls: { cert: ${JSON.stringify(pki.serverCert)}, key: ${JSON.stringify(pki.serverKey)}, ca: ${JSON.stringify(pki.ca)}, clientCert: ${clientCert} }`
}

t.test('a consumer identified by its client certificate subscribes and sees only its own subscriptions', async t => {
  const dir = await tempDir(t)
  const pki = await makePki(join(dir, 'pki'))
  const cloud = await startOpsReceiver(t)
  const sink = await startOpsReceiver(t)
  const gw = await startGateway(t, await subscriptionsConfig(join(dir, 'data'), cloud.url, { listener: tlsYaml(pki, 'optional'), consumers: CAROL }))
  t.match(gw.subscriptionsApi?.url, /^https:/, 'the API is served over TLS')

  const carol = await agent(t, pki, await pki.client('carol'))
  const created = await call(gw, 'POST', '/subscriptions', undefined, { protocol: 'HTTP', sink: sink.url }, carol)
  t.equal(created.status, 201, 'carol\'s certificate alone identifies her: 201')
  t.match((await admin(gw, 'GET', `/api/subscriptions/${created.json.id as string}`)).json, { consumer: 'carol', state: 'active' }, 'the operator sees it as carol\'s')
  t.same((await call(gw, 'GET', '/subscriptions', undefined, undefined, carol)).json.map((s: { id: string }) => s.id), [created.json.id], 'carol lists her subscription')

  const withToken = await agent(t, pki)
  t.equal((await call(gw, 'GET', '/subscriptions', ALICE, undefined, withToken)).json.length, 0, 'alice (a token, no certificate) does not see carol\'s')

  const stranger = await call(gw, 'GET', '/subscriptions', undefined, undefined, await agent(t, pki, await pki.client('mallory')))
  t.match(stranger, { status: 401, json: { error: { code: 'FG_ERR_SUBSCRIPTION_UNAUTHORIZED', message: /no consumer has the certificate "mallory"/ } } }, 'a trusted certificate of no consumer: 401')
  const rogue = await call(gw, 'GET', '/subscriptions', undefined, undefined, await agent(t, pki, await pki.client('carol', { untrusted: true })))
  t.match(rogue, { status: 401, json: { error: { message: /client certificate not trusted/ } } }, 'a certificate from another CA, even with carol\'s name: 401')
  t.match(await call(gw, 'GET', '/subscriptions', undefined, undefined, withToken), { status: 401 }, 'neither certificate nor token: 401')
})

t.test('with clientCert required, a client without a certificate does not get through the handshake', async t => {
  const dir = await tempDir(t)
  const pki = await makePki(join(dir, 'pki'))
  const cloud = await startOpsReceiver(t)
  const gw = await startGateway(t, await subscriptionsConfig(join(dir, 'data'), cloud.url, { listener: tlsYaml(pki, 'required'), consumers: CAROL }))
  const url = `${gw.subscriptionsApi?.url ?? ''}/subscriptions`
  await t.rejects(request(url, { dispatcher: await agent(t, pki), headers: { authorization: `Bearer ${ALICE}` } }), 'a token is not enough: the TLS handshake fails')
  t.equal((await call(gw, 'GET', '/subscriptions', undefined, undefined, await agent(t, pki, await pki.client('carol')))).status, 200, 'carol\'s certificate gets through')
})
