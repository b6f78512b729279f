import t from 'tap'
import { ConfigError } from '../../config/index.js'
import { anonymousPolicy, isLoopback } from '../../gateway/auth/index.js'
import { parseGatewayConfig } from '../../gateway/config.js'

t.test('isLoopback: only addresses this machine alone can reach', async t => {
  for (const h of ['127.0.0.1', '127.0.0.2', '127.255.255.254', '::1', 'localhost', 'LOCALHOST', '::ffff:127.0.0.1', '[::1]', '0:0:0:0:0:0:0:1']) t.ok(isLoopback(h), h)
  for (const h of ['0.0.0.0', '::', '192.168.1.10', '10.0.0.1', 'pi.local', '128.0.0.1', '::ffff:10.0.0.1', '127.example.com']) t.notOk(isLoopback(h), h)
})

t.test('anonymousPolicy: listener setting, then broker.auth.allowAnonymous, then loopback only', async t => {
  t.same(anonymousPolicy({ host: '127.0.0.1' }, undefined), { allowed: true, source: 'address' }, 'the embedded default')
  t.same(anonymousPolicy({ host: '0.0.0.0' }, undefined), { allowed: false, source: 'address' }, 'all interfaces: refused')
  t.same(anonymousPolicy({ host: '192.168.1.10' }, undefined), { allowed: false, source: 'address' })
  t.same(anonymousPolicy({ host: '0.0.0.0' }, true), { allowed: true, source: 'auth' }, 'explicitly allowed globally')
  t.same(anonymousPolicy({ host: '127.0.0.1' }, false), { allowed: false, source: 'auth' }, 'explicitly refused globally')
  t.same(anonymousPolicy({ host: '0.0.0.0', allowAnonymous: true }, false), { allowed: true, source: 'listener' }, 'the listener wins')
  t.same(anonymousPolicy({ host: '127.0.0.1', allowAnonymous: false }, true), { allowed: false, source: 'listener' })
})

t.test('the admin API needs a token exactly where anonymous MQTT clients are refused: beyond loopback', async t => {
  const issuesFor = (host: string): string[] => {
    try {
      parseGatewayConfig(`admin:\n  host: ${JSON.stringify(host)}\n`, { env: {} })
      return []
    } catch (err) {
      if (err instanceof ConfigError) return err.issues.map(i => i.path)
      throw err
    }
  }
  for (const h of ['127.0.0.1', '::1', '[::1]', 'LOCALHOST', '::ffff:127.0.0.1', '0:0:0:0:0:0:0:1']) t.strictSame(issuesFor(h), [], `${h}: loopback, no token needed`)
  for (const h of ['0.0.0.0', '::', '192.168.1.10']) t.strictSame(issuesFor(h), ['admin.token'], `${h}: a token is required`)
})
