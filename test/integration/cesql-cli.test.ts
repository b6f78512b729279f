import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { cliPath, runCli } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'

t.test('flowgate cesql EXPR [--event FILE] prints value and error', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'event.json')
  await writeFile(file, JSON.stringify({ specversion: '1.0', id: '1', source: '/s', type: 't', deviceid: 'th-7', sequence: '0000000000000150' }))
  const ok = await runCli(['cesql', "deviceid LIKE 'th-%' AND INT(sequence) > 100", '--event', file])
  t.equal(ok.code, 0)
  t.same(JSON.parse(ok.stdout), { value: true, error: null })
  const missing = await runCli(['cesql', 'nosuch = 1'])
  t.equal(missing.code, 0)
  t.match(JSON.parse(missing.stdout), { value: false, error: { kind: 'missingAttribute' } })
  const parse = await runCli(['cesql', 'a AND'])
  t.match(JSON.parse(parse.stdout), { error: { kind: 'parse' } })
})

t.test('flowgate cesql --jsonl answers one line per input line', async t => {
  const proc = spawn(process.execPath, [cliPath, 'cesql', '--jsonl'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
  proc.stdin.end([
    JSON.stringify({ expression: '1 + 1', event: { specversion: '1.0', id: '1', source: '/s', type: 't' } }),
    JSON.stringify({ expression: '5 / 0', event: { specversion: '1.0', id: '1', source: '/s', type: 't' } }),
    'not json',
    JSON.stringify({ expression: "UPPER(kind)", event: { specversion: '1.0', id: '1', source: '/s', type: 't', kind: 'telemetry' } })
  ].join('\n') + '\n')
  const code = await new Promise(resolve => proc.once('exit', resolve))
  t.equal(code, 0)
  const lines = out.trim().split('\n').map(l => JSON.parse(l) as { value: unknown, error: { kind: string } | null })
  t.equal(lines.length, 4)
  t.same(lines[0], { value: 2, error: null })
  t.equal(lines[1]?.error?.kind, 'math')
  t.ok(lines[2]?.error !== null, 'a malformed line gets an error line')
  t.same(lines[3], { value: 'TELEMETRY', error: null })
})
