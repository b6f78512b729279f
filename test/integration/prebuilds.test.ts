import { spawn } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { repoRoot } from '../helpers/paths.js'

interface Verdict { pkg: string, target: string, required: boolean, node: number, file?: string, ok: boolean, reason?: string }

// fetches the native packages' platform packages from the registry
t.setTimeout(300_000)

t.test('every native production dependency has a prebuilt binary for linux-arm64 and linux-arm on Node 20, 22 and 24', async t => {
  const proc = spawn(process.execPath, [join(repoRoot, 'dist', 'scripts', 'check-prebuilds.js'), '--json'], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => proc.once('close', resolve))
  const verdicts = JSON.parse(out) as Verdict[]
  const pkgs = [...new Set(verdicts.map(v => v.pkg))].sort()
  t.same(pkgs, ['cbor-extract', 'classic-level'], 'the native packages: LevelDB and CBOR string extraction')
  for (const v of verdicts.filter(v => v.required)) t.ok(v.ok, `${v.pkg} ${v.target} node ${v.node}: ${v.file ?? v.reason ?? ''}`)
  t.equal(verdicts.filter(v => v.required).length, 2 * 2 * 3, 'two packages x two targets x three Node majors')
  t.equal(code, 0, 'the check exits 0')
})
