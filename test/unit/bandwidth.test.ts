import t from 'tap'
import { Throttle, TokenBucket } from '../../bridges/bandwidth.js'

t.test('the bucket holds one second of the rate and refills with time', async t => {
  let now = 0
  const b = new TokenBucket(1000, () => now)
  t.equal(b.capacity, 1000)
  t.equal(b.delayFor(800), 0, 'a full bucket lets 800 bytes go at once')
  b.take(800)
  t.equal(b.delayFor(500), 300, '300 ms until 500 more may go (200 left, 1 byte a ms)')
  now += 300
  t.equal(b.delayFor(500), 0)
  b.take(500)
  now += 10_000
  t.equal(b.delayFor(1000), 0, 'an idle bucket refills to its capacity, not beyond')
  b.take(1000)
  t.equal(b.delayFor(1), 1, 'empty: the next byte in a millisecond')
})

t.test('a request larger than the bucket goes once it is full and is paid off after', async t => {
  let now = 0
  const b = new TokenBucket(1000, () => now)
  b.take(100)
  t.equal(b.delayFor(5000), 100, 'waits for a full bucket')
  now += 100
  t.equal(b.delayFor(5000), 0)
  b.take(5000)
  t.equal(b.delayFor(100), 4100, 'the next request waits until the debt is paid and it fits')
})

t.test('over any stretch, at most rate x time + one bucket', async t => {
  let now = 0
  const b = new TokenBucket(16_384, () => now)
  const sent: Array<[number, number]> = []
  // requests of 1-20 KiB as fast as the bucket allows, for a minute of simulated time
  for (let i = 0; now < 60_000; i++) {
    const size = 1024 * (1 + (i * 7) % 20)
    now += b.delayFor(size)
    b.take(size)
    sent.push([now, size])
  }
  let worst = 0
  for (let i = 0; i < sent.length; i++) {
    const [from] = sent[i] as [number, number]
    const bytes = sent.filter(([at]) => at >= from && at < from + 20_000).reduce((n, [, size]) => n + size, 0)
    if (from + 20_000 <= 60_000) worst = Math.max(worst, bytes / 20)
  }
  t.ok(worst <= 16_384 * 1.1, `the busiest 20 s carried ${(worst / 16_384).toFixed(3)}x the cap`)
  t.ok(worst >= 16_384 * 0.9, 'and used most of it')
})

t.test('the throttle grants requests in order and stops with the bridge', async t => {
  const throttle = new Throttle(1_000_000)
  const order: number[] = []
  const ac = new AbortController()
  await Promise.all([1, 2, 3].map(async n => { await throttle.acquire(600_000, ac.signal); order.push(n) }))
  t.same(order, [1, 2, 3], 'in the order asked')
  const waiting = throttle.acquire(600_000, ac.signal)
  ac.abort()
  await t.rejects(waiting, { name: 'AbortError' })
  t.throws(() => new TokenBucket(0, () => 0), TypeError)
})
