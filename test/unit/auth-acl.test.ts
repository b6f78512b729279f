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

t.test('Acl: rules are read in order and the first match decides', async t => {
  const acl = new Acl([
    { deny: true, publish: ['devices/+/config'], subscribe: ['secret/#'] },
    { publish: ['devices/#'], subscribe: ['#'] }
  ])
  const c = acl.forClient({ clientId: 'c' })
  t.ok(c.canPublish('devices/a/t'), 'allowed by the second rule')
  t.notOk(c.canPublish('devices/a/config'), 'denied by the first, although the second allows it')
  t.notOk(c.canPublish('elsewhere'), 'an allowlist: what no rule matches is refused')
  t.notOk(c.canSubscribe('secret/#') || c.canSubscribe('secret/x/+'), 'subscriptions within a denied filter are refused')
  t.ok(c.canSubscribe('#'), 'one that only overlaps it is allowed')
  t.ok(c.filtersDeliveries)
  t.notOk(c.canReceive('secret/x'), 'but the denied topics are not delivered to it')
  t.ok(c.canReceive('public/x'))

  const reversed = new Acl([{ publish: ['devices/#'], subscribe: [] }, { deny: true, publish: ['devices/+/config'], subscribe: [] }]).forClient({ clientId: 'c' })
  t.ok(reversed.canPublish('devices/a/config'), 'in the other order the allow rule matches first')
  t.notOk(reversed.filtersDeliveries, 'no deny rule on subscriptions: deliveries are not checked')
})

t.test('Acl: a list of deny rules only is a blocklist', async t => {
  const acl = new Acl([{ deny: true, publish: [], subscribe: ['test/nosubscribe'] }])
  const c = acl.forClient({ clientId: 'c' })
  t.notOk(c.canSubscribe('test/nosubscribe'))
  t.ok(c.canSubscribe('test/other') && c.canSubscribe('#') && c.canPublish('any/thing') && c.canPublish('$TopicA/B'), 'everything else is allowed')
  t.notOk(c.canReceive('test/nosubscribe'))
  t.ok(c.canReceive('test/other'))
})

t.test('Acl: deny rules for one user; a deny filter whose %u cannot be filled denies that level for everyone', async t => {
  const acl = new Acl([
    { user: 'guest', deny: true, publish: ['#'], subscribe: [] },
    { deny: true, publish: ['devices/%u/firmware'], subscribe: [] },
    { publish: ['#'], subscribe: ['#'] }
  ])
  t.notOk(acl.forClient({ user: 'guest', clientId: 'g' }).canPublish('a'), 'the guest may not publish')
  const ann = acl.forClient({ user: 'ann', clientId: 'a' })
  t.ok(ann.canPublish('a'))
  t.notOk(ann.canPublish('devices/ann/firmware'))
  t.ok(ann.canPublish('devices/bob/firmware'), 'the %u filter is ann\'s own')
  const anon = acl.forClient({ clientId: 'x' })
  t.notOk(anon.canPublish('devices/bob/firmware'), 'without a user name the level is +: denied for every device')
  t.ok(anon.canPublish('devices/bob/t'))
})
