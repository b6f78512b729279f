import t from 'tap'
import { pino } from 'pino'
import { hashPassword, hashProblem, parseHash, parsePasswordFile, UserDb, verifyPassword } from '../../gateway/auth/index.js'

const FAST = { N: 1024, r: 8, p: 1 }

t.test('hashPassword / verifyPassword', async t => {
  const h = await hashPassword('correct horse', FAST)
  t.match(h, /^scrypt\$1024\$8\$1\$[A-Za-z0-9+/]+=*\$[A-Za-z0-9+/]+=*$/, 'scrypt$N$r$p$salt$hash')
  t.not(await hashPassword('correct horse', FAST), h, 'a fresh salt each time')
  t.ok(await verifyPassword('correct horse', parseHash(h)))
  t.notOk(await verifyPassword('correct horsE', parseHash(h)))
  t.ok(await verifyPassword(Buffer.from('correct horse'), parseHash(h)), 'the MQTT password arrives as bytes')
  t.notOk(await verifyPassword('', parseHash(h)))
  const defaults = await hashPassword('x')
  t.match(defaults, /^scrypt\$16384\$8\$1\$/, 'default parameters')
})

t.test('hashProblem refuses what is not a usable hash, without echoing it', async t => {
  const salt = Buffer.alloc(16, 1).toString('base64')
  const hash = Buffer.alloc(32, 2).toString('base64')
  t.equal(hashProblem(`scrypt$16384$8$1$${salt}$${hash}`), undefined)
  const bad = ['hunter2', `scrypt$1000$8$1$${salt}$${hash}`, `scrypt$512$8$1$${salt}$${hash}`, `scrypt$4194304$8$1$${salt}$${hash}`,
    `scrypt$16384$0$1$${salt}$${hash}`, `scrypt$16384$8$99$${salt}$${hash}`, `scrypt$16384$8$1$c2FsdA==$${hash}`, `scrypt$16384$8$1$${salt}$aGFzaA==`,
    `bcrypt$16384$8$1$${salt}$${hash}`, `scrypt$16384$8$1$${salt}$${hash}$extra`]
  for (const b of bad) {
    const problem = hashProblem(b)
    t.type(problem, 'string', b)
    t.notOk(problem?.includes(salt) || problem?.includes('hunter2'), 'the message does not repeat the value')
  }
})

t.test('parsePasswordFile: user:hash lines, comments, issues by line number', async t => {
  const a = await hashPassword('a', FAST)
  const { users, issues } = parsePasswordFile(`# users\n\nann:${a}\r\nbob:nothash\nno-colon\nann:${a}\n  \n`)
  t.same([...users.keys()], ['ann'])
  t.same(issues.map(i => i.line), [4, 5, 6])
  t.notOk(JSON.stringify(issues).includes('nothash'), 'issues do not echo the line')
})

t.test('UserDb: verify, unknown users, and a bounded queue of checks', async t => {
  const logger = pino({ level: 'silent' })
  const db = await UserDb.open({ users: [{ name: 'ann', password: await hashPassword('pw', FAST) }], logger, concurrency: 1, maxQueue: 1 })
  t.teardown(async () => await db.close())
  t.ok(db.enabled)
  t.equal(await db.verify('ann', Buffer.from('pw')), 'ok')
  t.equal(await db.verify('ann', Buffer.from('nope')), 'bad')
  t.equal(await db.verify('nobody', Buffer.from('pw')), 'bad', 'an unknown user is just a bad login')
  t.equal(await db.verify('ann', undefined), 'bad', 'no password')
  const three = await Promise.all([db.verify('ann', Buffer.from('pw')), db.verify('ann', Buffer.from('pw')), db.verify('ann', Buffer.from('pw'))])
  t.same(three, ['ok', 'ok', 'busy'], 'one running, one waiting, the third refused as busy')
  const empty = await UserDb.open({ users: [], logger })
  t.notOk(empty.enabled, 'no users: passwords are not checked at all')
  await empty.close()
})
