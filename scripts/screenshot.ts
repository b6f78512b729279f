/**
 * `npm run screenshot [-- FILE]`: the dashboard's picture for the README. Starts a gateway with two
 * bridges and a receiver, publishes for a while so the charts have something to show, and has
 * headless Chromium (the browser tests' setup) take the page at 1280 px wide. Writes
 * gateway/admin/dashboard/screenshot.png unless FILE is given.
 */
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig } from '../test/helpers/gateway.js'
import { chromiumSupport, openPage } from '../test/helpers/browser.js'
import { startOpsReceiver } from '../test/helpers/ops-receiver.js'
import { repoRoot } from '../test/helpers/paths.js'

const out = process.argv[2] ?? join(repoRoot, 'gateway', 'admin', 'dashboard', 'screenshot.png')
const teardowns: Array<() => unknown> = []
const t = { teardown: (fn: () => unknown) => { teardowns.push(fn) } }

try {
  const support = await chromiumSupport()
  if ('skip' in support) throw new Error(support.skip)
  const receiver = await startOpsReceiver(t)
  receiver.decide = events => events.some(e => (e.data as { t?: number } | undefined)?.t === -999) ? 422 : 204
  const gw = await startGateway(t, testConfig(await tempDir(t), `storage:
  retention: { maxAge: 7d, maxBytes: 64MiB }
bridges:
  - name: cloud
    topics: ["devices/+/telemetry"]
    start: earliest
    sink: { url: ${JSON.stringify(receiver.url)}, mode: batch }
    batch: { lingerMs: 20 }
  - name: metered
    topics: ["devices/+/alarm"]
    start: earliest
    sink: { url: ${JSON.stringify(receiver.url)}, mode: binary }
`))
  gw.logger.level = 'silent'
  const client = await connect(t, brokerUrl(gw), { clientId: 'th-1' })
  // 40 seconds of telemetry at a rate that rises and falls, and a few alarms
  const started = Date.now()
  let n = 0
  while (Date.now() - started < 40_000) {
    const second = Math.floor((Date.now() - started) / 1000)
    const rate = 20 + Math.round(15 * Math.sin(second / 4))
    for (let i = 0; i < rate / 10; i++) {
      n++
      await client.publishAsync(`devices/th-${1 + (n % 3)}/telemetry`, JSON.stringify({ t: n === 7 ? -999 : Math.round(200 + 30 * Math.sin(n / 50)) / 10 }), { qos: 1 })
    }
    if (n % 97 === 0) await client.publishAsync('devices/th-2/alarm', '{"door":"open"}', { qos: 1 })
    if (second === 30 && gw.bridges.get('metered') !== undefined) await gw.bridges.pause('metered').catch(() => {})
    await delay(100)
  }
  await client.publishAsync('devices/th-2/alarm', '{"door":"open"}', { qos: 1 })
  await client.publishAsync('devices/th-3/raw', Buffer.from([0x01, 0x02, 0xff, 0x10]), { qos: 1 })
  await eventually('a dead letter', () => (gw.bridges.get('cloud')?.status().deadLettered ?? 0) >= 1)

  // traffic goes on while the picture is taken
  const live = setInterval(() => { void client.publishAsync('devices/th-1/telemetry', '{"t":21.5}', { qos: 1 }).catch(() => {}) }, 40)
  teardowns.push(() => clearInterval(live))
  const { page } = await openPage(t, support.path, { width: 1280, height: 1150 })
  await page.goto(`${gw.admin?.url ?? ''}/`)
  await page.locator('article.bridge[data-bridge="metered"] .state').getByText('paused').waitFor({ timeout: 10_000 })
  await page.locator('#tail-list li').first().waitFor()
  await page.locator('.chart canvas').first().waitFor()
  await page.screenshot({ path: out })
  console.log(`wrote ${out}`)
} finally {
  for (const fn of teardowns.reverse()) await fn()
}
