import t from 'tap'
import { compileFilters, compileFilter, type EventPredicate } from '../../bridges/filters/index.js'
import { contextAttributes, type CloudEvent } from '../../bridges/cloudevents/index.js'

const ev: CloudEvent = {
  specversion: '1.0',
  id: 'gw-7',
  source: '/sites/kitchen/th-01',
  type: 'com.example.telemetry',
  subject: 'devices/th-01/telemetry',
  time: '2024-01-02T03:04:05.678Z',
  datacontenttype: 'application/json',
  extensions: { sequence: '0000000000000007', clientid: 'th-01', deviceid: 'th-01', count: 5, flag: true },
  data: { temp: 21.5 }
}
const noSubject: CloudEvent = { specversion: '1.0', id: 'x', source: '/s', type: 'com.example.telemetry', extensions: {} }

const check = (filters: unknown, event: CloudEvent = ev): boolean => compileFilters(filters)(event)

t.test('exact, prefix, suffix', async t => {
  t.ok(check([{ exact: { type: 'com.example.telemetry' } }]))
  t.notOk(check([{ exact: { type: 'com.example' } }]), 'exact is not prefix')
  t.notOk(check([{ exact: { type: 'COM.EXAMPLE.TELEMETRY' } }]), 'case-sensitive')
  t.ok(check([{ exact: { type: 'com.example.telemetry', subject: 'devices/th-01/telemetry' } }]), 'all attributes must match')
  t.notOk(check([{ exact: { type: 'com.example.telemetry', subject: 'other' } }]))
  t.ok(check([{ prefix: { subject: 'devices/' } }]))
  t.notOk(check([{ prefix: { subject: 'sensors/' } }]))
  t.ok(check([{ suffix: { subject: '/telemetry', source: 'th-01' } }]))
  t.notOk(check([{ suffix: { subject: '/status' } }]))
  t.ok(check([{ exact: { specversion: '1.0', id: 'gw-7', time: '2024-01-02T03:04:05.678Z', datacontenttype: 'application/json' } }]), 'every context attribute')
})

t.test('extensions, compared as canonical strings', async t => {
  t.ok(check([{ exact: { deviceid: 'th-01' } }]))
  t.ok(check([{ prefix: { deviceid: 'th-' } }]))
  t.ok(check([{ exact: { count: '5', flag: 'true' } }]), 'Integer and Boolean compare as their strings')
  t.ok(check([{ prefix: { sequence: '00000000000000' } }]))
})

t.test('a missing attribute does not match', async t => {
  t.notOk(check([{ exact: { subject: 'x' } }], noSubject))
  t.notOk(check([{ prefix: { nosuchext: 'a' } }]))
  t.notOk(check([{ suffix: { dataschema: 'a' } }]))
  t.ok(check([{ not: { prefix: { nosuchext: 'a' } } }]), 'not of a missing attribute is true')
  t.notOk(check([{ exact: { constructor: 'x' } }]), 'inherited object properties are not attributes')
  t.notOk(check([{ exact: { data: '[object Object]' } }]), 'data is not an attribute')
})

t.test('all, any, not and nesting', async t => {
  const yes = { exact: { deviceid: 'th-01' } }
  const no = { exact: { deviceid: 'th-02' } }
  t.ok(check([{ all: [yes, yes] }]))
  t.notOk(check([{ all: [yes, no] }]))
  t.ok(check([{ any: [no, yes] }]))
  t.notOk(check([{ any: [no, no] }]))
  t.ok(check([{ not: no }]))
  t.notOk(check([{ not: yes }]))
  t.ok(check([{ any: [{ all: [yes, { not: no }] }, no] }]))
  t.notOk(check([{ not: { any: [{ all: [yes, { not: no }] }, no] } }]))
  t.ok(check([]), 'an empty list matches everything')
  t.ok(check(undefined), 'no filters match everything')
  t.ok(check([yes, { prefix: { type: 'com.' } }]), 'a list is ANDed')
  t.notOk(check([yes, no]))
})

t.test('sql goes through the hook', async t => {
  const seen: string[] = []
  const sql = (expr: string): EventPredicate => {
    seen.push(expr)
    if (expr === 'bad') throw new Error('syntax error at 1')
    if (expr === 'throws at runtime') return () => { throw new Error('boom') }
    if (expr === 'not boolean') return (() => 1) as unknown as EventPredicate
    return e => e.extensions.deviceid === 'th-01'
  }
  const pred = compileFilters([{ prefix: { subject: 'devices/' } }, { sql: "deviceid = 'th-01'" }], { sql })
  t.strictSame(seen, ["deviceid = 'th-01'"], 'compiled once, at compile time')
  t.ok(pred(ev))
  t.notOk(pred({ ...ev, extensions: { deviceid: 'th-02' } }))
  t.notOk(compileFilters([{ sql: 'throws at runtime' }], { sql })(ev), 'an evaluation error is false')
  t.notOk(compileFilters([{ sql: 'not boolean' }], { sql })(ev), 'a non-boolean result is false')
  t.throws(() => compileFilters([{ any: [{ sql: 'bad' }] }], { sql }), { code: 'FG_ERR_CONFIG_INVALID', path: '[0].any[0].sql', message: /invalid CESQL expression: syntax error at 1/ })
  t.throws(() => compileFilters([{ exact: { type: 'x' } }, { sql: 'TRUE' }]), { code: 'FG_ERR_CONFIG_INVALID', path: '[1].sql', message: /no.*CESQL engine|CESQL engine/ })
})

t.test('configuration errors carry the path inside the list', async t => {
  const err = (filters: unknown, path: string, message: RegExp): void => {
    t.throws(() => compileFilters(filters), { name: 'ConfigValueError', code: 'FG_ERR_CONFIG_INVALID', path, message }, `${path} ${String(message)}`)
  }
  err([{ exact: { type: 'x' } }, { any: [{ regex: { type: '.*' } }] }], '[1].any[0]', /unknown filter dialect "regex"/)
  err([{ exact: { type: 'x' }, prefix: { type: 'x' } }], '[0]', /exactly one dialect, found 2: exact, prefix/)
  err([{}], '[0]', /needs one dialect/)
  err(['exact'], '[0]', /got string/)
  err([{ all: [] }], '[0].all', /at least one/)
  err([{ any: { exact: { a: 'b' } } }], '[0].any', /list of filters/)
  err([{ not: [{ exact: { a: 'b' } }] }], '[0].not', /got a list/)
  err([{ not: { all: [{ exact: { type: 'x' } }, { suffix: { type: '' } }] } }], '[0].not.all[1].suffix.type', /non-empty string/)
  err([{ exact: { qos: 1 } }], '[0].exact.qos', /non-empty string.*quote numbers/)
  err([{ exact: {} }], '[0].exact', /at least one attribute/)
  err([{ prefix: { Subject: 'x' } }], '[0].prefix', /"Subject" is not a valid attribute name/)
  err([{ exact: 'type' }], '[0].exact', /object of attribute: value/)
  err([{ sql: '' }], '[0].sql', /CESQL expression string/)
  err({ exact: { type: 'x' } }, '', /must be a list/)
  t.throws(() => compileFilter({ nope: 1 }, {}, 'bridges[0].filters[3]'), { path: 'bridges[0].filters[3]', message: /^bridges\[0\]\.filters\[3\]: unknown filter dialect "nope"/ })
})

t.test('contextAttributes gives attribute evaluators (CESQL) a flat view without data', async t => {
  t.strictSame(contextAttributes(ev), {
    specversion: '1.0',
    id: 'gw-7',
    source: '/sites/kitchen/th-01',
    type: 'com.example.telemetry',
    subject: 'devices/th-01/telemetry',
    time: '2024-01-02T03:04:05.678Z',
    datacontenttype: 'application/json',
    sequence: '0000000000000007',
    clientid: 'th-01',
    deviceid: 'th-01',
    count: 5,
    flag: true
  })
  t.strictSame(contextAttributes(noSubject), { specversion: '1.0', id: 'x', source: '/s', type: 'com.example.telemetry' })
})
