import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import mqtt from 'mqtt'
import { runCli, startChild, writeConfig } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'

t.test('check-config prints the effective config and exits 0', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'ok.yaml')
  await writeFile(file, 'gateway:\n  id: ${GW_NAME}\nstorage:\n  durability: async\n')
  const r = await runCli(['check-config', '--config', file], { ...process.env, GW_NAME: 'top-secret-name' })
  t.equal(r.code, 0)
  t.match(r.stdout, /durability: async/)
  t.match(r.stdout, /maxBytes: 1GiB/, 'with defaults filled in')
  t.notMatch(r.stdout + r.stderr, /top-secret-name/, 'values from the environment are redacted')
})

t.test('an invalid config names the key and line, exit code 2', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'bad.yaml')
  await writeFile(file, 'gateway:\n  id: x\nstorage:\n  retention:\n    maxAge: 7 days\n')
  for (const command of ['check-config', 'start']) {
    const r = await runCli([command, '--config', file])
    t.equal(r.code, 2, `${command}: exit code 2`)
    t.equal(r.stderr.trim(), `flowgate: FG_ERR_CONFIG_INVALID: ${file}:5: storage.retention.maxAge: must be a duration such as 500ms, 30s, 5m, 7d`, `${command}: one clear line`)
  }
  const cron = join(dir, 'cron.yaml')
  await writeFile(cron, 'storage:\n  retention:\n    sweepSchedule: "61 * * * *"\n')
  const badCron = await runCli(['check-config', '--config', cron])
  t.equal(badCron.code, 2, 'a schedule that is not a cron expression: exit code 2')
  t.match(badCron.stderr.trim(), /^flowgate: FG_ERR_CONFIG_INVALID: .*cron\.yaml:3: storage\.retention\.sweepSchedule: not a valid cron expression: "61 \* \* \* \*" \(.+\)$/, 'named in one line, with the reason')
  const window = join(dir, 'window.yaml')
  await writeFile(window, 'storage:\n  commitWindow: 5s\n')
  const longWindow = await runCli(['check-config', '--config', window])
  t.equal(longWindow.code, 2, 'a commit window over 1s: exit code 2')
  t.match(longWindow.stderr.trim(), /^flowgate: FG_ERR_CONFIG_INVALID: .*window\.yaml:2: storage\.commitWindow: is at most 1s \(5s\)/, 'named in one line')
  const missing = await runCli(['check-config', '--config', join(dir, 'nope.yaml')])
  t.equal(missing.code, 2)
  t.match(missing.stderr, /FG_ERR_CONFIG_READ: .*nope\.yaml: cannot read config file \(ENOENT\)/)
  const usage = await runCli(['start', '--colour'])
  t.equal(usage.code, 2)
  t.match(usage.stderr, /FG_ERR_USAGE/)
})

t.test('a data dir in use by another gateway: one line, stable code', async t => {
  const dir = await tempDir(t)
  const config = await writeConfig(dir, join(dir, 'data'))
  const first = await startChild(t, config)
  const second = await runCli(['start', '--config', config])
  t.equal(second.code, 1)
  const lines = second.stderr.trim().split('\n').filter(l => !l.startsWith('{'))
  t.same(lines, [`flowgate: FG_ERR_DATA_DIR_LOCKED: data directory ${join(dir, 'data')} is in use by another running gateway`])
  first.proc.kill('SIGTERM')
  t.equal((await first.exited).code, 0)
})

t.test('a data dir that cannot be written: one line, stable code', async t => {
  const dir = await tempDir(t)
  await writeFile(join(dir, 'file'), 'not a directory')
  const config = await writeConfig(dir, join(dir, 'file', 'data'))
  const r = await runCli(['start', '--config', config])
  t.equal(r.code, 1)
  t.match(r.stderr.trim(), /^flowgate: FG_ERR_DATA_DIR_ACCESS: data directory .* cannot be created \(ENOTDIR\)$/)
})

t.test('SIGTERM and SIGINT stop the gateway cleanly with exit 0, keeping what was acknowledged', async t => {
  const dir = await tempDir(t)
  const config = await writeConfig(dir, join(dir, 'data'))
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    const gw = await startChild(t, config)
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { reconnectPeriod: 0 })
    await client.publishAsync('t', signal, { qos: 1 })
    client.end(true)
    gw.proc.kill(signal)
    const { code } = await gw.exited
    t.equal(code, 0, `${signal}: exit 0`)
    t.ok(gw.stderr.some(l => l.includes('"event":"stopped"')), `${signal}: logged its stop`)
  }
  const gw = await startChild(t, config)
  const started = gw.stderr.map(l => JSON.parse(l) as { event?: string, lastSeq?: number }).find(e => e.event === 'started')
  t.equal(started?.lastSeq, 2, 'both publishes are in the log after the restarts')
  gw.proc.kill('SIGTERM')
  await gw.exited
})
