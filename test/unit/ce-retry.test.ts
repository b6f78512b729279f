import t from 'tap'
import { parseGatewayConfig } from '../../gateway/config.js'
import { classify, DEFAULT_DEAD_LETTER_STATUSES, nextDelay, parseRetryAfter, parseHttpDate, statusSet, type DeliveryOutcome, type RetryDecision } from '../../bridges/retry/index.js'

t.test('classification table: the bridge is wrong -> hold; these events are wrong -> reject', async t => {
  const response = (status: number): DeliveryOutcome => ({ kind: 'response', status })
  const table: Array<[DeliveryOutcome, Partial<RetryDecision> & { action: RetryDecision['action'] }]> = [
    [response(200), { action: 'success' }],
    [response(202), { action: 'success' }],
    [response(204), { action: 'success' }],
    [response(299), { action: 'success' }],
    [{ kind: 'network-error', code: 'ECONNREFUSED' }, { action: 'hold', reason: 'network', unreachable: true }],
    [{ kind: 'network-error', code: 'EHOSTUNREACH' }, { action: 'hold', reason: 'network', unreachable: true }],
    [{ kind: 'network-error', code: 'ENOTFOUND' }, { action: 'hold', reason: 'network', unreachable: true }],
    [{ kind: 'network-error', code: 'UND_ERR_CONNECT_TIMEOUT' }, { action: 'hold', reason: 'network', unreachable: true }],
    [{ kind: 'network-error', code: 'ECONNRESET' }, { action: 'hold', reason: 'network', unreachable: false }],
    [{ kind: 'network-error', code: 'UND_ERR_SOCKET' }, { action: 'hold', reason: 'network', unreachable: false }],
    [{ kind: 'network-error' }, { action: 'hold', reason: 'network', unreachable: false }],
    [{ kind: 'network-error', code: 'DEPTH_ZERO_SELF_SIGNED_CERT' }, { action: 'hold', reason: 'tls', unreachable: false }],
    [{ kind: 'network-error', code: 'CERT_HAS_EXPIRED' }, { action: 'hold', reason: 'tls' }],
    [{ kind: 'network-error', code: 'ERR_TLS_CERT_ALTNAME_INVALID' }, { action: 'hold', reason: 'tls' }],
    [{ kind: 'network-error', code: 'ERR_SSL_WRONG_VERSION_NUMBER' }, { action: 'hold', reason: 'tls' }],
    [{ kind: 'timeout', phase: 'headers' }, { action: 'hold', reason: 'timeout', unreachable: false }],
    [{ kind: 'timeout', phase: 'body' }, { action: 'hold', reason: 'timeout', unreachable: false }],
    [response(401), { action: 'hold', reason: 'unauthorized', status: 401, unreachable: false }],
    [response(403), { action: 'hold', reason: 'forbidden' }],
    [response(404), { action: 'hold', reason: 'not-found' }],
    [response(407), { action: 'hold', reason: 'unauthorized' }],
    [response(408), { action: 'hold', reason: 'timeout' }],
    [response(409), { action: 'hold', reason: 'conflict' }],
    [response(410), { action: 'hold', reason: 'gone' }],
    [response(429), { action: 'hold', reason: 'throttled', unreachable: false }],
    [response(500), { action: 'hold', reason: 'server', unreachable: false }],
    [response(502), { action: 'hold', reason: 'server' }],
    [response(503), { action: 'hold', reason: 'server' }],
    [response(599), { action: 'hold', reason: 'server' }],
    [response(301), { action: 'hold', reason: 'redirect' }],
    [response(307), { action: 'hold', reason: 'redirect' }],
    [response(308), { action: 'hold', reason: 'redirect' }],
    [response(100), { action: 'hold', reason: 'server' }],
    [response(600), { action: 'hold', reason: 'server' }],
    [response(400), { action: 'reject', reason: 'rejected', status: 400, deadLetter: true }],
    [response(402), { action: 'reject', reason: 'rejected', deadLetter: true }],
    [response(405), { action: 'reject', reason: 'rejected', deadLetter: true }],
    [response(413), { action: 'reject', reason: 'too-large', status: 413, deadLetter: true }],
    [response(415), { action: 'reject', reason: 'rejected', deadLetter: true }],
    [response(422), { action: 'reject', reason: 'rejected', deadLetter: true }],
    [response(431), { action: 'reject', reason: 'rejected', deadLetter: true }],
    [response(451), { action: 'reject', reason: 'rejected', deadLetter: true }],
    [response(499), { action: 'reject', reason: 'rejected', deadLetter: true }]
  ]
  for (const [outcome, want] of table) {
    const got = classify(outcome)
    t.match(got, want, `${outcome.kind === 'response' ? outcome.status : `${outcome.kind} ${outcome.kind === 'network-error' ? outcome.code ?? '' : ''}`} -> ${want.action} ${'reason' in want ? want.reason ?? '' : ''}`)
  }
})

t.test('the default dead-letter statuses agree with the Knative Eventing data-plane contract', async t => {
  // [Knative data-plane "Event Acknowledgement and Delivery Retry"] retry 404, 409, 429 and 5xx; 400 and other 4xx are not retried
  for (let status = 400; status <= 599; status++) {
    const d = classify({ kind: 'response', status })
    const knativeRetries = status === 404 || status === 409 || status === 429 || status >= 500
    if (knativeRetries) t.equal(d.action, 'hold', `${status}: retried`)
    else if (![401, 403, 407, 408, 410].includes(status)) t.match(d, { action: 'reject', deadLetter: true }, `${status}: dead-lettered`)
  }
  t.same(DEFAULT_DEAD_LETTER_STATUSES, [400, 402, '405-406', '411-428', '430-499'])
})

t.test('retry.deadLetterStatuses changes which statuses dead-letter', async t => {
  const only400 = statusSet([400])
  t.match(classify({ kind: 'response', status: 400 }, only400), { action: 'reject', deadLetter: true })
  t.match(classify({ kind: 'response', status: 422 }, only400), { action: 'reject', reason: 'rejected', deadLetter: false }, 'a 4xx left out still splits a batch, but holds on the event')
  t.match(classify({ kind: 'response', status: 413 }, only400), { action: 'reject', reason: 'too-large', deadLetter: false }, '413 left out: split to fit, hold on an event too large')
  t.match(classify({ kind: 'response', status: 401 }, statusSet([401])), { action: 'reject', reason: 'rejected', deadLetter: true }, 'an operator may choose to dead-letter a bridge-level status')
  t.match(classify({ kind: 'response', status: 500 }, statusSet(['500-599'])), { action: 'reject', deadLetter: true })
  t.match(classify({ kind: 'response', status: 400 }, statusSet([])), { action: 'reject', deadLetter: false }, '[]: never dead-letter')
  t.ok(statusSet(['411-428']).has(413))
  t.notOk(statusSet(['411-428']).has(429))
  for (const bad of [399, 600, '300-399', '499-400', 'abc', '4xx', '400-']) {
    t.throws(() => statusSet([400, bad]), { name: 'StatusListError', index: 1 }, `rejects ${JSON.stringify(bad)}`)
  }
})

t.test('Retry-After travels with a hold decision', async t => {
  t.match(classify({ kind: 'response', status: 429, headers: { 'Retry-After': '30' } }), { action: 'hold', reason: 'throttled', retryAfter: '30' })
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

t.test('retry.deadLetterStatuses and retry.maxDelay in the config', async t => {
  const parse = (retry: string): { retry: Record<string, unknown> } | string => {
    try {
      return parseGatewayConfig(`bridges:\n  - name: a\n    sink: { url: "http://127.0.0.1:9/" }\n    retry: ${retry}\n`).config.bridges[0] as unknown as { retry: Record<string, unknown> }
    } catch (err) {
      return (err as Error).message
    }
  }
  t.match(parse('{}'), { retry: { deadLetterStatuses: DEFAULT_DEAD_LETTER_STATUSES } }, 'the schema default is the classification default')
  t.match(parse('{ deadLetterStatuses: [400, 404, 430-499] }'), { retry: { deadLetterStatuses: [400, 404, '430-499'] } }, 'YAML ranges are plain strings')
  t.equal(parse('{ deadLetterStatuses: [400, 300] }'), 'config:4: bridges[0].retry.deadLetterStatuses[1]: 300 must be a status or a range (low-high) within 400-599')
  t.equal(parse('{ deadLetterStatuses: [4xx] }'), 'config:4: bridges[0].retry.deadLetterStatuses[0]: "4xx" is not a status or a range such as "430-499"')
  t.equal(parse('{ maxDelay: 25d }'), 'config:4: bridges[0].retry.maxDelay: must be at most 24d', 'a backoff a timer cannot wait is refused')
})
