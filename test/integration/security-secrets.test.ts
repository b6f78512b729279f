/**
 * Secrets never leave: a gateway run as a child process with debug logging,
 * a bridge whose token and a header come from ${VAR}, users with password
 * hashes and clients logging in with passwords. Neither its log, nor
 * `check-config`, nor a config error shows any of them.
 */
import { createServer, type IncomingMessage } from 'node:http'
import { writeFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import t from 'tap'
import mqtt from 'mqtt'
import { hashPassword, parseHash } from '../../gateway/auth/index.js'
import { runCli, startChild } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'

const TOKEN = 'tok-3f9c1e7a55d24b0e9d1c'
const HEADER = 'hdr-8b2d6c0f4a1e4f7fb7aa'
const PASSWORD = 'pw-alice-71c0b3a9e2d4'
const FILE_PASSWORD = 'pw-bob-4d2e8f6a0c1b'

/** An upstream that answers 503, then 401 (a permanent refusal), then 204; resolves once it has accepted an event. */
async function upstream (t: { teardown: (fn: () => unknown) => void }): Promise<{ url: string, headers: IncomingMessage['headers'][], accepted: Promise<void> }> {
  const answers = [503, 401]
  const headers: IncomingMessage['headers'][] = []
  let accept: () => void = () => {}
  const accepted = new Promise<void>(resolve => { accept = resolve })
  const server = createServer((req, res) => {
    headers.push(req.headers)
    req.resume()
    req.on('end', () => {
      const status = answers.shift() ?? 204
      res.writeHead(status, { 'content-type': 'text/plain' }).end(status === 204 ? '' : 'no')
      if (status === 204) accept()
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise<void>(resolve => { server.closeAllConnections(); server.close(() => resolve()) }))
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`, headers, accepted }
}

t.test('no secret in the debug log of a running gateway, in check-config output or in a config error', async t => {
  const dir = await tempDir(t)
  const up = await upstream(t)
  const aliceHash = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 })
  const bobHash = await hashPassword(FILE_PASSWORD, { N: 1024, r: 8, p: 1 })
  const passwordFile = join(dir, 'passwd')
  await writeFile(passwordFile, `bob:${bobHash}\n`)
  const secrets = [TOKEN, HEADER, PASSWORD, FILE_PASSWORD]
  for (const h of [aliceHash, bobHash]) {
    const parsed = parseHash(h)
    secrets.push(h, parsed.salt.toString('base64'), parsed.hash.toString('base64'))
  }

  const env = { ...process.env, FG_SECRETS_TOKEN: TOKEN, FG_SECRETS_HEADER: HEADER }
  Object.assign(process.env, { FG_SECRETS_TOKEN: TOKEN, FG_SECRETS_HEADER: HEADER }) // the child inherits them
  t.teardown(() => { delete process.env.FG_SECRETS_TOKEN; delete process.env.FG_SECRETS_HEADER })
  const config = join(dir, 'flowgate.yaml')
  await writeFile(config, `gateway:
  id: secrets-gw
  dataDir: ${JSON.stringify(join(dir, 'data'))}
  logLevel: debug
admin:
  enabled: false
broker:
  listeners:
    - { port: 0, allowAnonymous: false }
  auth:
    users:
      - { name: alice, password: "${aliceHash}" }
    passwordFile: ${JSON.stringify(passwordFile)}
bridges:
  - name: cloud
    topics: ["#"]
    sink:
      url: ${up.url}
      mode: structured
      token: \${FG_SECRETS_TOKEN}
      headers:
        X-Api-Key: \${FG_SECRETS_HEADER}
    retry: { initialDelay: 10ms, maxDelay: 50ms }
`)

  const gw = await startChild(t, config)
  const url = `mqtt://127.0.0.1:${gw.port}`
  await mqtt.connectAsync(url, { reconnectPeriod: 0, username: 'alice', password: 'not-' + PASSWORD }).then(c => c.endAsync(true), () => {})
  const alice = await mqtt.connectAsync(url, { reconnectPeriod: 0, username: 'alice', password: PASSWORD })
  const bob = await mqtt.connectAsync(url, { reconnectPeriod: 0, username: 'bob', password: FILE_PASSWORD })
  await alice.publishAsync('devices/a/t', '{"n":1}', { qos: 1 }) // 503, then 401: dead-lettered
  await bob.publishAsync('devices/b/t', '{"n":2}', { qos: 1 })
  await up.accepted
  await alice.endAsync()
  await bob.endAsync()
  gw.proc.kill('SIGTERM')
  t.equal((await gw.exited).code, 0, 'the gateway stopped cleanly')

  t.equal(up.headers.at(-1)?.authorization, `Bearer ${TOKEN}`, 'the token was sent upstream')
  t.equal(up.headers.at(-1)?.['x-api-key'], HEADER, 'and the header')
  const log = gw.stderr.join('\n')
  t.ok(gw.stderr.some(l => l.includes('"event":"auth-failed"')), 'the log has the failed login')
  t.ok(gw.stderr.some(l => l.includes('"event":"login"')), 'and the debug lines of the logins')
  t.ok(gw.stderr.some(l => l.includes('"event":"bridge-retrying"')), 'and the upstream refusals')
  for (const s of secrets) t.notOk(log.includes(s), `the log does not contain ${s.slice(0, 8)}…`)

  const checked = await runCli(['check-config', '--config', config], env)
  t.equal(checked.code, 0)
  t.match(checked.stdout, /token: "?\[redacted\]"?/, 'check-config shows the token redacted')
  t.match(checked.stdout, /X-Api-Key: "?\[redacted\]"?/, 'and the header')
  t.match(checked.stdout, /password: "?\[redacted\]"?/, 'and the password hash')
  for (const s of secrets) t.notOk(checked.stdout.includes(s) || checked.stderr.includes(s), `check-config does not print ${s.slice(0, 8)}…`)

  // a secret that is invalid: the error names the key, never the value
  const bad = join(dir, 'bad.yaml')
  await writeFile(bad, `gateway: { id: x, dataDir: ${JSON.stringify(join(dir, 'bad-data'))} }
admin: { enabled: false }
broker:
  auth:
    users:
      - { name: carol, password: "\${FG_BAD_HASH}" }
`)
  for (const command of ['check-config', 'start']) {
    const r = await runCli([command, '--config', bad], { ...env, FG_BAD_HASH: PASSWORD })
    t.equal(r.code, 2, `${command}: exit 2`)
    t.match(r.stderr, /broker\.auth\.users\[0\]\.password/, `${command}: names the key`)
    t.notOk(r.stderr.includes(PASSWORD) || r.stdout.includes(PASSWORD), `${command}: does not echo the value`)
  }
})
