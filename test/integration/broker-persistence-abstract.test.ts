/**
 * aedes-persistence's contract suite (abstract.js) against our LevelDB store,
 * each of its tests on a fresh LevelDB in a temp dir.
 *
 * abstract.js is written for node:test: it calls `test(name, fn)` and, inside,
 * `t.plan(n)`, `t.diagnostic(msg)` and `t.assert.<node:assert method>(...)`.
 * Each of its tests becomes a tap subtest here; every t.assert call runs the
 * same node:assert check and reports it as one tap assertion, and a plan is
 * checked when the test function returns, as node:test does. `testAsync: true` is its mode for a
 * promise-based persistence (what aedes 1.x calls): it awaits setup(broker)
 * itself and calls the methods without callbacks.
 */
import * as nodeAssert from 'node:assert'
import { createRequire } from 'node:module'
import t, { type Extra } from 'tap'
import { createBrokerPersistence } from '../../storage/broker-persistence/index.js'
import { tempLevel, type Teardown } from '../helpers/broker-persistence-fixtures.js'

type Assertion = (...args: unknown[]) => void

interface NodeTestContext {
  plan: (count: number) => void
  diagnostic: (message: string) => void
  assert: Record<string, Assertion>
}

interface AbstractOptions {
  test: (name: string, fn: (t: NodeTestContext) => Promise<void>) => void
  persistence: () => Promise<unknown>
  testAsync: boolean
}

interface TapContext extends Teardown {
  pass: (message: string) => boolean
  fail: (message: string, extra: Extra) => boolean
  comment: (...args: unknown[]) => void
}

const abstractPersistence = createRequire(import.meta.url)('aedes-persistence/abstract.js') as (opts: AbstractOptions) => void

// the node:assert methods abstract.js uses, with the index of their message argument
const ASSERTIONS: Record<string, number> = { ok: 1, equal: 2, notEqual: 2, deepEqual: 2, strictEqual: 2, deepStrictEqual: 2, notDeepEqual: 2 }

/** node:assert checks reported as tap assertions; `counted` is told of each one. */
function asTapAssertions (tt: TapContext, counted: () => void): Record<string, Assertion> {
  const out: Record<string, Assertion> = {}
  for (const [name, messageAt] of Object.entries(ASSERTIONS)) {
    const check = (nodeAssert as unknown as Record<string, Assertion>)[name]
    if (check === undefined) throw new TypeError(`node:assert has no ${name}`)
    out[name] = (...args) => {
      counted()
      const given = args[messageAt]
      const message = typeof given === 'string' ? given : name
      try {
        check(...args)
        tt.pass(message)
      } catch (err) {
        const e = err as nodeAssert.AssertionError
        tt.fail(message, { found: e.actual, wanted: e.expected, compare: e.operator, stack: e.stack })
      }
    }
  }
  return out
}

// the tap subtest now running: abstract.js builds each persistence from inside
// its test, and tap runs this file's subtests one after the other
let current: TapContext | undefined

abstractPersistence({
  test (name, fn) {
    t.test(name, async tt => {
      current = tt
      // node:test checks a plan when the test function has finished; tap's
      // plan would end the subtest at the last assertion, before abstract.js
      // has destroyed its instance, so the count is checked here instead
      let planned: number | undefined
      let made = 0
      await fn({
        plan (count) { planned = count },
        diagnostic: message => tt.comment(message),
        assert: asTapAssertions(tt, () => { made++ })
      })
      if (planned !== undefined && made !== planned) tt.fail(`planned ${planned} assertions, made ${made}`)
      // a few contract tests only check that nothing throws
      if (made === 0) tt.pass('completed without error')
    })
  },
  async persistence () {
    if (current === undefined) throw new TypeError('persistence built outside a test')
    const { db } = await tempLevel(current)
    return createBrokerPersistence(db.sublevel<string, Buffer>('broker', { keyEncoding: 'utf8', valueEncoding: 'buffer' }))
  },
  testAsync: true
})
