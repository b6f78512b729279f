import t from 'tap'
import { InFlight } from '../../bridges/in-flight.js'

t.test('the cursor moves only over the settled prefix', async t => {
  const w = new InFlight(3, 10)
  const a = w.open(12, 2)
  const b = w.open(15, 3)
  const c = w.open(16, 1)
  t.ok(w.full, 'three requests fill a window of three')
  t.equal(w.settle(c), undefined, 'the last request answered first: the cursor stays')
  t.equal(w.settle(b), undefined, 'the middle one: it stays still, the first is open')
  t.notOk(w.full, 'room for another request')
  t.same(w.settle(a), { cursor: 16, events: 6 }, 'the first one: the cursor moves over all three')
  t.equal(w.size, 0)
})

t.test('a split batch settles a prefix of its events; later slots wait for the rest', async t => {
  const w = new InFlight(2, 0)
  const a = w.open(10, 10)
  const b = w.open(20, 10)
  t.equal(w.progress(b, 14), undefined, 'progress of a later request does not move the cursor')
  t.same(w.progress(a, 4), { cursor: 4, events: 0 }, 'the first request settled events up to 4')
  t.same(w.settle(a), { cursor: 14, events: 10 }, 'the first settles: the cursor takes the second one\'s settled prefix too')
  t.same(w.settle(b), { cursor: 20, events: 10 })
})

t.test('records that need no request settle with everything before them', async t => {
  const w = new InFlight(2, 0)
  const a = w.open(5, 5)
  t.equal(w.skip(9), undefined, 'filtered-out records after an open request wait for it')
  t.equal(w.skip(9), undefined, 'the same run again is nothing new')
  t.same(w.settle(a), { cursor: 9, events: 5 })
  t.same(w.skip(12), { cursor: 12, events: 0 }, 'with nothing open they settle at once')
  t.throws(() => w.open(12, 1), /log order/, 'a request covers records after those queued')
})

t.test('waiting for room', async t => {
  const w = new InFlight(1, 0)
  await w.space()
  const a = w.open(1, 1)
  let room = false
  const waiting = w.space().then(() => { room = true })
  await Promise.resolve()
  t.notOk(room, 'no room while the one request is open')
  w.settle(a)
  await waiting
  t.ok(room, 'room once it settles')
  const b = w.open(2, 1)
  const woken = w.space()
  w.wake()
  await woken
  t.ok(w.full, 'wake() ends the wait without making room (the bridge is stopping)')
  w.settle(b)
  t.throws(() => new InFlight(0, 0), TypeError)
})
