import t from 'tap'
import { ConfigError, ConfigValueError, defaultConfig, parseConfig, parseDuration, parseSize, printConfig } from '../../config/index.js'

function issuesOf (text: string, env: NodeJS.ProcessEnv = {}): Array<{ path: string, line?: number | undefined, message: string }> {
  try {
    parseConfig(text, { env, file: 'f.yaml' })
  } catch (err) {
    if (err instanceof ConfigError) return err.issues
    throw err
  }
  return []
}

t.test('embedded defaults', async t => {
  const { config } = defaultConfig()
  t.same(config.broker.listeners, [{ host: '127.0.0.1', port: 1883, protocol: 'mqtt' }])
  t.equal(config.gateway.dataDir, './flowgate-data')
  t.equal(config.storage.durability, 'sync')
  t.equal(config.storage.whenFull, 'drop-oldest')
  t.same(config.storage.retention, { maxAge: '7d', maxBytes: '1GiB', sweepSchedule: '* * * * *' })
  t.match(config.gateway.id, /^[A-Za-z0-9._-]+$/, 'gateway id defaults to a sanitised host name')
  t.ok(Object.isFrozen(config.storage.retention), 'the config is frozen')
})

t.test('errors name the key path and the line', async t => {
  t.same(issuesOf('gateway:\n  id: a\nstorage:\n  durability: fast\n'), [{ path: 'storage.durability', line: 4, message: 'must be one of: sync, async' }])
  t.same(issuesOf('broker:\n  listeners:\n    - port: 0\n    - port: 70000\n'), [{ path: 'broker.listeners[1].port', line: 4, message: 'must be <= 65535' }])
  t.same(issuesOf('storage:\n  retention:\n    maxAge: forever\n'), [{ path: 'storage.retention.maxAge', line: 3, message: 'must be a duration such as 500ms, 30s, 5m, 7d' }])
  t.same(issuesOf('storage:\n  retention:\n    maxBytes: lots\n'), [{ path: 'storage.retention.maxBytes', line: 3, message: 'must be a size such as 512KiB, 100MB, 1GiB' }])
  t.same(issuesOf('gateway:\n  dataDir: x\n  colour: blue\n'), [{ path: 'gateway.colour', line: 3, message: 'unknown key' }])
  t.same(issuesOf('storage:\n  durability: sync\nbrokr: {}\n'), [{ path: 'brokr', line: 3, message: 'unknown key' }])
  t.same(issuesOf('broker:\n  listeners: []\n'), [{ path: 'broker.listeners', line: 2, message: 'must NOT have fewer than 1 items' }])
  const several = issuesOf('storage:\n  durability: fast\n  whenFull: never\n')
  t.same(several.map(i => i.path), ['storage.durability', 'storage.whenFull'], 'every problem is reported, in file order')
  const syntax = issuesOf('gateway:\n  id: [a\n')
  t.equal(syntax.length, 1)
  t.match(syntax[0]?.message, /^YAML syntax/)
})

t.test('the error message carries file, line and key', async t => {
  t.throws(() => parseConfig('storage:\n  whenFull: later\n', { file: 'site.yaml', env: {} }), {
    code: 'FG_ERR_CONFIG_INVALID',
    message: 'site.yaml:2: storage.whenFull: must be one of: drop-oldest, reject-new'
  })
})

t.test('${VAR} substitution from the environment', async t => {
  const loaded = parseConfig('gateway:\n  id: ${SITE}-gw\n  dataDir: /var/lib/${APP}\n', { env: { SITE: 'kitchen', APP: 'fg' } })
  t.equal(loaded.config.gateway.id, 'kitchen-gw')
  t.equal(loaded.config.gateway.dataDir, '/var/lib/fg')
  t.same(issuesOf('gateway:\n  id: ${MISSING}\n'), [{ path: 'gateway.id', line: 2, message: 'environment variable MISSING is not set' }])
  t.equal(parseConfig('gateway:\n  dataDir: a$${b}\n', { env: {} }).config.gateway.dataDir, 'a${b}', '$${ escapes a literal ${')
})

t.test('printed config redacts values that came from the environment', async t => {
  const loaded = parseConfig('gateway:\n  id: ${SECRET_ID}\n', { env: { SECRET_ID: 'hunter2' } })
  const printed = printConfig(loaded)
  t.notMatch(printed, /hunter2/)
  t.match(printed, /id: "?\[redacted\]"?/)
  t.match(printed, /durability: sync/, 'defaults are printed too')
})

t.test('sizes and durations', async t => {
  t.equal(parseSize('1GiB'), 1024 ** 3)
  t.equal(parseSize('512KiB'), 512 * 1024)
  t.equal(parseSize('100MB'), 100e6)
  t.equal(parseSize('1000'), 1000)
  t.equal(parseDuration('7d'), 7 * 86_400_000)
  t.equal(parseDuration('1.5s'), 1500)
  t.equal(parseDuration('250ms'), 250)
  t.throws(() => parseDuration('7'), TypeError)
  t.throws(() => parseSize('1 parsec'), TypeError)
})

t.test('one kind of configuration error: a bad value a bridge stage finds is a ConfigError too', async t => {
  const err = new ConfigValueError('[1].any[0]', 'unknown filter dialect "regex"')
  t.ok(err instanceof ConfigError, 'callers catch ConfigError for both')
  t.equal(err.code, 'FG_ERR_CONFIG_INVALID')
  t.equal(err.message, '[1].any[0]: unknown filter dialect "regex"')
  const located = err.atPath('bridges[0].filters')
  t.strictSame(located.issues, [{ path: 'bridges[0].filters[1].any[0]', message: 'unknown filter dialect "regex"' }], 'the loader prefixes the key path')
  t.equal(new ConfigValueError('', 'must be a string').atPath('bridges[2].event.type').path, 'bridges[2].event.type')
  t.equal(new ConfigValueError('type', 'x').atPath('bridges[0].event').path, 'bridges[0].event.type')
})

t.test('a bridge setting a stage refuses is reported like any config issue, with its key path and line', async t => {
  const { parseGatewayConfig } = await import('../../gateway/config.js')
  const text = 'bridges:\n  - name: up\n    topics: ["a/#"]\n    sink:\n      url: http://127.0.0.1:1/x\n    filters:\n      - exact: { type: x }\n      - any: [{ regex: { type: ".*" } }]\n'
  try {
    parseGatewayConfig(text, { env: {}, file: 'f.yaml' })
    t.fail('the regex dialect must be refused')
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    t.match(err.message, /^f\.yaml:8: bridges\[0\]\.filters\[1\]\.any\[0\]: unknown filter dialect "regex"/)
  }
})

t.test('hostile YAML: an alias bomb and duplicate keys are config errors; thousands of problems are counted, not listed', async t => {
  const bomb = ['a: &a [x, x, x, x, x, x, x, x, x]']
  for (const [name, prev] of [['b', 'a'], ['c', 'b'], ['d', 'c'], ['e', 'd'], ['f', 'e'], ['g', 'f']]) bomb.push(`${name}: &${name} [${Array(9).fill(`*${prev as string}`).join(', ')}]`)
  t.match(issuesOf(bomb.join('\n')), [{ path: '', message: /^YAML aliases expand too far/ }])
  t.same(issuesOf('gateway: &g { id: a }\nstorage: { durability: sync }\n'), [], 'an anchor alone is fine')
  t.same(issuesOf('gateway:\n  id: a\n  id: b\n'), [{ path: 'gateway.id', line: 3, message: 'duplicate key' }])
  t.same(issuesOf('bridges:\n  - name: x\n    name: y\n'), [{ path: 'bridges[0].name', line: 3, message: 'duplicate key' }])
  const many = Array.from({ length: 5000 }, (_, i) => `k${i}: ${i}`).join('\n')
  const err = (() => { try { parseConfig(many, { file: 'f.yaml' }) } catch (e) { return e as ConfigError } })()
  t.equal(err?.issues.length, 20, 'the first 20 are listed')
  t.match(err?.message, /f\.yaml: … and 4980 more problems$/)
})

t.test('the validator compiled at build time is in use and judges as the schema compiled now does', async t => {
  const { compileValidator, configSchema, configValidator, generatedHash, precompiled, schemaHash } = await import('../../config/validator.js')
  const { ConfigSchema } = await import('../../config/schema.js')
  t.ok(precompiled, 'npm run build compiled the validator')
  t.equal(generatedHash, schemaHash(ConfigSchema), 'from the schema in config/schema.ts (run `npm run build` after changing it)')
  t.same(configSchema, JSON.parse(JSON.stringify(ConfigSchema)), 'and the schema in use is that schema')
  const now = compileValidator(ConfigSchema)
  const ahead = configValidator()
  const inputs: unknown[] = [
    {},
    { storage: { durability: 'fast' } },
    { broker: { listeners: [{ port: 70000 }] }, gateway: { colour: 'blue' } },
    { bridges: [{ name: 'up', topics: ['a/#'], sink: { url: 'http://127.0.0.1:1/x', mode: 'batch' } }] },
    { admin: { token: 'x'.repeat(40) }, storage: { retention: { maxBytes: 'lots' } } }
  ]
  for (const input of inputs) {
    const a = structuredClone(input)
    const b = structuredClone(input)
    t.equal(ahead(a), now(b), `same verdict for ${JSON.stringify(input)}`)
    t.same(ahead.errors ?? null, now.errors ?? null, 'the same errors')
    t.same(a, b, 'and the same defaults filled in')
  }
})
