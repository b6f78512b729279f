import { spawnSync } from 'node:child_process'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { parse } from 'yaml'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import { cliPath, runCli } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'
import { repoRoot } from '../helpers/paths.js'

const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')
const headings = new Set(readme.split('\n').filter(l => /^#{2,4} /.test(l)).map(l => l.replace(/^#+ /, '').replace(/`/g, '')))
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0

const tokenOf = (text: string): string => (parse(text) as { admin: { token: string } }).admin.token
const modeOf = async (file: string): Promise<number> => (await stat(file)).mode & 0o777

t.test('init in a fresh directory writes a commented starter config that check-config accepts', async t => {
  const dir = join(await tempDir(t), 'site')
  const r = await runCli(['init', '--dir', dir])
  t.equal(r.code, 0, r.stderr)
  const file = join(dir, 'flowgate.yaml')
  const text = await readFile(file, 'utf8')
  t.equal(await modeOf(file), 0o600, 'only its owner can read it: it holds the admin token')
  t.match(r.stderr, `flowgate check-config --config ${file}`, 'says how to check and run it')

  const token = tokenOf(text)
  t.match(token, /^[A-Za-z0-9_-]{43}$/, 'an admin token of 32 random bytes')
  const config = parse(text) as { gateway: { dataDir: string }, broker: { listeners: unknown[] }, storage: { retention: unknown } }
  t.equal(config.gateway.dataDir, join(dir, 'flowgate-data'), 'the data beside the config, by absolute path')
  t.ok(config.broker.listeners.length > 0 && config.storage.retention !== undefined, 'a broker listener and retention')

  const checked = await runCli(['check-config', '--config', file])
  t.equal(checked.code, 0, checked.stderr)
  t.match(checked.stdout, /token: "?\[redacted\]"?/)
  t.notMatch(checked.stdout, token, 'check-config does not print the token')

  // every pointer to the README names one of its sections
  const pointers = [...text.matchAll(/README ((?:"[^"]+"(?:, )?)+)/g)].flatMap(m => [...(m[1] as string).matchAll(/"([^"]+)"/g)].map(p => p[1] as string))
  t.ok(pointers.length >= 6, `points to README sections (${pointers.length})`)
  for (const p of pointers) t.ok(headings.has(p), `README has a section "${p}"`)

  // the example bridge, once uncommented, is a valid bridge
  const lines = text.split('\n')
  const from = lines.indexOf('# bridges:')
  t.ok(from > 0, 'an example bridge, commented out')
  const uncommented = [...lines.slice(0, from), ...lines.slice(from).map(l => l.replace(/^# ?/, ''))].join('\n')
  t.equal(((parse(uncommented) as { bridges: unknown[] }).bridges).length, 1)
  const withBridge = join(dir, 'with-bridge.yaml')
  await writeFile(withBridge, uncommented)
  const bridged = await runCli(['check-config', '--config', withBridge], { ...process.env, INGEST_TOKEN: 'a-token-for-the-upstream' })
  t.equal(bridged.code, 0, bridged.stderr)

  const again = join(await tempDir(t), 'other')
  t.equal((await runCli(['init', '--dir', again])).code, 0)
  t.not(tokenOf(await readFile(join(again, 'flowgate.yaml'), 'utf8')), token, 'each init generates its own token')
})

t.test('init never overwrites an existing file without --force', async t => {
  const dir = await tempDir(t)
  t.equal((await runCli(['init', '--dir', dir])).code, 0)
  const file = join(dir, 'flowgate.yaml')
  const before = await readFile(file, 'utf8')

  const r = await runCli(['init', '--dir', dir])
  t.equal(r.code, 2, 'exit code 2')
  t.equal(r.stderr.trim(), `flowgate: FG_ERR_FILE_EXISTS: ${file} exists; nothing was written (--force overwrites it)`)
  t.equal(await readFile(file, 'utf8'), before, 'the file is unchanged')
  const systemd = await runCli(['init', '--dir', dir, '--systemd'])
  t.equal(systemd.code, 2, '--systemd does not overwrite it either')
  t.equal(systemd.stdout, '', 'and prints no unit')
  t.equal(await readFile(file, 'utf8'), before)

  const forced = await runCli(['init', '--dir', dir, '--force'])
  t.equal(forced.code, 0, forced.stderr)
  const after = await readFile(file, 'utf8')
  t.not(tokenOf(after), tokenOf(before), '--force writes a new config, with a new token')
  t.equal(await modeOf(file), 0o600)
  t.same(await readdir(dir), ['flowgate.yaml'], 'no temporary file is left behind')
})

t.test('init --systemd writes the config for the service and prints its unit for this installation', async t => {
  const dir = await tempDir(t)
  const r = await runCli(['init', '--dir', dir, '--systemd'])
  t.equal(r.code, 0, r.stderr)
  const file = join(dir, 'flowgate.yaml')
  const config = parse(await readFile(file, 'utf8')) as { gateway: { dataDir: string } }
  t.equal(config.gateway.dataDir, '/var/lib/flowgate', 'the data in the unit\'s StateDirectory')
  t.equal((await runCli(['check-config', '--config', file])).code, 0)

  const unit = r.stdout
  const execStart = /^ExecStart=(.*)$/m.exec(unit)?.[1]
  t.equal(execStart, [process.execPath, ...GATEWAY_NODE_FLAGS, cliPath, 'start', '--config', file].join(' '), 'starts this node, with the runtime flags, on this config')
  t.match(unit, /^Type=notify$/m)
  t.match(unit, /^RestartPreventExitStatus=2$/m)
  t.match(unit, /^ExecReload=\/bin\/kill -HUP \$MAINPID$/m)
  t.match(unit, new RegExp(`^EnvironmentFile=-${join(dir, 'flowgate.env')}$`, 'm'), 'secrets for ${VAR} from beside the config')
  t.match(r.stderr, /useradd --system/, 'says how to create the service user when there is none')

  t.test('systemd-analyze verify accepts the printed unit', { skip: hasSystemdAnalyze ? false : 'systemd-analyze is not installed' }, async t => {
    const unitFile = join(dir, 'flowgate.service')
    await writeFile(unitFile, unit)
    const verify = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8' })
    t.equal(verify.status, 0, 'exit 0')
    // verify reports directives it ignores on stderr but still exits 0
    t.equal(verify.stderr + verify.stdout, '', 'without a warning')
  })
})
