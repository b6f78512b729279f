import t from 'tap'
import { eventually } from '../helpers/wait.js'

t.test('eventually resolves once the condition holds', async t => {
  let checks = 0
  await eventually('three checks', () => ++checks === 3, { everyMs: 1 })
  t.equal(checks, 3)
})

t.test('eventually gives up at its deadline and says what it waited for', async t => {
  let value = 0
  await t.rejects(
    eventually('the value to reach 1', () => value === 1, { timeoutMs: 30, everyMs: 5, seen: () => ({ value }) }),
    { message: 'timed out after 30 ms waiting for the value to reach 1; last seen: {"value":0}' }
  )
  value = 1
  await t.resolves(eventually('the value to reach 1', async () => value === 1, { timeoutMs: 30 }), 'an async condition')
})
