/**
 * The admin API as a web server: the dashboard's files as a browser receives them, and the
 * headers on every response (a strict policy, no CORS allowance).
 */
import tap from 'tap'
import { request } from 'undici'
import { loadAssets, CONTENT_SECURITY_POLICY } from '../../gateway/admin/web.js'
import { startGateway, tempDir, testConfig } from '../helpers/gateway.js'
import type { Gateway } from '../../gateway/index.js'

const BUDGET = 150 * 1024
process.env.FG_TEST_WEB_TOKEN = 'a-long-enough-admin-token'

interface Answer { status: number, headers: Record<string, string | string[] | undefined>, body: Buffer, json: any } // eslint-disable-line @typescript-eslint/no-explicit-any

async function call (gw: Gateway, path: string, opts: { method?: 'GET' | 'POST' | 'OPTIONS', headers?: Record<string, string>, body?: string } = {}): Promise<Answer> {
  const res = await request(`${gw.admin?.url ?? ''}${path}`, { method: opts.method ?? 'GET', headers: opts.headers ?? {}, ...(opts.body !== undefined ? { body: opts.body } : {}) })
  const body = Buffer.from(await res.body.arrayBuffer())
  const type = String(res.headers['content-type'] ?? '')
  return { status: res.statusCode, headers: res.headers, body, json: type.includes('json') && res.headers['content-encoding'] === undefined ? JSON.parse(body.toString()) : undefined }
}

function hasSecurityHeaders (t: Pick<typeof tap, 'equal' | 'ok' | 'notOk'>, a: Answer, what: string): void {
  t.equal(a.headers['content-security-policy'], CONTENT_SECURITY_POLICY, `${what}: Content-Security-Policy`)
  t.equal(a.headers['x-content-type-options'], 'nosniff', `${what}: X-Content-Type-Options`)
  t.equal(a.headers['referrer-policy'], 'no-referrer', `${what}: Referrer-Policy`)
  t.notOk(Object.keys(a.headers).some(h => h.startsWith('access-control-')), `${what}: no CORS allowance`)
}

tap.test('the dashboard is served from the package, with a strict policy and nothing inline', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t)))
  const page = await call(gw, '/')
  t.equal(page.status, 200)
  t.match(page.headers['content-type'], /^text\/html/)
  hasSecurityHeaders(t, page, 'the page')
  const csp = CONTENT_SECURITY_POLICY
  t.match(csp, /script-src 'self'/)
  t.notMatch(csp, /unsafe-inline|unsafe-eval|\*/, 'no inline script or style, no eval, no wildcard')
  t.match(csp, /frame-ancestors 'none'/)

  const html = page.body.toString()
  const scripts = [...html.matchAll(/<script\b([^>]*)>([\s\S]*?)<\/script>/g)]
  t.ok(scripts.length > 0)
  for (const [, attrs, content] of scripts) {
    t.match(attrs, /\bsrc="\/ui\//, 'every script is a file of the gateway')
    t.equal(content?.trim(), '', 'no inline script')
  }
  t.notMatch(html, /<style|\sstyle=|\son[a-z]+=/i, 'no inline style or event handler attributes')
  const refs = [...html.matchAll(/\b(?:src|href)="([^"]+)"/g)].map(m => m[1] ?? '')
  t.same(refs.filter(r => !r.startsWith('/ui/') && !r.startsWith('#')), [], 'every file the page loads comes from the gateway')

  // every file the page and its modules load is served, typed and compressed
  const seen = new Set<string>()
  const queue = refs.filter(r => r.startsWith('/ui/'))
  let compressed = 0
  while (queue.length > 0) {
    const path = queue.shift() ?? ''
    if (seen.has(path)) continue
    seen.add(path)
    const a = await call(gw, path, { headers: { 'accept-encoding': 'gzip' } })
    t.equal(a.status, 200, `${path} is served`)
    t.equal(a.headers['content-encoding'], 'gzip', `${path} is sent compressed`)
    t.ok(a.headers['content-type'] !== undefined && a.headers.etag !== undefined, `${path} has a type and an ETag`)
    compressed += a.body.length
    if (path.endsWith('.js') && !path.includes('/vendor/')) {
      const { gunzipSync } = await import('node:zlib')
      const source = gunzipSync(a.body).toString()
      for (const m of source.matchAll(/\bfrom\s+'(\.\/[^']+)'/g)) queue.push(new URL(m[1] ?? '', `http://x${path}`).pathname)
      t.notMatch(source, /https?:\/\//, `${path} names no other server`)
    }
  }
  t.ok(seen.has('/ui/vendor/uPlot.iife.min.js'), 'the chart library is one of them')

  // all of them together, as the browser receives them
  const all = await loadAssets()
  const total = [...all.values()].reduce((n, a) => n + a.gzip.length, 0)
  t.ok(total <= BUDGET, `all ${all.size} dashboard files come to ${(total / 1024).toFixed(1)} KiB gzipped (at most 150 KiB)`)
  t.ok(compressed <= total, `the page loads ${(compressed / 1024).toFixed(1)} KiB`)

  const main = await call(gw, '/ui/main.js')
  t.equal((await call(gw, '/ui/main.js', { headers: { 'if-none-match': String(main.headers.etag) } })).status, 304, 'unchanged files are not sent again')
  t.match(await call(gw, '/ui/nothing.js'), { status: 404, json: { error: { code: 'FG_ERR_ADMIN_NOT_FOUND' } } })
  t.equal((await call(gw, '/ui/..%2F..%2F..%2Fpackage.json')).status, 404, 'nothing outside the dashboard is served')
  t.equal((await call(gw, '/ui/main.js.map')).status, 404, 'only the page, styles, scripts and icon are served')
})

tap.test('API responses carry the same headers, are not cached, and allow no other origin', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t)))
  const evil = { origin: 'https://evil.example' }
  const status = await call(gw, '/api/status', { headers: evil })
  t.equal(status.status, 200)
  hasSecurityHeaders(t, status, '/api/status')
  t.equal(status.headers['cache-control'], 'no-store')
  hasSecurityHeaders(t, await call(gw, '/api/nothing'), 'an error')
  hasSecurityHeaders(t, await call(gw, '/metrics', { headers: evil }), '/metrics')
  for (const path of ['/healthz', '/readyz']) {
    const health = await call(gw, path)
    t.equal(health.status, 200)
    hasSecurityHeaders(t, health, path)
    t.equal(health.headers['cache-control'], 'no-store', `${path} is not cached`)
  }
  const preflight = await call(gw, '/api/bridges/cloud/pause', { method: 'OPTIONS', headers: { ...evil, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' } })
  t.ok(preflight.status >= 400, `a CORS preflight is not granted (${preflight.status})`)
  hasSecurityHeaders(t, preflight, 'the preflight')
})

tap.test('with admin.token the page and its files are open; the API is not', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t), '', { adminYaml: '  token: ${FG_TEST_WEB_TOKEN}' }))
  t.equal((await call(gw, '/')).status, 200, 'the page (it asks for the token)')
  t.equal((await call(gw, '/ui/main.js')).status, 200)
  t.match(await call(gw, '/api/status'), { status: 401, json: { error: { code: 'FG_ERR_ADMIN_UNAUTHORIZED' } } })
  t.equal((await call(gw, '/api/rates')).status, 401)
  t.equal((await call(gw, '/api/events')).status, 401)
  t.equal((await call(gw, '/api/rates', { headers: { authorization: 'Bearer a-long-enough-admin-token' } })).status, 200)
  t.match(await call(gw, '/api/bridges/x/pause', { method: 'POST', headers: { origin: 'https://evil.example', authorization: 'Bearer a-long-enough-admin-token' } }), { status: 403 }, 'a token does not let another origin act')
})
