/**
 * `sink.timeoutMs` means what it says: it bounds the wait for the response headers
 * and, separately, the whole response body (not the gap between two chunks). A
 * request past it is aborted, logged once and retried like a network error.
 * The bounds asserted below are the issue's own (2 s limit, aborted within 3 s).
 */
import t, { type Test } from 'tap'
import type { BridgeStatus } from '../../bridges/index.js'
import type { Gateway } from '../../gateway/index.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig, within } from '../helpers/gateway.js'
import { ControlledReceiver, OK, seqOf, type Action } from '../helpers/receiver-control.js'
import { LogCapture } from '../helpers/security.js'

async function scenario (t: Test, first: Action): Promise<{ receiver: ControlledReceiver, capture: LogCapture, seen: Array<BridgeStatus | undefined> }> {
  const seen: Array<BridgeStatus | undefined> = []
  const started: { gw?: Gateway } = {}
  const receiver = await ControlledReceiver.start(t, {
    policy: req => {
      seen.push(started.gw?.bridges.get('up')?.status())
      return req.index < 2 ? first : OK
    }
  })
  const capture = new LogCapture('info')
  const gw = started.gw = await startGateway(t, testConfig(await tempDir(t), `bridges:
  - name: up
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url())}, mode: binary, timeoutMs: 2000 }
    retry: { initialDelay: 100ms, maxDelay: 500ms }
`), { logger: capture.logger })
  const client = await connect(t, brokerUrl(gw))
  for (let i = 1; i <= 3; i++) await client.publishAsync('devices/th-1/telemetry', JSON.stringify({ i }), { qos: 1 })
  await within(20_000, 'the events delivered once the receiver behaves', receiver.until(() => receiver.requests.filter(r => r.action.kind === 'respond').length >= 3))
  return { receiver, capture, seen }
}

t.test('a receiver that sends 200 headers then one byte a second: aborted within 3 s, retried, delivered', async t => {
  const { receiver, capture, seen } = await scenario(t, { kind: 'trickle', status: 200, everyMs: 1000 })
  const trickled = receiver.requests.filter(r => r.action.kind === 'trickle')
  t.equal(trickled.length, 2, 'both slow answers were given up on, and the request sent again')
  for (const r of trickled) {
    const held = (r.closedAt ?? Infinity) - r.answeredAt
    t.ok(held >= 1900 && held <= 3000, `the request was aborted ${Math.round(held)} ms after the headers`)
  }
  t.same(receiver.requests.filter(r => r.action.kind === 'respond').map(r => seqOf(r.events[0] as never)), [1, 2, 3], 'then every event was delivered, in order')
  t.match(seen[1], { state: 'retrying', reason: 'timeout', lastError: 'timeout: response body not complete within 2000 ms' }, 'status said why while it retried')
  t.match(capture.events('bridge-retrying'), [{ reason: 'timeout', error: 'timeout: response body not complete within 2000 ms' }], 'logged once')
  t.equal(capture.events('bridge-recovered').length, 1)
})

t.test('a receiver that never sends headers: aborted within 3 s, retried, delivered', async t => {
  const { receiver, capture } = await scenario(t, { kind: 'hang' })
  for (const r of receiver.requests.filter(r => r.action.kind === 'hang')) {
    const held = (r.closedAt ?? Infinity) - r.answeredAt
    t.ok(held >= 1900 && held <= 3000, `the request was aborted ${Math.round(held)} ms after it was sent`)
  }
  t.match(capture.events('bridge-retrying'), [{ reason: 'timeout', error: 'timeout: no response within 2000 ms' }], 'logged once')
  t.same(receiver.firstArrivals().map(seqOf), [1, 2, 3])
})
