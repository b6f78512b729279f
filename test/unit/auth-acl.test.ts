import t from 'tap'
import { Acl, covers, filterProblem, matches, substitute } from '../../gateway/auth/index.js'

const L = (s: string): string[] => s.split('/')

t.test('matches: topic names against filters [MQTT-4.7]', async t => {
  const cases: Array<[string, string, boolean]> = [
    ['a/b', 'a/b', true], ['a/+', 'a/b', true], ['a/+', 'a/b/c', false], ['a/#', 'a', true], ['a/#', 'a/b/c', true],
    ['#', 'a/b', true], ['+/+', 'a/b', true], ['+', '', true], ['a/+/c', 'a//c', true], ['a/b', 'a/c', false],
    ['#', '$SYS/x', false], ['+/x', '$SYS/x', false], ['$SYS/#', '$SYS/x', true]
  ]
  for (const [f, topic, want] of cases) t.equal(matches(L(f), L(topic)), want, `${f} ~ ${topic}`)
})

t.test('covers: a subscription lies within a rule filter only if every topic it matches does', async t => {
  const cases: Array<[string, string, boolean]> = [
    ['a/#', 'a/#', true], ['a/#', 'a/b/+', true], ['a/#', 'a', true], ['a/+', 'a/b', true], ['a/+', 'a/+', true],
    ['a/+', 'a/#', false], ['a/b', 'a/+', false], ['a/b/#', 'a/#', false], ['a/+/c', 'a/+/+', false], ['+/b', '+/b', true],
    ['#', '$SYS/#', false], ['$SYS/#', '$SYS/+', true], ['a/b', 'a/b/c', false], ['a/b/c', 'a/b', false]
  ]
  for (const [rule, sub, want] of cases) t.equal(covers(L(rule), L(sub)), want, `${sub} within ${rule}`)
})

t.test('substitute: %u and %c only ever become literal text inside one level', async t => {
  t.equal(substitute('d/%u/%c/#', { user: 'ann', clientId: 'c1' }), 'd/ann/c1/#')
  t.equal(substitute('d/%u-x', { user: 'ann', clientId: 'c1' }), 'd/ann-x', 'inside a level')
  for (const user of ['+', '#', 'a/b', '', '$SYS', 'a\u0000b', 'x+y']) {
    t.equal(substitute('d/%u/#', { user, clientId: 'c' }), undefined, `user ${JSON.stringify(user)}: the filter is dropped`)
  }
  t.equal(substitute('d/%u/#', { clientId: 'c' }), undefined, 'no user (anonymous): dropped')
  t.equal(substitute('d/%c', { user: 'u', clientId: '#' }), undefined, 'client id "#": dropped')
  t.equal(substitute('d/%u', { user: '%c', clientId: 'bob' }), 'd/%c', 'one pass: a substituted value is not substituted again')
  t.equal(substitute('plain/topic', { clientId: '#' }), 'plain/topic', 'no placeholder, nothing to check')
})

t.test('filterProblem: MQTT topic filter syntax', async t => {
  for (const ok of ['a', 'a/+/b', '#', 'a/#', '+', '/', 'd/%u/#']) t.equal(filterProblem(ok), undefined, ok)
  for (const bad of ['', 'a/#/b', 'a+/b', 'a/b#', 'a\u0000']) t.type(filterProblem(bad), 'string', JSON.stringify(bad))
})

t.test('Acl: no rules allow everything; with rules, deny by default', async t => {
  const open = new Acl([]).forClient({ clientId: 'c' })
  t.ok(open.canPublish('any/thing') && open.canSubscribe('#'))

  const acl = new Acl([
    { user: 'admin', publish: ['#'], subscribe: ['#'] },
    { publish: ['devices/%u/#'], subscribe: ['devices/%u/#', 'cmd/%c'] },
    { user: 'ann', publish: ['shared/ann'], subscribe: [] }
  ])
  t.ok(acl.enabled)
  const ann = acl.forClient({ user: 'ann', clientId: 'pi-1' })
  t.ok(ann.canPublish('devices/ann/t'))
  t.ok(ann.canPublish('shared/ann'))
  t.notOk(ann.canPublish('devices/bob/t'))
  t.notOk(ann.canPublish('elsewhere'))
  t.ok(ann.canSubscribe('devices/ann/+/x'))
  t.ok(ann.canSubscribe('cmd/pi-1'))
  t.notOk(ann.canSubscribe('cmd/+'))
  t.notOk(ann.canSubscribe('devices/#'))
  const anon = acl.forClient({ clientId: 'pi-2' })
  t.notOk(anon.canPublish('devices/undefined/x'), 'an anonymous client gets no %u filters')
  t.ok(anon.canSubscribe('cmd/pi-2'), 'but %c ones')
  const admin = acl.forClient({ user: 'admin', clientId: 'x' })
  t.ok(admin.canSubscribe('#') && admin.canPublish('a/b/c'))
  t.notOk(acl.forClient({ user: 'Admin', clientId: 'x' }).canPublish('a/b/c'), 'user names are case-sensitive')
})
