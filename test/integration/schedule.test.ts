/**
 * Scheduled jobs on seconds-level cron schedules, so each test is bounded to a
 * few seconds: delivery windows and the heartbeat event.
 */
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import type { Logger } from '../../gateway/index.js'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { startOpsReceiver } from '../helpers/ops-receiver.js'

/** A logger whose entries the test can wait for. */
function observedLogger (): { logger: Logger, next: (event: string) => Promise<Record<string, unknown>> } {
  const waiters: Array<{ event: string, resolve: (e: Record<string, unknown>) => void }> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) {
        if (line === '') continue
        const entry = JSON.parse(line) as Record<string, unknown>
        for (const w of [...waiters]) {
          if (w.event === entry.event) {
            waiters.splice(waiters.indexOf(w), 1)
            w.resolve(entry)
          }
        }
      }
      cb()
    }
  })
  return { logger: pino({ level: 'info' }, stream) as unknown as Logger, next: async event => await new Promise(resolve => waiters.push({ event, resolve })) }
}

t.test('outside its delivery window a bridge holds events on disk and says when the window opens', async t => {
  const receiver = await startOpsReceiver(t)
  const arrivals: number[] = []
  const decide = receiver.decide
  receiver.decide = events => { arrivals.push(Date.now()); return decide(events) }
  const { logger, next } = observedLogger()
  // a window opens every 2 seconds and stays open for 1 second
  const gw = await startGateway(t, testConfig(await tempDir(t), `bridges:
  - name: metered
    topics: ["#"]
    sink: { url: ${JSON.stringify(receiver.url)}, mode: batch }
    batch: { lingerMs: 0 }
    window: { schedule: "*/2 * * * * *", duration: 1s }
`), { logger })
  const client = await connect(t, brokerUrl(gw))

  await next('window-closed')
  for (let i = 0; i < 5; i++) await client.publishAsync('m/x', String(i), { qos: 1 })
  const [report] = await gw.bridges.report()
  t.equal(report?.state, 'outside window')
  t.equal(report?.lag, 5, 'the events wait on disk')
  t.ok(report?.nextWindowOpens !== undefined && Date.parse(report.nextWindowOpens) > Date.now(), `next window opens ${report?.nextWindowOpens}`)
  t.equal(receiver.events.length, 0, 'nothing sent outside the window')

  await next('window-open')
  await receiver.until(e => e.length === 5)
  t.same(receiver.events.map(e => e.data), [0, 1, 2, 3, 4], 'delivered in order once the window opened')
  for (const at of arrivals) t.ok(at % 2000 < 1500, `delivered inside a window (${at % 2000} ms after it opened)`)
})

t.test('a heartbeat CloudEvent with the gateway\'s counters goes through the chosen bridge', async t => {
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(await tempDir(t), `bridges:
  - name: cloud
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url)}, mode: binary }
jobs:
  heartbeat: { bridge: cloud, schedule: "* * * * * *" }
`))
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a/t', '{"x":1}', { qos: 1 })
  await receiver.until(e => e.some(ev => ev.type === 'flowgate.heartbeat'))
  const hb = receiver.events.find(ev => ev.type === 'flowgate.heartbeat')
  t.match(hb, { source: '/flowgate/test-gw', datacontenttype: 'application/json' })
  t.match(hb?.data, { gatewayId: 'test-gw', clients: 1, log: { lastSeq: Number }, bridges: [{ name: 'cloud' }] })
  t.ok(typeof hb?.extensions.sequence === 'string', 'it has its place in the sequence')
})
