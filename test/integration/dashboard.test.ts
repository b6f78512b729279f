/**
 * The dashboard in a real headless Chromium against a running gateway with a bridge and a real
 * receiver: what an operator sees and what the buttons do.
 */
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { request } from 'undici'
import type { Page } from 'playwright-core'
import { chromiumSupport, openPage, type BrowserPage } from '../helpers/browser.js'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig, type TestContext } from '../helpers/gateway.js'
import { startOpsReceiver, type OpsReceiver } from '../helpers/ops-receiver.js'
import type { Gateway } from '../../gateway/index.js'

const support = await chromiumSupport()
const skip = 'skip' in support ? support.skip : false
const chromiumPath = 'path' in support ? support.path : ''

/** Screenshots go to the test's temp dir, or here when set (to look at them after the run). */
const shots = process.env.FLOWGATE_SCREENSHOT_DIR

const TOKEN = 'a-long-enough-dashboard-token'
process.env.FG_TEST_DASHBOARD_TOKEN = TOKEN

function bridgeYaml (url: string): string {
  return `bridges:
  - name: cloud
    topics: ["devices/#"]
    start: earliest
    sink: { url: ${JSON.stringify(url)}, mode: batch }
    batch: { lingerMs: 0 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
`
}

async function status (gw: Gateway): Promise<{ bridges: Array<{ name: string, state: string, lag: number, cursor: number }>, log: { lastSeq: number } }> {
  const res = await request(`${gw.admin?.url ?? ''}/api/status`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return await res.body.json() as never
}

interface Setup { gw: Gateway, receiver: OpsReceiver, browser: BrowserPage, page: Page, dir: string, offsite: string[] }

/** A gateway with bridge `cloud` to a receiver, and a browser page on its dashboard that may reach nothing else. */
async function setUp (t: TestContext, opts: { adminYaml?: string, viewport?: { width: number, height: number } } = {}): Promise<Setup> {
  const dir = await tempDir(t)
  const receiver = await startOpsReceiver(t)
  const gw = await startGateway(t, testConfig(join(dir, 'data'), bridgeYaml(receiver.url), opts.adminYaml !== undefined ? { adminYaml: opts.adminYaml } : {}))
  const browser = await openPage(t, chromiumPath, opts.viewport)
  const own = new URL(gw.admin?.url ?? '').origin
  const offsite: string[] = []
  // an isolated site network: any request to another origin is refused and recorded
  await browser.context.route('**/*', async route => {
    if (new URL(route.request().url()).origin === own) return await route.continue()
    offsite.push(route.request().url())
    return await route.abort('blockedbyclient')
  })
  return { gw, receiver, browser, page: browser.page, dir, offsite }
}

const card = (page: Page, name: string): ReturnType<Page['locator']> => page.locator(`article.bridge[data-bridge="${name}"]`)

t.test('the dashboard shows the gateway and its bridge live, pauses, resumes and replays it', { skip }, async t => {
  const { gw, receiver, page, dir, offsite, browser } = await setUp(t)
  const client = await connect(t, brokerUrl(gw), { clientId: 'sensor-1' })
  for (let i = 1; i <= 5; i++) await client.publishAsync('devices/a/t', JSON.stringify({ i }), { qos: 1 })
  await receiver.until(e => e.length === 5)
  await eventually('the bridge to catch up', async () => (await status(gw)).bridges[0]?.lag === 0)

  await page.goto(`${gw.admin?.url ?? ''}/`)
  const cloud = card(page, 'cloud')
  await cloud.locator('.state').getByText('running').waitFor({ timeout: 10_000 })
  t.match(await cloud.locator('dl').innerText(), /Lag\s+caught up \(0 events\)/, 'the bridge and its lag are shown')
  t.match(await cloud.locator('dl').innerText(), /Delivered\s+5\b/)
  t.match(await page.locator('#gateway').innerText(), /Gateway\s+test-gw/, 'the gateway id is shown')
  t.match(await page.locator('#gateway').innerText(), /Store\s+✓ ok/, 'and the store state')
  t.match(await page.locator('#gateway').innerText(), /Connected clients\s+1/)
  t.match(await page.locator('#gateway').innerText(), /maxAge\s+0[\s\S]*reserveFreeBytes\s+0/, 'drops by reason')

  // a publish shows within 2 s: in the log's figures and in the live tail (the issue asks for this bound)
  const published = Date.now()
  await client.publishAsync('devices/b/t', '{"hello":"dashboard"}', { qos: 1 })
  await Promise.all([
    page.locator('#tail-list').getByText('{"hello":"dashboard"}').waitFor({ timeout: 2000 }),
    page.locator('#gateway').getByText('6 (sequence 1 to 6)').waitFor({ timeout: 2000 })
  ])
  t.pass(`the publish was on the page ${Date.now() - published} ms after its PUBACK`)

  // pause from the button: the page and the API say paused, and the lag grows as events wait
  await cloud.getByRole('button', { name: 'Pause bridge cloud' }).click()
  await cloud.locator('.state').getByText('paused').waitFor()
  t.equal((await status(gw)).bridges[0]?.state, 'paused', 'the gateway says paused')
  for (let i = 0; i < 3; i++) await client.publishAsync('devices/c/t', `"waiting ${i}"`, { qos: 1 })
  await cloud.locator('dl').getByText(/^3 events; oldest undelivered received/).waitFor()
  t.equal(receiver.events.length, 6, 'nothing delivered while paused')

  await cloud.getByRole('button', { name: 'Resume bridge cloud' }).click()
  await receiver.until(e => e.length === 9)
  await cloud.locator('dl').getByText('caught up (0 events)').waitFor()

  // replay from sequence 4, confirmed in the dialog
  await cloud.getByRole('button', { name: 'Replay…' }).click()
  const dialog = page.getByRole('dialog', { name: /Replay cloud/ })
  await dialog.waitFor()
  await dialog.getByLabel('Sequence number', { exact: true }).fill('4')
  t.match(await dialog.locator('#replay-consequence').innerText(), /from sequence 4 on \(up to 6 events/, 'the dialog says what will be sent again')
  await dialog.getByRole('button', { name: 'Replay', exact: true }).click()
  await receiver.until(e => e.length === 15)
  t.same(receiver.events.slice(9).map(e => Number(e.extensions.sequence)), [4, 5, 6, 7, 8, 9], 'events 4 to 9 delivered again, in order')
  await cloud.getByText('Replaying cloud from sequence 4 (it had delivered up to 9).').waitFor()
  t.notOk(await dialog.isVisible(), 'the dialog closed')

  const shot = join(shots ?? dir, 'dashboard.png')
  await page.screenshot({ path: shot, fullPage: true })
  t.ok((await stat(shot)).size > 10_000, `a screenshot was written to ${shot}`)
  t.same(browser.problems, [], 'no console error, page error or failed request')
  t.same(offsite, [], 'the page asked nothing of any other origin')
})

t.test('a cancelled replay changes nothing; when the gateway is gone the page says so and an action shows why it failed', { skip }, async t => {
  const { gw, receiver, page, browser } = await setUp(t)
  const client = await connect(t, brokerUrl(gw))
  for (let i = 0; i < 3; i++) await client.publishAsync('devices/a/t', '1', { qos: 1 })
  await receiver.until(e => e.length === 3)
  await page.goto(`${gw.admin?.url ?? ''}/`)
  const cloud = card(page, 'cloud')
  await cloud.locator('.state').getByText('running').waitFor({ timeout: 10_000 })

  await cloud.getByRole('button', { name: 'Replay…' }).click()
  const dialog = page.getByRole('dialog', { name: /Replay cloud/ })
  await dialog.getByLabel('Sequence number', { exact: true }).fill('1')
  await page.keyboard.press('Escape')
  await dialog.waitFor({ state: 'hidden' })
  await client.publishAsync('devices/a/t', '2', { qos: 1 })
  await receiver.until(e => e.length === 4)
  t.same(receiver.events.map(e => Number(e.extensions.sequence)), [1, 2, 3, 4], 'Escape replayed nothing')

  await gw.close()
  await page.locator('#connection').getByText(/Not connected: the gateway cannot be reached/).waitFor({ timeout: 5000 })
  await cloud.getByRole('button', { name: 'Pause bridge cloud' }).click()
  await cloud.getByText(/Could not pause cloud: the gateway cannot be reached \(FG_ERR_ADMIN_UNREACHABLE\)/).waitFor()
  t.pass('the failed action says why')
  t.same(browser.problems.filter(p => !/ERR_CONNECTION_REFUSED|Failed to load resource|\/api\//.test(p)), [], 'no other console error')
})

t.test('dead letters: listed with status, body and event; redriven from the page', { skip }, async t => {
  const { gw, receiver, page } = await setUp(t)
  receiver.decide = events => events.some(e => (e.data as { bad?: boolean } | undefined)?.bad === true) ? 422 : 204
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a/t', '{"n":1}', { qos: 1 })
  await client.publishAsync('devices/a/t', '{"bad":true}', { qos: 1 })
  await receiver.until(e => e.length === 1)
  await eventually('one dead letter', () => gw.bridges.get('cloud')?.status().deadLettered === 1)

  await page.goto(`${gw.admin?.url ?? ''}/`)
  const cloud = card(page, 'cloud')
  await cloud.getByRole('button', { name: /Dead letters of bridge cloud: 1/ }).click()
  const section = page.locator('#dead-letters')
  const letter = section.locator('li.letter').first()
  await letter.waitFor()
  t.match(await letter.innerText(), /#2 refused with HTTP 422/, 'status')
  t.match(await letter.innerText(), /Response: rejected with 422/, 'body excerpt')
  await letter.getByText(/Event test-gw-2/).click()
  t.match(await letter.locator('pre').innerText(), /"bad": true/, 'the event')

  receiver.decide = () => 204
  await letter.getByRole('button', { name: 'Redrive dead letter 2' }).click()
  await section.getByText('1 delivered.').waitFor()
  await receiver.until(e => e.length === 2)
  t.equal(receiver.events[1]?.id, 'test-gw-2', 'the dead letter went upstream with its id')
  await section.getByText(/^None:/).waitFor()
  await cloud.getByRole('button', { name: /Dead letters of bridge cloud: 0/ }).waitFor()
})

t.test('a bridge whose upstream fails shows retrying, with the error, while the events wait', { skip }, async t => {
  const { gw, receiver, page } = await setUp(t)
  receiver.decide = () => 503
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a/t', '1', { qos: 1 })
  await page.goto(`${gw.admin?.url ?? ''}/`)
  const cloud = card(page, 'cloud')
  await cloud.locator('.state').getByText(/^↻ retrying/).waitFor({ timeout: 10_000 })
  t.match(await cloud.locator('dl').innerText(), /Last error\s+.*503/, 'the last error names the status')
  t.match(await cloud.locator('dl').innerText(), /Lag\s+1 event;/, 'the event waits')
  receiver.decide = () => 204
  await receiver.until(e => e.length === 1)
  await cloud.locator('.state').getByText('▶ running').waitFor({ timeout: 10_000 })
  t.pass('and it shows running again once the upstream takes the event')
})

t.test('the live tail filters by topic and shows payloads as text or base64', { skip }, async t => {
  const { gw, page } = await setUp(t)
  const client = await connect(t, brokerUrl(gw))
  await page.goto(`${gw.admin?.url ?? ''}/`)
  await card(page, 'cloud').waitFor({ timeout: 10_000 })
  await client.publishAsync('devices/kitchen/t', 'warm', { qos: 1 })
  await client.publishAsync('devices/garage/t', 'cold', { qos: 1 })
  await client.publishAsync('devices/garage/raw', Buffer.from([0xff, 0x00, 0x80]), { qos: 1 })
  const list = page.locator('#tail-list')
  await list.locator('li').nth(2).waitFor()

  await page.getByLabel('Topic filter').fill('devices/garage/#')
  await list.locator('li').nth(1).waitFor()
  t.equal(await list.locator('li').count(), 2, 'only the garage events')
  t.match(await list.innerText(), /cold/)
  t.match(await list.innerText(), /base64\s+\/wCA/, 'a binary payload is shown as base64')
  t.notMatch(await list.innerText(), /warm/)

  await page.getByLabel('Show payloads as').selectOption('base64')
  await list.getByText('Y29sZA==').waitFor()
  t.pass('text payloads can be read as base64 too')

  await page.getByLabel('Topic filter').fill('devices/#/t')
  await page.getByText("'#' must be a whole level and the last one").waitFor()
  t.equal(await page.getByLabel('Topic filter').getAttribute('aria-invalid'), 'true', 'an invalid filter is marked and explained')
})

t.test('with admin.token the page asks for it once and keeps it in the tab only', { skip }, async t => {
  const { gw, page, browser } = await setUp(t, { adminYaml: '  token: ${FG_TEST_DASHBOARD_TOKEN}' })
  await page.goto(`${gw.admin?.url ?? ''}/`)
  const token = page.getByLabel('Token', { exact: true })
  await token.waitFor()
  t.ok(await page.locator('#content').isHidden(), 'nothing shown before the token')

  await token.fill('not-the-token')
  await page.getByRole('button', { name: 'Use token' }).click()
  await page.getByText('The gateway refused that token.').waitFor()

  await token.fill(TOKEN)
  await page.getByRole('button', { name: 'Use token' }).click()
  await card(page, 'cloud').locator('.state').getByText('running').waitFor({ timeout: 10_000 })
  t.equal(await page.evaluate('sessionStorage.getItem("flowgate.adminToken")'), TOKEN, 'kept in sessionStorage')
  t.equal(await page.evaluate('localStorage.length'), 0, 'not in localStorage')
  t.same(await browser.context.cookies(), [], 'not in a cookie')
  t.notMatch(page.url(), new RegExp(TOKEN), 'not in the URL')

  // the next page load in this tab does not ask again
  await page.reload()
  await card(page, 'cloud').waitFor({ timeout: 10_000 })
  t.ok(await page.locator('#login').isHidden(), 'not asked again in the same tab')
  t.same(browser.problems.filter(p => !/401/.test(p)), [], 'no console error but the refused token')
})

t.test('at 360 px wide: everything fits, and the keyboard alone pauses a bridge', { skip }, async t => {
  const { gw, page, dir, browser } = await setUp(t, { viewport: { width: 360, height: 740 } })
  const client = await connect(t, brokerUrl(gw))
  await client.publishAsync('devices/a-rather-long-device-name-that-might-overflow/telemetry', JSON.stringify({ reading: 'x'.repeat(300) }), { qos: 1 })
  await page.goto(`${gw.admin?.url ?? ''}/`)
  const cloud = card(page, 'cloud')
  await cloud.locator('.state').getByText('running').waitFor({ timeout: 10_000 })
  await page.locator('#tail-list li').first().waitFor()
  await page.locator('.chart canvas').first().waitFor()

  // (expressions as strings: the tests are compiled without the DOM's types)
  const width = await page.evaluate('document.documentElement.scrollWidth') as number
  t.ok(width <= 360, `no sideways scrolling (page is ${width} px wide)`)
  const unlabelled = await page.evaluate(`[...document.querySelectorAll('input, select, button, textarea')]
    .filter(c => (c.labels?.length ?? 0) === 0 && !c.hasAttribute('aria-label') && !c.hasAttribute('aria-labelledby') && c.textContent.trim() === '')
    .map(c => c.outerHTML)`)
  t.same(unlabelled, [], 'every control has a label')
  const tooSmall = await page.evaluate("[...document.querySelectorAll('button')].filter(b => b.offsetParent !== null && b.getBoundingClientRect().height < 36).map(b => b.textContent)")
  t.same(tooSmall, [], 'buttons are big enough to tap')
  await page.screenshot({ path: join(shots ?? dir, 'dashboard-360.png'), fullPage: true })

  // Tab to the bridge's pause button and press Enter
  let focused = ''
  for (let i = 0; i < 40 && focused !== 'Pause bridge cloud'; i++) {
    await page.keyboard.press('Tab')
    focused = await page.evaluate("document.activeElement?.getAttribute('aria-label') ?? ''")
  }
  t.equal(focused, 'Pause bridge cloud', 'the pause button is reached with Tab')
  await page.keyboard.press('Enter')
  await cloud.locator('.state').getByText('paused').waitFor()
  t.equal((await status(gw)).bridges[0]?.state, 'paused')
  t.same(browser.problems, [], 'no console error')
})
