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

/** ../shared/conformance beside the checkout; may be absent on a developer's machine, never in CI. */
export const conformanceDir = resolve(repoRoot, '..', 'shared', 'conformance')

/** True when the tests run in CI (`CI` set, as CI services and .ci/run do). */
export function inCI (env: NodeJS.ProcessEnv = process.env): boolean {
  const ci = env.CI
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0'
}

/** What conformancePresent needs of a tap test. */
export interface PlanOrFail {
  fail (message: string): unknown
  plan (count: number, reason?: string): unknown
}

/**
 * True when `dir` (a folder of ../shared/conformance) exists. When it is missing: in CI, which
 * always has it, the test fails saying so; elsewhere the test file is skipped, saying why.
 */
export function conformancePresent (t: PlanOrFail, dir: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (existsSync(dir)) return true
  if (inCI(env)) t.fail(`${dir} is missing: CI must provide ../shared/conformance; these conformance tests did not run`)
  else t.plan(0, `${dir} is missing, so these conformance tests are skipped (in CI they fail instead)`)
  return false
}
