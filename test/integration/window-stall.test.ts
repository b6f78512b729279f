/**
 * No event-loop stalls from schedules: a gateway with monthly 7-day delivery windows
 * (6-field schedules, the case that used to be scanned second by second) is started
 * and reloaded while the event-loop delay is sampled; no stall may exceed 50 ms (the
 * issue's bound, generous against what the window code needs: well under 1 ms).
 */
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { pino } from 'pino'
import t from 'tap'
import type { LoadedConfig } from '../../config/index.js'
import { createGateway } from '../../gateway/index.js'
import { startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import { ControlledReceiver } from '../helpers/receiver-control.js'

const DAY = 86_400_000

/** A 6-field monthly schedule that opens at midnight on the day of the month of `date`. */
function monthlyOn (date: Date): string {
  return `0 0 0 ${date.getDate()} * *`
}

t.test('a monthly 7-day window started and reloaded: no stall above 50 ms', async t => {
  const dir = await tempDir(t)
  const receiver = await ControlledReceiver.start(t)
  // A process's first gateway pays one-time costs that have nothing to do with schedules
  // (loading and compiling the HTTP client, the admin API, ICU data): a gateway without windows
  // is started and stopped first, so that what is measured is the work of a start and a reload.
  const warmup = await createGateway(testConfig(join(dir, 'warmup'), `bridges:
  - name: plain
    sink: { url: ${JSON.stringify(receiver.url())} }
`).config, { logger: pino({ level: 'silent' }) })
  await warmup.close()

  const opened = new Date(Date.now() - 3 * DAY) // a window that opened three days ago: open now
  const upcoming = new Date(Date.now() + 10 * DAY) // one that opens in ten days: closed now
  const config = (duration: string): LoadedConfig => testConfig(join(dir, 'data'), `bridges:
  - name: open-now
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url())} }
    window: { schedule: "${monthlyOn(opened)}", duration: ${duration} }
  - name: closed-now
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(receiver.url())} }
    window: { schedule: "${monthlyOn(upcoming)}", duration: ${duration} }
`)

  const loop = monitorEventLoopDelay({ resolution: 5 })
  loop.enable()
  const gw = await startGateway(t, config('7d'))
  const stalls = [loop.max]
  loop.reset()
  for (const duration of ['6d', '7d', '5d']) {
    await gw.reload(config(duration).config)
    stalls.push(loop.max)
    loop.reset()
  }
  loop.disable()
  const worstMs = Math.max(...stalls) / 1e6
  t.ok(worstMs < 50, `longest event-loop stall ${worstMs.toFixed(1)} ms (start, then three reloads: ${stalls.map(ns => (ns / 1e6).toFixed(1)).join(', ')} ms)`)

  const reports = await gw.bridges.report()
  const open = reports.find(r => r.name === 'open-now')
  const closed = reports.find(r => r.name === 'closed-now')
  t.not(open?.state, 'outside window', 'the window that opened three days ago is open')
  const midnight = (d: Date): number => new Date(d.getFullYear(), d.getMonth(), d.getDate()).getTime()
  t.equal(open?.windowClosesAt, new Date(midnight(opened) + 5 * DAY).toISOString(), 'and closes five days after it opened (the reloaded duration)')
  t.equal(closed?.state, 'outside window', 'the other is closed')
  t.equal(closed?.nextWindowOpens, new Date(midnight(upcoming)).toISOString(), 'and says when it opens')

  const metrics = await (await fetch(`${gw.admin?.url ?? ''}/metrics`)).text()
  t.match(metrics, /^flowgate_event_loop_delay_seconds\{quantile="1"\} [0-9.e-]+$/m, '/metrics exports the event-loop delay')
  // the first scrape started the sampling: a stall after it shows in the next one
  const until = performance.now() + 80
  while (performance.now() < until) { /* the event loop is held */ }
  const next = await (await fetch(`${gw.admin?.url ?? ''}/metrics`)).text()
  const longest = Number(/^flowgate_event_loop_delay_seconds\{quantile="1"\} ([0-9.e-]+)$/m.exec(next)?.[1])
  t.ok(longest >= 0.07, `a stall of 80 ms shows in the next scrape (longest ${longest} s)`)
})
