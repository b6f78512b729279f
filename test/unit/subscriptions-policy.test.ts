// The producer's policy as pure functions: sink URL patterns, topic filters within others,
// type patterns, the bridge a subscription becomes, and when a failing sink suspends it.
import t from 'tap'
import { bridgeWithDefaults } from '../../config/defaults.js'
import { filterWithin, parseSubscriptionRequest, policyProblem, sinkProblem, subscriptionBridge, suspendCheck, typeAllowed, type Subscription } from '../../bridges/subscriptions/index.js'

t.test('sink patterns: * stays inside a host name, port or path segment; credentials are refused', async t => {
  const allowed = ['https://*.example.com/**']
  t.equal(sinkProblem('https://in.example.com/events', allowed), undefined)
  t.match(sinkProblem('http://in.example.com/events', allowed), /outside the sinks/, 'http where only https is allowed')
  t.match(sinkProblem('https://evil.net/?x=.example.com/', allowed), /outside/, 'the domain in the query does not count')
  t.match(sinkProblem('https://a.example.com@evil.net/', allowed), /credentials/, 'user info is refused')
  t.match(sinkProblem('https://in.example.com:8443/', allowed), /outside/, 'another port must be allowed explicitly')
  t.match(sinkProblem('https://in.example.com.evil.net/', allowed), /outside/)
  t.match(sinkProblem('ftp://x/', allowed), /not an http/)
})

t.test('topic filters within others; type patterns', async t => {
  t.ok(filterWithin('devices/+/telemetry', 'devices/#'))
  t.ok(filterWithin('devices/a/b', 'devices/+/b'))
  t.notOk(filterWithin('devices/#', 'devices/+/telemetry'))
  t.notOk(filterWithin('#', 'devices/#'))
  t.notOk(filterWithin('$SYS/x', '#'), '$ topics are not within #')
  t.ok(typeAllowed('com.example.telemetry', ['com.example.*']))
  t.notOk(typeAllowed('org.example', ['com.example.*']))
  t.ok(typeAllowed('anything', []), 'no types listed: any type')
})

const consumer = { name: 'c', types: ['com.example.*'], topics: ['devices/#'], sinks: ['https://*.example.com/**'], maxSubscriptions: 1, approval: 'auto' as const, filter: "NOT (subject LIKE 'devices/internal/%')" }

t.test('policy: 403 reasons; the bridge ANDs the consumer\'s types and pinned filter with what it sent', async t => {
  const req = parseSubscriptionRequest({ protocol: 'HTTP', sink: 'https://in.example.com/', types: ['com.example.telemetry'], filters: [{ prefix: { subject: 'devices/' } }], config: { topics: ['devices/+/telemetry'] } })
  t.equal(policyProblem(req, consumer, 0), undefined)
  t.match(policyProblem(req, consumer, 1), /already holds 1/)
  t.match(policyProblem({ ...req, config: { topics: ['other/#'] } }, consumer, 0), /not within/)
  const sub: Subscription = { ...req, id: 'x', consumer: 'c', state: 'active', createdat: '', modifiedat: '' }
  const b = subscriptionBridge(sub, consumer, { traceparent: false }, bridgeWithDefaults)
  t.same(b.filters, [{ exact: { type: 'com.example.telemetry' } }, { prefix: { subject: 'devices/' } }, { prefix: { type: 'com.example.' } }, { sql: consumer.filter }])
  t.same(b.topics, ['devices/+/telemetry'])
  t.match(b, { name: 'sub-x', start: 'end', sink: { url: 'https://in.example.com/', mode: 'binary' } })
})

t.test('suspension: only a sink held without progress for suspendAfter', async t => {
  let r = suspendCheck(undefined, { state: 'retrying', delivered: 5 }, 1000, 500)
  t.equal(r.suspend, false)
  r = suspendCheck(r.watch, { state: 'retrying', delivered: 5 }, 1400, 500)
  t.equal(r.suspend, false)
  t.equal(suspendCheck(r.watch, { state: 'retrying', delivered: 5 }, 1500, 500).suspend, true, 'held for 500 ms: suspend')
  t.equal(suspendCheck(r.watch, { state: 'retrying', delivered: 6 }, 1500, 500).suspend, false, 'progress resets the clock')
  t.equal(suspendCheck(r.watch, { state: 'running', delivered: 5 }, 9000, 500).suspend, false)
})
