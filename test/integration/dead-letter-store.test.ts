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
