/** The operator commands against a running gateway (a child process) over its admin API. */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import t from 'tap'
import mqtt from 'mqtt'
import { cliPath, runCli, startChild, writeConfig } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'
import { startOpsReceiver } from '../helpers/ops-receiver.js'

t.test('status, replay, dead-letters and tail', async t => {
  const dir = await tempDir(t)
  const receiver = await startOpsReceiver(t)
  receiver.decide = events => events.some(e => (e.data as { bad?: boolean } | undefined)?.bad === true) ? 422 : 204
  const config = await writeConfig(dir, join(dir, 'data'), `bridges:
  - name: cloud
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url)}, mode: binary }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`)
  const gw = await startChild(t, config)
  const admin = String((await gw.waitForLog(e => e.event === 'admin-listening', true)).url)
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { reconnectPeriod: 0 })
  t.teardown(() => { client.end(true) })
  for (const p of ['{"n":1}', '{"bad":true}', '{"n":3}']) await client.publishAsync('devices/a/t', p, { qos: 1 })
  await receiver.until(e => e.length === 2)

  // tail follows new events (from sequence 4, which does not exist yet)
  const tail = spawn(process.execPath, [cliPath, 'tail', '--from', '4', '--admin', admin], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { tail.kill('SIGKILL') })
  const firstLine = new Promise<string>(resolve => createInterface({ input: tail.stdout }).once('line', resolve))
  await client.publishAsync('devices/a/t', '{"n":4}', { qos: 1 })
  const followed = JSON.parse(await firstLine) as { seq: number, payload: string }
  t.match(followed, { seq: 4, payload: '{"n":4}' }, 'tail printed the new event')
  await receiver.until(e => e.length === 3)

  const status = await runCli(['status', '--admin', admin])
  t.equal(status.code, 0)
  t.match(status.stdout, /log: sequence 1\.\.4, 4 records/)
  t.match(status.stdout, /BRIDGE\s+STATE\s+CURSOR\s+LAG\s+OLDEST\s+DELIVERED\s+DEAD/)
  t.match(status.stdout, /cloud\s+running\s+\d+\s+\d+\s+\S+\s+3\s+1/)

  const dead = await runCli(['dead-letters', 'cloud', '--admin', admin])
  t.equal(dead.code, 0)
  const letters = dead.stdout.trim().split('\n').map(l => JSON.parse(l) as { seq: number, status: number })
  t.match(letters, [{ seq: 2, status: 422 }])

  const replay = await runCli(['replay', 'cloud', '--from', '1', '--admin', admin])
  t.equal(replay.code, 0)
  t.match(replay.stdout, /replaying from sequence 1/)
  await receiver.until(e => e.length === 6)
  t.same(receiver.events.slice(3).map(e => e.extensions.sequence), ['0000000000000001', '0000000000000003', '0000000000000004'], 'replayed in order (the rejected one is dead-lettered again)')

  const unknown = await runCli(['replay', 'nope', '--from', '1', '--admin', admin])
  t.equal(unknown.code, 1)
  t.match(unknown.stderr, /FG_ERR_ADMIN_NOT_FOUND/)
  const down = await runCli(['status', '--admin', 'http://127.0.0.1:9'])
  t.equal(down.code, 1)
  t.match(down.stderr, /FG_ERR_ADMIN_UNREACHABLE/)

  gw.proc.kill('SIGTERM')
  t.equal((await gw.exited).code, 0)
})
