import { spawn, spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import mqtt from 'mqtt'
import { renderUnit } from '../../gateway/commands/init.js'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import { startChild, writeConfig } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'
import { repoRoot } from '../helpers/paths.js'

const unitFile = join(repoRoot, 'config', 'flowgate.service')
const found = (cmd: string, arg = '--version'): boolean => spawnSync(cmd, [arg]).status === 0
const hasSystemdAnalyze = found('systemd-analyze')

t.test('the shipped unit starts the gateway with the runtime flags, hardened, restarting unless the config is invalid', async t => {
  const unit = await readFile(unitFile, 'utf8')
  t.match(unit, new RegExp(`^ExecStart=/usr/bin/node ${GATEWAY_NODE_FLAGS.join(' ')} /usr/lib/node_modules/flowgate/dist/gateway/flowgate\\.js start --config /etc/flowgate/flowgate\\.yaml$`, 'm'))
  for (const line of ['Type=notify', 'NotifyAccess=all', 'User=flowgate', 'StateDirectory=flowgate', 'ProtectSystem=strict', 'NoNewPrivileges=yes',
    'ExecReload=/bin/kill -HUP $MAINPID', 'Restart=on-failure', 'RestartPreventExitStatus=2', 'StartLimitBurst=5']) {
    t.ok(unit.split('\n').includes(line), line)
  }
  t.notMatch(unit, /^MemoryDenyWriteExecute=yes/m, 'V8 needs writable executable memory')
})

t.test('systemd-analyze verify accepts the shipped unit', { skip: hasSystemdAnalyze ? false : 'systemd-analyze is not installed' }, async t => {
  const verify = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' })
  t.equal(verify.status, 0, 'exit 0')
  // verify reports directives it ignores on stderr but still exits 0
  t.equal(verify.stderr + verify.stdout, '', 'without a warning')
})

const security = hasSystemdAnalyze ? spawnSync('systemd-analyze', ['security', '--offline=yes', unitFile], { encoding: 'utf8' }) : undefined
const exposure = security === undefined ? undefined : /Overall exposure level for flowgate\.service: ([0-9.]+)/.exec(security.stdout)?.[1]
t.test('systemd rates the shipped unit as hardened', { skip: exposure !== undefined ? false : 'needs systemd-analyze security --offline (systemd 250 or newer)' }, async t => {
  t.ok(Number(exposure) <= 2.5, `exposure level ${exposure ?? '?'} (systemd calls up to 3.9 "OK", 10 "UNSAFE")`)
})

t.test('a unit printed for an installation under /home may read it', async t => {
  const unit = await readFile(unitFile, 'utf8')
  const home = renderUnit(unit, { node: '/home/pi/.nvm/versions/node/v22.12.0/bin/node', cli: '/home/pi/.nvm/lib/node_modules/flowgate/dist/gateway/flowgate.js', config: '/etc/flowgate/flowgate.yaml' })
  t.match(home, /^ProtectHome=read-only$/m)
  const system = renderUnit(unit, { node: '/usr/bin/node', cli: '/usr/lib/node_modules/flowgate/dist/gateway/flowgate.js', config: '/etc/flowgate/my 100% site.yaml' })
  t.match(system, /^ProtectHome=yes$/m)
  t.match(system, /^ExecStart=\/usr\/bin\/node .* start --config "\/etc\/flowgate\/my 100%% site\.yaml"$/m, 'a path with a space is quoted, % doubled')
})

// systemd's side of sd_notify: a Unix datagram socket. Node cannot bind one, so python3 stands in for
// systemd and prints each message on a line. It closes the file descriptor that systemd-notify sends
// with BARRIER=1 (systemd-notify waits until the manager has processed its message).
const NOTIFY_SOCKET_PY = `
import array, os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("bound", flush=True)
while True:
    msg, anc, flags, addr = s.recvmsg(65536, socket.CMSG_SPACE(64))
    for level, kind, data in anc:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds = array.array("i")
            fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
            for fd in fds:
                os.close(fd)
    print(msg.decode().replace("\\n", "|"), flush=True)
`

const canNotify = found('systemd-notify') && found('python3')
t.test('under Type=notify the gateway tells systemd when it is ready and when it stops', { skip: canNotify ? false : 'needs systemd-notify and python3 (standing in for systemd\'s notify socket)' }, async t => {
  const dir = await tempDir(t)
  const socketPath = join(dir, 'notify.sock')
  const systemd = spawn('python3', ['-c', NOTIFY_SOCKET_PY, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { systemd.kill() })
  const messages: string[] = []
  const waiters: Array<{ match: RegExp, resolve: (m: string) => void }> = []
  createInterface({ input: systemd.stdout }).on('line', line => {
    messages.push(line)
    for (const w of [...waiters]) if (w.match.test(line)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line) }
  })
  const message = async (match: RegExp): Promise<string> => await new Promise(resolve => {
    const seen = messages.find(m => match.test(m))
    if (seen !== undefined) resolve(seen)
    else waiters.push({ match, resolve })
  })
  await message(/^bound$/)

  const config = await writeConfig(dir, join(dir, 'data'))
  const env = { ...process.env, NOTIFY_SOCKET: socketPath }
  const gw = await startChild(t, config, env)
  const ready = await message(/READY=1/)
  const admin = (await gw.waitForLog(e => e.event === 'admin-listening', true)).url as string
  t.match(ready, `STATUS=serving mqtt://127.0.0.1:${gw.port}, admin ${admin}; 0 records in the log`, 'with a status line for systemctl status')
  t.equal(messages.filter(m => m.includes('READY=1')).length, 1, 'READY once')
  // when systemd hears READY=1, the gateway serves
  t.equal((await fetch(`${admin}/readyz`)).status, 200)
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { reconnectPeriod: 0 })
  await client.publishAsync('devices/a/t', '1', { qos: 1 })
  await client.endAsync()

  gw.proc.kill('SIGTERM')
  t.match(await message(/STOPPING=1/), 'STATUS=stopping: SIGTERM')
  t.equal((await gw.exited).code, 0)
  t.notOk(gw.stderr.some(l => l.includes('systemd-notify-failed')), 'no notification failed')
})

t.test('without systemd-notify the gateway runs on and says once why systemd will not hear from it', async t => {
  const dir = await tempDir(t)
  const config = await writeConfig(dir, join(dir, 'data'))
  // a PATH without systemd-notify (node is started by its full path)
  const gw = await startChild(t, config, { ...process.env, NOTIFY_SOCKET: join(dir, 'nobody-listens.sock'), PATH: dir })
  const failed = await gw.waitForLog(e => e.event === 'systemd-notify-failed', true)
  t.match(failed.detail, 'systemd-notify: ENOENT')
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { reconnectPeriod: 0 })
  await client.publishAsync('devices/a/t', '1', { qos: 1 })
  await client.endAsync()
  gw.proc.kill('SIGTERM')
  t.equal((await gw.exited).code, 0)
  t.equal(gw.stderr.filter(l => l.includes('systemd-notify-failed')).length, 1, 'one log line, not one per notification')
})
