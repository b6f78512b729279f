/**
 * Headless Chromium for browser tests: Debian's `chromium` (or $FLOWGATE_CHROMIUM) driven by
 * playwright-core, with a fresh profile per test and no network beyond what the page asks for.
 */
import { access, constants } from 'node:fs/promises'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { tempDir, type TestContext } from './gateway.js'

const CANDIDATES = [process.env.FLOWGATE_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((p): p is string => p !== undefined && p !== '')

/** Chromium's flags: quiet on a machine with no way out (no background requests, no QUIC, no sync). */
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync']

/** The browser's path, or the reason there is none (for the test's `skip`). Under CI a missing browser is an error. */
export async function chromiumSupport (): Promise<{ path: string } | { skip: string }> {
  for (const path of CANDIDATES) {
    try {
      await access(path, constants.X_OK)
      return { path }
    } catch {
      // not there: try the next
    }
  }
  const reason = `no Chromium installed (looked for ${CANDIDATES.join(', ')}; apt-get install chromium)`
  if (process.env.CI !== undefined) throw new Error(`CI must run the browser tests, but there is ${reason}`)
  return { skip: reason }
}

export interface BrowserPage {
  page: Page
  context: BrowserContext
  /** Console errors, page errors and failed requests seen so far. */
  problems: string[]
}

/** A new browser with an empty profile and one page of `width` x `height`, closed at teardown. */
export async function openPage (t: TestContext, executablePath: string, viewport = { width: 1280, height: 900 }): Promise<BrowserPage> {
  const profile = await tempDir(t, 'flowgate-chromium-')
  const context = await chromium.launchPersistentContext(profile, { executablePath, headless: true, args: ARGS, viewport })
  t.teardown(async () => await context.close())
  const page = context.pages()[0] ?? await context.newPage()
  const problems: string[] = []
  page.on('console', m => { if (m.type() === 'error') problems.push(`console: ${m.text()}`) })
  page.on('pageerror', e => problems.push(`page error: ${e.message}`))
  page.on('requestfailed', r => {
    // the tail's long poll is cut when the page closes or hides; that is not a problem
    if (!r.url().includes('/api/events')) problems.push(`request failed: ${r.url()} ${r.failure()?.errorText ?? ''}`)
  })
  return { page, context, problems }
}
