import t from 'tap'
import { LineBudget } from '../../bridges/line-budget.js'
import { eventually } from '../helpers/wait.js'

t.test('a line budget lets the first lines of a period through and says how many it held back, once per period', async t => {
  let now = 0
  const said: number[] = []
  const budget = new LineBudget(3, 60_000, n => said.push(n), () => now)
  const first = Array.from({ length: 10 }, () => budget.take())
  t.same(first, [true, true, true, false, false, false, false, false, false, false], 'three lines, then none')
  t.same(said, [], 'nothing said before the period ends')
  now = 60_000
  t.ok(budget.take(), 'a new period: lines again')
  t.same(said, [7], 'and the seven held back are said in one line')
  budget.take(); budget.take(); budget.take()
  budget.sayHeld()
  t.same(said, [7, 1], 'sayHeld says what is held back (a stopping bridge)')
  budget.sayHeld()
  t.same(said, [7, 1], 'and nothing twice')
})

t.test('the count of held-back lines is said when the period ends, even if no line comes after', async t => {
  const said: number[] = []
  const budget = new LineBudget(1, 30, n => said.push(n))
  budget.take(); budget.take(); budget.take()
  await eventually('the summary at the end of the period', () => said.length > 0, { timeoutMs: 5000, everyMs: 5 })
  t.same(said, [2])
})
