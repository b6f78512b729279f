/**
 * Bad config input fails at once: a config file (or password file) that is
 * huge, a FIFO, a device or a YAML alias bomb is refused with exit code 2 and
 * a one-line error, in under a second beyond the command's own start-up and
 * in under 100 MiB.
 */
import { execFile, spawn } from 'node:child_process'
import { readFile, truncate, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { cliPath } from '../helpers/child.js'
import { tempDir, type TestContext } from '../helpers/gateway.js'
import { repoRoot } from '../helpers/paths.js'

const reportMaxRss = join(repoRoot, 'dist', 'test', 'helpers', 'report-max-rss.js')

interface Outcome { code: number | null, stderr: string, ms: number, maxRssMiB: number }

/** Runs `flowgate ...args`; killed after 20 s (a command that hangs reports code null). */
async function flowgate (t: TestContext, args: string[]): Promise<Outcome> {
  const rssFile = join(await tempDir(t), 'max-rss')
  const start = performance.now()
  // through env(1), which drops the NODE_OPTIONS the test runner adds to every child it sees spawned:
  // its loader would be measured with the command
  const proc = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '--import', reportMaxRss, cliPath, ...args], { env: { ...process.env, FG_TEST_MAX_RSS_FILE: rssFile }, stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000)
  const code = await new Promise<number | null>(resolve => proc.once('exit', c => resolve(c)))
  clearTimeout(timer)
  const ms = performance.now() - start
  const maxRssMiB = Number(await readFile(rssFile, 'utf8').catch(() => 'NaN')) / 1024
  return { code, stderr, ms, maxRssMiB }
}

function refused (t: Tap, what: string, r: Outcome, baselineMs: number, message: RegExp): void {
  t.equal(r.code, 2, `${what}: exit code 2`)
  const lines = r.stderr.trim().split('\n')
  t.equal(lines.length, 1, `${what}: one line (${lines.length})`)
  t.match(lines[0], message, `${what}: says why`)
  t.ok(r.ms < baselineMs + 1000, `${what}: in ${Math.round(r.ms)} ms, under a second beyond the ${Math.round(baselineMs)} ms a valid config takes`)
  t.ok(r.maxRssMiB < 100, `${what}: peak memory ${r.maxRssMiB.toFixed(0)} MiB`)
}

type Tap = Pick<typeof t, 'equal' | 'match' | 'ok'>

const ALIAS_BOMB = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f'], ['h', 'g'], ['i', 'h']] as const) ALIAS_BOMB.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`)

t.test('config files that are huge, not regular files or alias bombs are refused at once', async t => {
  const dir = await tempDir(t)
  const valid = join(dir, 'valid.yaml')
  await writeFile(valid, 'gateway:\n  id: bounds\n')
  const baseline = await flowgate(t, ['check-config', '--config', valid])
  t.equal(baseline.code, 0, 'a valid config passes')
  t.comment(`a valid config: ${Math.round(baseline.ms)} ms, ${baseline.maxRssMiB.toFixed(0)} MiB`)

  const huge = join(dir, 'huge.yaml')
  await writeFile(huge, 'k: v\n'.repeat(10))
  await truncate(huge, 50 * 1024 * 1024) // 50 MB (zeros after the keys)
  const fifo = join(dir, 'fifo.yaml')
  await promisify(execFile)('mkfifo', [fifo])
  const bomb = join(dir, 'bomb.yaml')
  await writeFile(bomb, ALIAS_BOMB.join('\n') + '\n')
  const cases: Array<[string, string, RegExp]> = [
    ['a 50 MB file', huge, /FG_ERR_CONFIG_READ: .*huge\.yaml: cannot read config file \(is 52428800 bytes, more than the 1048576 allowed; a config file is a regular file of at most 1 MiB\)$/],
    ['a FIFO', fifo, /FG_ERR_CONFIG_READ: .*fifo\.yaml: cannot read config file \(is a FIFO, not a regular file/],
    ['/dev/zero', '/dev/zero', /FG_ERR_CONFIG_READ: \/dev\/zero: cannot read config file \(is a device, not a regular file/],
    ['a directory', dir, /FG_ERR_CONFIG_READ: .*cannot read config file \(is a directory/],
    ['an alias bomb', bomb, /FG_ERR_CONFIG_INVALID: .*bomb\.yaml: YAML aliases expand too far/]
  ]
  for (const [what, file, message] of cases) {
    for (const command of ['check-config', 'start']) refused(t, `${command}, ${what}`, await flowgate(t, [command, '--config', file]), baseline.ms, message)
  }
})

t.test('password files that are huge or not regular files are refused at once', async t => {
  const dir = await tempDir(t)
  const config = (passwordFile: string): string => `gateway: { id: bounds, dataDir: ${JSON.stringify(join(dir, 'data'))}, logLevel: silent }
broker:
  listeners: [{ port: 0 }]
  auth: { passwordFile: ${JSON.stringify(passwordFile)} }
admin: { enabled: false }
`
  const valid = join(dir, 'valid.yaml')
  await writeFile(valid, 'gateway:\n  id: bounds\n')
  const baseline = await flowgate(t, ['check-config', '--config', valid])
  const huge = join(dir, 'users.txt')
  await writeFile(huge, '')
  await truncate(huge, 50 * 1024 * 1024)
  const fifo = join(dir, 'users.fifo')
  await promisify(execFile)('mkfifo', [fifo])
  const cases: Array<[string, string, RegExp]> = [
    ['a 50 MB password file', huge, /FG_ERR_AUTH_FILE: .*users\.txt: cannot read password file \(is 52428800 bytes, more than the 16777216 allowed/],
    ['a FIFO as password file', fifo, /FG_ERR_AUTH_FILE: .*users\.fifo: cannot read password file \(is a FIFO, not a regular file/],
    ['/dev/zero as password file', '/dev/zero', /FG_ERR_AUTH_FILE: \/dev\/zero: cannot read password file \(is a device, not a regular file/]
  ]
  for (const [i, [what, passwordFile, message]] of cases.entries()) {
    const file = join(dir, `config-${i}.yaml`)
    await writeFile(file, config(passwordFile))
    refused(t, `start with ${what}`, await flowgate(t, ['start', '--config', file]), baseline.ms, message)
  }
})
