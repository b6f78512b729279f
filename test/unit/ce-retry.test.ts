import t from 'tap'
import { classify, nextDelay, parseRetryAfter, parseHttpDate, type DeliveryOutcome, type RetryDecision } from '../../bridges/retry/index.js'

t.test('classification table', async t => {
  const table: Array<[DeliveryOutcome, Partial<RetryDecision> & { action: RetryDecision['action'] }]> = [
    [{ kind: 'response', status: 200 }, { action: 'success' }],
    [{ kind: 'response', status: 202 }, { action: 'success' }],
    [{ kind: 'response', status: 204 }, { action: 'success' }],
    [{ kind: 'response', status: 299 }, { action: 'success' }],
    [{ kind: 'network-error', error: new Error('ECONNREFUSED') }, { action: 'retry', reason: 'network-error' }],
    [{ kind: 'timeout' }, { action: 'retry', reason: 'timeout' }],
    [{ kind: 'response', status: 408 }, { action: 'retry', reason: 'request-timeout' }],
    [{ kind: 'response', status: 429 }, { action: 'retry', reason: 'rate-limited' }],
    [{ kind: 'response', status: 500 }, { action: 'retry', reason: 'server-error' }],
    [{ kind: 'response', status: 502 }, { action: 'retry', reason: 'server-error' }],
    [{ kind: 'response', status: 503 }, { action: 'retry', reason: 'server-error' }],
    [{ kind: 'response', status: 599 }, { action: 'retry', reason: 'server-error' }],
    [{ kind: 'response', status: 301 }, { action: 'retry', reason: 'redirect' }],
    [{ kind: 'response', status: 307 }, { action: 'retry', reason: 'redirect' }],
    [{ kind: 'response', status: 308 }, { action: 'retry', reason: 'redirect' }],
    [{ kind: 'response', status: 400 }, { action: 'reject', reason: 'client-error' }],
    [{ kind: 'response', status: 401 }, { action: 'reject', reason: 'client-error' }],
    [{ kind: 'response', status: 404 }, { action: 'reject', reason: 'client-error' }],
    [{ kind: 'response', status: 413 }, { action: 'reject', reason: 'client-error' }],
    [{ kind: 'response', status: 415 }, { action: 'reject', reason: 'client-error' }],
    [{ kind: 'response', status: 422 }, { action: 'reject', reason: 'client-error' }],
    [{ kind: 'response', status: 100 }, { action: 'retry', reason: 'unexpected-status' }],
    [{ kind: 'response', status: 600 }, { action: 'retry', reason: 'unexpected-status' }]
  ]
  for (const [outcome, want] of table) {
    const got = classify(outcome)
    t.match(got, want, `${outcome.kind === 'response' ? outcome.status : outcome.kind} -> ${want.action}`)
  }
})

t.test('Retry-After travels with a retry decision', async t => {
  t.match(classify({ kind: 'response', status: 429, headers: { 'Retry-After': '30' } }), { action: 'retry', reason: 'rate-limited', retryAfter: '30' })
  t.match(classify({ kind: 'response', status: 503, headers: { 'retry-after': ['Sun, 06 Nov 1994 08:49:37 GMT'] } }), { retryAfter: 'Sun, 06 Nov 1994 08:49:37 GMT' })
  t.notOk('retryAfter' in classify({ kind: 'response', status: 500 }))
  t.notOk('retryAfter' in classify({ kind: 'response', status: 400, headers: { 'retry-after': '5' } }), 'a reject does not retry')
})

t.test('Retry-After parsing', async t => {
  const now = Date.UTC(1994, 10, 6, 8, 49, 0)
  t.equal(parseRetryAfter('120', now), 120_000)
  t.equal(parseRetryAfter(' 0 ', now), 0)
  t.equal(parseRetryAfter('Sun, 06 Nov 1994 08:49:37 GMT', now), 37_000, 'IMF-fixdate')
  t.equal(parseRetryAfter('Sunday, 06-Nov-94 08:49:37 GMT', now), 37_000, 'RFC 850')
  t.equal(parseRetryAfter('Sun Nov  6 08:49:37 1994', now), 37_000, 'asctime, always UTC')
  t.equal(parseRetryAfter('Sun, 06 Nov 1994 08:48:00 GMT', now), 0, 'a date in the past means now')
  for (const bad of ['-1', '1.5', 'soon', '', 'Sun, 06 Nov 1994 08:49:37 PST', 'Sun, 06 Foo 1994 08:49:37 GMT']) t.equal(parseRetryAfter(bad, now), undefined, `rejects ${JSON.stringify(bad)}`)
  t.equal(parseHttpDate('Thu, 01 Jan 1970 00:00:00 GMT'), 0)
})

t.test('full jitter stays within the exponential ceiling', async t => {
  const opts = { baseMs: 100, maxMs: 10_000 }
  for (let attempt = 1; attempt <= 12; attempt++) {
    const ceiling = Math.min(10_000, 100 * 2 ** (attempt - 1))
    t.equal(nextDelay(attempt, { ...opts, random: () => 0 }), 0)
    const hi = nextDelay(attempt, { ...opts, random: () => 0.999999 })
    t.ok(hi < ceiling && hi >= ceiling - 1, `attempt ${attempt}: max ${hi} just under ${ceiling}`)
    t.equal(nextDelay(attempt, { ...opts, random: () => 0.5 }), Math.floor(ceiling / 2))
  }
  t.equal(nextDelay(5000, { ...opts, random: () => 0.5 }), 5000, 'huge attempt counts stay capped')
})

t.test('decorrelated jitter', async t => {
  const opts = { baseMs: 100, maxMs: 5_000, jitter: 'decorrelated' as const }
  t.equal(nextDelay(1, { ...opts, random: () => 0 }), 100, 'never below baseMs')
  t.equal(nextDelay(1, { ...opts, random: () => 0.5 }), 200, 'first retry: between base and 3 * base')
  t.equal(nextDelay(2, { ...opts, previousMs: 1000, random: () => 0.5 }), 1550, 'between base and 3 * previous')
  t.equal(nextDelay(3, { ...opts, previousMs: 4000, random: () => 0.9 }), 5000, 'capped at maxMs')
  let prev = 100
  for (let attempt = 1; attempt <= 50; attempt++) {
    const r = (attempt * 7919 % 1000) / 1000
    const d = nextDelay(attempt, { ...opts, previousMs: prev, random: () => r })
    t.ok(d >= 100 && d <= 5000, `attempt ${attempt}: ${d} within [100, 5000]`)
    prev = d
  }
})

t.test('Retry-After is honoured and capped', async t => {
  const now = Date.UTC(2024, 0, 1, 0, 0, 0)
  const opts = { baseMs: 100, maxMs: 10_000, random: () => 0 }
  t.equal(nextDelay(1, { ...opts, retryAfter: '3' }), 3000, 'waits at least what the upstream asked')
  t.equal(nextDelay(1, { ...opts, random: () => 0.999, retryAfter: '0' }), 99, 'backoff wins when it is longer')
  t.equal(nextDelay(1, { ...opts, retryAfter: '3600' }), 10_000, 'capped at maxMs')
  t.equal(nextDelay(1, { ...opts, retryAfter: '3600', maxRetryAfterMs: 60_000 }), 60_000, 'or at maxRetryAfterMs')
  t.equal(nextDelay(1, { ...opts, retryAfter: 'Mon, 01 Jan 2024 00:00:05 GMT', now }), 5000, 'HTTP-date against the injected clock')
  t.equal(nextDelay(1, { ...opts, retryAfter: 'garbage', now }), 0, 'an unparseable value is ignored')
  t.throws(() => nextDelay(1, { ...opts, retryAfter: 'Mon, 01 Jan 2024 00:00:05 GMT' }), TypeError, 'a date needs now')
})

t.test('invalid backoff options are programmer errors', async t => {
  const random = (): number => 0.5
  t.throws(() => nextDelay(0, { baseMs: 100, maxMs: 1000, random }), TypeError)
  t.throws(() => nextDelay(1.5, { baseMs: 100, maxMs: 1000, random }), TypeError)
  t.throws(() => nextDelay(1, { baseMs: 0, maxMs: 1000, random }), TypeError)
  t.throws(() => nextDelay(1, { baseMs: 100, maxMs: 10, random }), TypeError)
})
