import { existsSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

function findRoot (start: string): string {
  let dir = start
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir)
    if (up === dir) throw new Error('package.json not found above ' + start)
    dir = up
  }
  return dir
}

/** The project checkout (where package.json is), whether run from test/ or dist/test/. */
export const repoRoot = findRoot(dirname(fileURLToPath(import.meta.url)))

/** ../shared/conformance beside the checkout; may be absent. */
export const conformanceDir = resolve(repoRoot, '..', 'shared', 'conformance')
