// The conformance suites (CESQL TCK, CloudEvents HTTP samples) must never pass silently without
// their data: CI fails when ../shared/conformance is missing, a developer's run says it skipped.
import { join } from 'node:path'
import t from 'tap'
import { conformanceDir, conformancePresent, inCI, repoRoot, type PlanOrFail } from '../helpers/paths.js'

function recorder (): PlanOrFail & { calls: string[] } {
  const calls: string[] = []
  return {
    calls,
    fail: (message: string) => calls.push(`fail: ${message}`),
    plan: (count: number, reason?: string) => calls.push(`plan ${count}: ${reason ?? ''}`)
  }
}

const missing = join(conformanceDir, 'no-such-suite')

t.test('a missing folder fails the test in CI', async t => {
  const r = recorder()
  t.equal(conformancePresent(r, missing, { CI: 'true' }), false)
  t.equal(r.calls.length, 1)
  t.match(r.calls[0], /^fail: .*no-such-suite is missing: CI must provide \.\.\/shared\/conformance/)
})

t.test('a missing folder skips the test file elsewhere, saying why', async t => {
  for (const env of [{}, { CI: '' }, { CI: 'false' }, { CI: '0' }]) {
    const r = recorder()
    t.equal(conformancePresent(r, missing, env), false)
    t.strictSame(r.calls.length, 1)
    t.match(r.calls[0], /^plan 0: .*no-such-suite is missing, so these conformance tests are skipped/, JSON.stringify(env))
  }
})

t.test('a present folder runs the tests', async t => {
  const r = recorder()
  t.equal(conformancePresent(r, repoRoot, { CI: 'true' }), true)
  t.strictSame(r.calls, [])
})

t.test('CI is recognised as CI services set it', async t => {
  t.ok(inCI({ CI: 'true' }))
  t.ok(inCI({ CI: '1' }))
  t.notOk(inCI({}))
  t.notOk(inCI({ CI: 'false' }))
})
