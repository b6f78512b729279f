/**
 * The state store reopens its LevelDB to retry a write the disk refused (LevelDB keeps a failed
 * write's error until then). Status, bridges and the broker read the store meanwhile: a read made
 * while it is closed waits for it to open again, and an iteration it cuts resumes where it was.
 */
import t from 'tap'
import { CursorStore, DeadLetterStore, Store, SubscriptionStore, type DeadLetter } from '../../storage/index.js'
import { tempDir } from '../helpers/gateway.js'

const letter = (seq: number): DeadLetter => ({ seq, time: 1_700_000_000_000 + seq, event: { id: `gw-${seq}`, specversion: '1.0' }, status: 400, body: 'rejected' })

t.test('reads made while the state store reopens wait for it and find what is stored', async t => {
  const dir = await tempDir(t)
  const store = await Store.open(dir)
  t.teardown(async () => await store.close())
  const cursors = new CursorStore(store)
  const subs = new SubscriptionStore<{ id: string, sink: string }>(store)
  await cursors.set('up', 41)
  await cursors.set('other', 7)
  await new DeadLetterStore(store).add('up', [letter(3), letter(5)])
  await subs.put({ id: 's1', sink: 'http://upstream.example/events' })

  // a first count, as /api/status makes, reads the whole dead-letter index
  const dlq = new DeadLetterStore(store)
  const reopening = store.reopen()
  t.equal(store.db.status, 'closing', 'the reads below start while the database is closing')
  const [cursor, all, count, letters, stored] = await Promise.all([
    cursors.get('up'),
    cursors.all(),
    dlq.count('up'),
    dlq.list('up'),
    subs.all()
  ])
  await reopening
  t.equal(cursor, 41, 'a cursor')
  t.same([...all], [['other', 7], ['up', 41]], 'every cursor')
  t.equal(count, 2, 'the dead-letter count')
  t.same(letters.map(l => l.seq), [3, 5], 'the dead letters')
  t.same(stored.map(s => s.id), ['s1'], 'the subscriptions')
})

t.test('an iteration cut by a reopen resumes after its last entry: each entry once, in order', async t => {
  const dir = await tempDir(t)
  const store = await Store.open(dir)
  t.teardown(async () => await store.close())
  const cursors = new CursorStore(store)
  const names = Array.from({ length: 500 }, (_, i) => `b${String(i).padStart(3, '0')}`)
  for (const name of names) await cursors.set(name, 1)

  const seen: string[] = []
  let reopening: Promise<void> | undefined
  for await (const [key] of store.entries(store.sublevel('cursors'), { gte: 'b100', lt: 'b400' })) {
    seen.push(key)
    if (seen.length === 20) reopening = store.reopen()
  }
  await reopening
  t.ok(reopening !== undefined, 'the store reopened during the iteration')
  t.same(seen, names.slice(100, 400), 'every entry of the range once, in key order')
})

t.test('a read waiting for a reopen settles when the store closes: a stop never waits on it', async t => {
  const dir = await tempDir(t)
  const store = await Store.open(dir)
  const cursors = new CursorStore(store)
  await cursors.set('up', 1)
  const reopening = store.reopen()
  const reading: Promise<{ seq?: number, code?: string }> = cursors.get('up').then(seq => ({ seq }), (err: { code?: string }) => ({ code: err.code }))
  await store.close()
  await reopening.catch(() => {})
  const read = await reading
  t.ok(read.seq === 1 || read.code === 'LEVEL_DATABASE_NOT_OPEN', `the read settled (${JSON.stringify(read)})`)
  await t.rejects(cursors.get('up'), { code: 'LEVEL_DATABASE_NOT_OPEN' }, 'and a read after the close fails at once')
})
