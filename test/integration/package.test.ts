/**
 * The package as a user installs it: `npm pack`, then a global install of the
 * tarball with production dependencies only (from the registry) into a temp
 * prefix, and the installed `flowgate` command run from outside the checkout.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFile, readdir, writeFile, mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import t from 'tap'
import mqtt from 'mqtt'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import { tempDir, type TestContext } from '../helpers/gateway.js'
import { repoRoot } from '../helpers/paths.js'

// npm fetches the dependencies from the registry (or its cache)
t.setTimeout(600_000)

const pkg = JSON.parse(await readFile(join(repoRoot, 'package.json'), 'utf8')) as { name: string, version: string }
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'

interface Run { code: number | null, stdout: string, stderr: string }
async function run (cmd: string, args: string[], opts: { cwd?: string, env?: NodeJS.ProcessEnv } = {}): Promise<Run> {
  const proc = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => proc.once('close', c => resolve(c)))
  return { code, stdout, stderr }
}

interface Running { proc: ChildProcess, events: Array<Record<string, unknown>>, next: (event: string) => Promise<Record<string, unknown>>, exited: Promise<number | null> }
/** Starts a command that logs JSON lines on stderr; `next(event)` waits for the first line with that event. */
function startLogging (t: TestContext, cmd: string, args: string[], cwd: string): Running {
  const proc = spawn(cmd, args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  const events: Array<Record<string, unknown>> = []
  const text: string[] = []
  const waiters: Array<{ event: string, resolve: (e: Record<string, unknown>) => void }> = []
  const exited = new Promise<number | null>(resolve => proc.once('exit', code => resolve(code)))
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', line => {
    text.push(line)
    let e: Record<string, unknown>
    try { e = JSON.parse(line) as Record<string, unknown> } catch { return }
    events.push(e)
    for (const w of [...waiters]) if (w.event === e.event) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e) }
  })
  const next = async (event: string): Promise<Record<string, unknown>> => await new Promise((resolve, reject) => {
    const seen = events.find(e => e.event === event)
    if (seen !== undefined) { resolve(seen); return }
    waiters.push({ event, resolve })
    void exited.then(code => reject(new Error(`exited (${code}) before logging ${event}:\n${text.join('\n')}`)))
  })
  return { proc, events, next, exited }
}

const dir = await tempDir(t, 'flowgate-package-')
const prefix = join(dir, 'prefix')
const bin = join(prefix, 'bin', 'flowgate')
const installed = join(prefix, 'lib', 'node_modules', pkg.name)

t.test('npm pack, then npm install -g of the tarball with production dependencies only', async t => {
  // dist/ is built by the test run's build; pack does not build it again under the running tests
  const pack = await run(npm, ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: repoRoot })
  t.equal(pack.code, 0, 'npm pack exits 0', { stderr: pack.stderr })
  const tarball = join(dir, `${pkg.name}-${pkg.version}.tgz`)
  t.ok((await readdir(dir)).includes(`${pkg.name}-${pkg.version}.tgz`), 'flowgate-<version>.tgz')

  const install = await run(npm, ['install', '-g', '--prefix', prefix, '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: dir })
  t.equal(install.code, 0, 'npm install -g exits 0', { stderr: install.stderr })
  t.notMatch(install.stdout + install.stderr, /EBADENGINE/, `no engine warning on Node ${process.version}`)
  const deps = await readdir(join(installed, 'node_modules'))
  t.ok(deps.includes('level') && deps.includes('fastify'), 'the production dependencies are installed')
  t.same(deps.filter(d => ['tap', 'typescript', 'eslint', 'mqtt'].includes(d)), [], 'no development dependency is')
  // the packages the command bundles are not installed; their licenses ship with it
  const bundled = ['aedes', 'mqtt-packet', 'yaml', 'undici', 'croner', 'qlobber']
  t.same(deps.filter(d => bundled.includes(d)), [], 'nor a package the command bundles')
  const notices = await readFile(join(installed, 'dist', 'gateway', 'THIRD-PARTY-NOTICES.txt'), 'utf8')
  t.same(bundled.filter(name => !new RegExp(`^${name} \\d+\\.\\d+\\.\\d+ \\(`, 'm').test(notices)), [], 'the notices name each bundled package with its version and license')
  t.match(notices, /Permission is hereby granted/, 'and hold their license texts')

  // cbor-x decodes records with cbor-extract's prebuilt binary, not its JavaScript fallback
  const native = await run(process.execPath, ['--input-type=module', '-e', "import { isNativeAccelerationEnabled } from 'cbor-x'; process.stdout.write(String(isNativeAccelerationEnabled))"], { cwd: installed })
  t.equal(native.stdout, 'true', `cbor-x uses its native string extraction (${native.stderr.trim()})`)
})

t.test('the installed command: --version, init, check-config, start on the generated config', async t => {
  const version = await run(bin, ['--version'], { cwd: dir })
  t.equal(version.stdout.trim(), pkg.version, 'flowgate --version')

  const site = join(dir, 'site')
  const init = await run(bin, ['init', '--dir', site], { cwd: dir })
  t.equal(init.code, 0, 'flowgate init exits 0', { stderr: init.stderr })
  const file = join(site, 'flowgate.yaml')
  const generated = await readFile(file, 'utf8')
  const token = /^ {2}token: "(.+)"$/m.exec(generated)?.[1] as string
  t.ok(token, 'with an admin token')
  // free ports for a test: the listener and the admin API on port 0
  const config = generated.replace(/^( +)port: (1883|9080)$/gm, '$1port: 0')
  t.equal((config.match(/port: 0$/gm) ?? []).length, 2, 'both ports set to 0')
  await writeFile(file, config)
  const checked = await run(bin, ['check-config', '--config', file], { cwd: site })
  t.equal(checked.code, 0, 'flowgate check-config accepts it', { stderr: checked.stderr })

  const gw = startLogging(t, bin, ['start', '--config', file], site)
  const port = (await gw.next('listening')).port as number
  const admin = (await gw.next('admin-listening')).url as string
  await gw.next('started')
  const cmdline = (await readFile(`/proc/${gw.proc.pid ?? 0}/cmdline`, 'utf8')).split('\0')
  t.same(cmdline.slice(1, 1 + GATEWAY_NODE_FLAGS.length), GATEWAY_NODE_FLAGS, 'node runs with the runtime flags of the command\'s first line')

  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0 })
  await client.publishAsync('devices/th-1/telemetry', '{"t":21.5}', { qos: 1 })
  await client.endAsync()
  const res = await fetch(`${admin}/api/events?fromSeq=1`, { headers: { authorization: `Bearer ${token}` } })
  t.equal(res.status, 200)
  const body = await res.json() as { events: Array<{ seq: number, topic: string, payload: string }> }
  t.same(body.events.map(e => [e.seq, e.topic, e.payload]), [[1, 'devices/th-1/telemetry', '{"t":21.5}']], 'the acknowledged publish is in the log')
  const page = await fetch(`${admin}/`)
  t.equal(page.status, 200, 'the dashboard is served from the package')
  t.match(page.headers.get('content-type') ?? '', /^text\/html/)
  await page.arrayBuffer()

  gw.proc.kill('SIGTERM')
  t.equal(await gw.exited, 0, 'SIGTERM: exit 0')
})

// The embedded defaults listen on 127.0.0.1:1883 and :9080; a network namespace of its own keeps
// them off this machine's ports.
const canUnshare = spawnSync('unshare', ['-n', 'true']).status === 0 && spawnSync('ip', ['-V']).status === 0
t.test('the installed command starts on the embedded defaults', { skip: canUnshare ? false : 'needs unshare -n (root) and ip, for a network namespace of its own' }, async t => {
  const cwd = join(dir, 'defaults')
  await mkdir(cwd)
  const gw = startLogging(t, 'unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" start', bin], cwd)
  const listening = await gw.next('listening')
  t.same([listening.host, listening.port], ['127.0.0.1', 1883], 'the broker on 127.0.0.1:1883')
  t.equal((await gw.next('admin-listening')).url, 'http://127.0.0.1:9080', 'the admin API on 127.0.0.1:9080')
  t.equal((await gw.next('started')).dataDir, join(cwd, 'flowgate-data'), 'the data in ./flowgate-data')
  gw.proc.kill('SIGTERM')
  t.equal(await gw.exited, 0, 'SIGTERM: exit 0')
})
