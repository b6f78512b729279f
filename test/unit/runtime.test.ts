import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import { repoRoot } from '../helpers/paths.js'

// the source, its build, and the bundled command that package.json's bin names
const sources = [join(repoRoot, 'gateway', 'cli.ts'), join(repoRoot, 'dist', 'gateway', 'cli.js'), join(repoRoot, 'dist', 'gateway', 'flowgate.js')]

t.test('the flowgate command starts node with the gateway runtime settings', async t => {
  for (const file of sources) {
    const first = (await readFile(file, 'utf8')).split('\n', 1)[0]
    t.equal(first, `#!/usr/bin/env -S node ${GATEWAY_NODE_FLAGS.join(' ')}`, `${file}: its first line passes GATEWAY_NODE_FLAGS`)
  }
})

t.test('the interpreter line runs here as the kernel runs it, and node takes the settings', async t => {
  const first = (await readFile(sources[1] as string, 'utf8')).split('\n', 1)[0] as string
  // a kernel hands "#!prog arg" to prog as one argument, then the script's path
  const [prog, arg] = [first.slice(2, first.indexOf(' ')), first.slice(first.indexOf(' ') + 1)]
  const probe = join(repoRoot, 'dist', 'test', 'helpers', 'print-exec-argv.js')
  const proc = spawn(prog, [arg, probe], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const code = await new Promise<number | null>(resolve => proc.once('exit', c => resolve(c)))
  t.equal(code, 0, 'exits 0')
  t.same(JSON.parse(out), GATEWAY_NODE_FLAGS, 'node runs with the flags of the first line')
})
