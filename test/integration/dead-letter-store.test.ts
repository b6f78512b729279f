import t from 'tap'
import { DeadLetterStore, Store, type DeadLetter } from '../../storage/index.js'
import { tempDir } from '../helpers/gateway.js'

const letter = (seq: number, status = 400): DeadLetter => ({ seq, time: 1_700_000_000_000 + seq, event: { id: `gw-${seq}`, specversion: '1.0' }, status, body: 'rejected' })

t.test('the dead-letter count stays exact through adds, repeats, removals and a restart', async t => {
  const dir = await tempDir(t)
  let store = await Store.open(dir)
  t.teardown(async () => await store.close())
  const dlq = new DeadLetterStore(store)
  t.equal(await dlq.count('up'), 0, 'none at first')
  await dlq.add('up', [letter(1), letter(2), letter(3)])
  await dlq.add('other', [letter(7)])
  t.equal(await dlq.count('up'), 3)
  await dlq.add('up', [letter(2, 422)])
  t.equal(await dlq.count('up'), 3, 'an event dead-lettered again replaces its entry')
  t.equal((await dlq.list('up')).find(l => l.seq === 2)?.status, 422, 'with the newer rejection')
  await dlq.remove('up', [1, 99])
  t.equal(await dlq.count('up'), 2, 'removing one that is not there changes nothing')
  t.equal(await dlq.count('other'), 1, 'bridges are counted apart')

  await store.close()
  store = await Store.open(dir)
  const reopened = new DeadLetterStore(store)
  // the first count reads the store while an add is under way: it must see it exactly once
  const [, counted] = await Promise.all([reopened.add('up', [letter(10)]), reopened.count('up')])
  t.equal(await reopened.count('up'), 3, 'after a restart the count is read from the store')
  t.ok(counted === 2 || counted === 3, 'a count taken during an add is either side of it')
  t.same((await reopened.list('up')).map(l => l.seq), [2, 3, 10])
})

t.test('dead letters stay within their byte budget over all bridges: the oldest go first, counted by bridge and reported', async t => {
  const dir = await tempDir(t)
  const store = await Store.open(dir)
  t.teardown(async () => await store.close())
  const big = (seq: number, time: number): DeadLetter => ({ seq, time, event: { id: `gw-${seq}`, specversion: '1.0', data: 'x'.repeat(1000) }, status: 400, body: 'rejected' })
  const dlq = new DeadLetterStore(store, { maxBytes: 10_000 })
  const evicted: Array<{ bridge: string, count: number, fromSeq: number, toSeq: number }> = []
  dlq.on('evict', (e: typeof evicted[number]) => evicted.push(e))
  // interleaved in time: a's 1-5 are older than b's 6-10, which are older than a's 11-15
  for (let seq = 1; seq <= 5; seq++) await dlq.add('a', [big(seq, 1000 + seq)])
  for (let seq = 6; seq <= 10; seq++) await dlq.add('b', [big(seq, 1000 + seq)])
  await dlq.add('a', [11, 12, 13, 14, 15].map(seq => big(seq, 1000 + seq)))
  const usage = await dlq.usage()
  t.ok(usage.bytes <= 10_000, `within the budget (${usage.bytes} bytes)`)
  const kept = [...(await dlq.list('a')).map(l => l.seq), ...(await dlq.list('b')).map(l => l.seq)].sort((x, y) => x - y)
  const oldestKept = kept[0] as number
  t.ok(kept.length >= 8 && kept.length < 15, `the newest are kept (${kept.join(',')})`)
  t.same(kept, Array.from({ length: 16 - oldestKept }, (_, k) => oldestKept + k), 'and the oldest, of either bridge, were removed first')
  const removedA = evicted.filter(e => e.bridge === 'a').reduce((n, e) => n + e.count, 0)
  const removedB = evicted.filter(e => e.bridge === 'b').reduce((n, e) => n + e.count, 0)
  t.equal(removedA + removedB, 15 - kept.length, 'every removal is reported')
  t.same(usage.evicted, { ...(removedA > 0 ? { a: removedA } : {}), ...(removedB > 0 ? { b: removedB } : {}) }, 'and counted by bridge')
  t.equal(await dlq.count('a') + await dlq.count('b'), kept.length, 'the counts follow')
})
