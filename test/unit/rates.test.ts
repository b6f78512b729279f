import t from 'tap'
import { RateHistory } from '../../gateway/rates.js'

t.test('rates are the change of the counters per second, oldest first', async t => {
  const h = new RateHistory(1000, 10_000)
  h.sample(1_000, { ingested: 0, delivered: { cloud: 0 } })
  h.sample(2_000, { ingested: 10, delivered: { cloud: 4 } })
  h.sample(4_000, { ingested: 30, delivered: { cloud: 4 } })
  t.same(h.series(['cloud']), { intervalSeconds: 1, times: [2, 4], ingest: [10, 10], bridges: { cloud: [4, 0] } })
  t.same(h.series(['cloud'], 2_000).times, [4], 'only samples after the given time')
})

t.test('memory is bounded: the oldest samples make room for the newest', async t => {
  const h = new RateHistory(1000, 5_000)
  t.equal(h.capacity, 5)
  for (let i = 0; i <= 12; i++) h.sample(i * 1000, { ingested: i * 2, delivered: {} })
  const s = h.series([])
  t.same(s.times, [8, 9, 10, 11, 12], 'the last five seconds')
  t.same(s.ingest, [2, 2, 2, 2, 2])
})

t.test('a bridge added later has no rate before it existed; one whose count starts again counts from zero', async t => {
  const h = new RateHistory()
  h.sample(0, { ingested: 0, delivered: { a: 100 } })
  h.sample(1000, { ingested: 0, delivered: { a: 110 } })
  h.sample(2000, { ingested: 0, delivered: { a: 3, b: 5 } })
  const s = h.series(['a', 'b', 'gone'])
  t.same(s.bridges.a, [10, 3])
  t.same(s.bridges.b, [null, 5])
  t.same(s.bridges.gone, [null, null])
})

t.test('a clock that stands still or goes back records nothing', async t => {
  const h = new RateHistory()
  h.sample(5000, { ingested: 1, delivered: {} })
  h.sample(5000, { ingested: 2, delivered: {} })
  h.sample(4000, { ingested: 3, delivered: {} })
  t.same(h.series([]).times, [])
  t.throws(() => new RateHistory(0), TypeError)
})
