import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { DOC_END, DOC_START, renderConfigReference } from '../../config/index.js'
import { repoRoot } from '../helpers/paths.js'

const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')

t.test('the README config reference is the one generated from the schema', async t => {
  const start = readme.indexOf(DOC_START)
  const end = readme.indexOf(DOC_END)
  t.ok(start >= 0 && end > start, 'README has the reference markers')
  t.equal(readme.slice(start, end + DOC_END.length), renderConfigReference(), 'run `npm run docs` after changing config/schema.ts')
})

t.test('the README shows the two commands a newcomer needs', async t => {
  t.match(readme, 'npm install && npm start')
  t.match(readme, 'npm test')
})

t.test('the example configs are valid', async t => {
  const { readdir } = await import('node:fs/promises')
  const { loadGatewayConfig } = await import('../../gateway/config.js')
  const dir = join(repoRoot, 'config', 'examples')
  const files = (await readdir(dir)).filter(f => f.endsWith('.yaml'))
  t.ok(files.includes('quickstart.yaml'))
  for (const f of files) {
    const loaded = await loadGatewayConfig(join(dir, f), {})
    t.ok(loaded.config.bridges.length >= 0, `${f} is valid`)
  }
})
