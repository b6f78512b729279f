// The folders are layers: storage/ and config/ at the bottom (neither knows the other),
// bridges/ above them, gateway/ on top. A folder imports only lower folders, and only through
// their index.ts, so each folder's public surface is its index and the ground floor never
// depends on the composition root. scripts/ and test/ may import anything.
import { dirname, posix } from 'node:path'
import t from 'tap'
import { importsOf, sourceFiles } from '../helpers/source.js'

const RANK: Readonly<Record<string, number>> = { storage: 0, config: 0, bridges: 1, gateway: 2 }
const LAYERED = Object.keys(RANK)

/** What is wrong with `from` importing `spec`, or undefined when the import is allowed. */
export function layerProblem (from: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined // a package or a node: built-in
  const target = posix.normalize(posix.join(dirname(from), spec))
  if (target.startsWith('..')) return `${spec} leaves the checkout`
  const source = from.split('/')[0] ?? ''
  const folder = target.split('/')[0] ?? ''
  if (folder === source) return undefined
  const rank = RANK[folder]
  if (rank === undefined) return `${folder}/ is not a layer the product may import (${target})`
  const own = RANK[source] ?? Infinity
  if (rank >= own) return `${source}/ may not import ${folder}/ (${target}): lower folders never import higher or sibling ones`
  if (target !== `${folder}/index.js`) return `${target} is a deep file of ${folder}/: import ${folder}/index.js`
  return undefined
}

t.test('the rule itself', async t => {
  t.equal(layerProblem('bridges/compile.ts', '../config/index.js'), undefined, 'bridges may use config through its index')
  t.equal(layerProblem('gateway/commands/cesql.ts', '../../bridges/index.js'), undefined)
  t.equal(layerProblem('storage/event-log.ts', './codec.js'), undefined, 'inside a folder anything goes')
  t.equal(layerProblem('storage/store.ts', 'level'), undefined)
  t.match(layerProblem('storage/store.ts', '../gateway/errors.js'), /storage\/ may not import gateway\//)
  t.match(layerProblem('config/load.ts', '../gateway/index.js'), /config\/ may not import gateway\//)
  t.match(layerProblem('bridges/bridge.ts', '../gateway/index.js'), /bridges\/ may not import gateway\//)
  t.match(layerProblem('storage/store.ts', '../config/index.js'), /storage\/ may not import config\//)
  t.match(layerProblem('gateway/receiver.ts', '../bridges/cloudevents/index.js'), /bridges\/cloudevents\/index\.js is a deep file of bridges\//)
  t.match(layerProblem('bridges/cloudevents/mapper.ts', '../../storage/record.js'), /deep file of storage\//)
  t.match(layerProblem('gateway/gateway.ts', '../test/helpers/paths.js'), /test\/ is not a layer/)
})

t.test('every import of the product follows the layers', async t => {
  const files = sourceFiles(LAYERED)
  t.ok(files.length > 50, `read ${files.length} source files`)
  const problems: string[] = []
  let checked = 0
  for (const file of files) {
    for (const imp of importsOf(file)) {
      checked++
      const problem = layerProblem(file.path, imp.text)
      if (problem !== undefined) problems.push(`${file.path}:${imp.line}: ${problem}`)
    }
  }
  t.ok(checked > 200, `checked ${checked} imports`)
  t.strictSame(problems, [], problems.join('\n'))
})
