import t from 'tap'
import { compileBridge } from '../../bridges/index.js'
import { parseGatewayConfig } from '../../gateway/config.js'

/** The first bridge's config with `sink` (YAML flow mappings), or the loader's message. */
function parse (sink: string): ReturnType<typeof parseGatewayConfig>['config']['bridges'][number] | string {
  try {
    return parseGatewayConfig(`bridges:\n  - name: a\n    sink: { url: "http://127.0.0.1:9/"${sink} }\n`).config.bridges[0] as ReturnType<typeof parseGatewayConfig>['config']['bridges'][number]
  } catch (err) {
    return (err as Error).message
  }
}

t.test('defaults: one request in flight, no compression, no cap', async t => {
  const cfg = parse('')
  t.match(cfg, { sink: { maxInFlight: 1, compression: 'none' } })
  t.equal(typeof cfg === 'string' ? cfg : cfg.sink.maxBytesPerSecond, undefined)
  if (typeof cfg === 'string') return
  t.match(compileBridge(cfg, 'gw'), { maxInFlight: 1, compression: 'none', maxBytesPerSecond: undefined })
})

t.test('the keys as written', async t => {
  const cfg = parse(', maxInFlight: 64, compression: br, maxBytesPerSecond: 32KiB')
  if (typeof cfg === 'string') return t.fail(cfg)
  t.match(compileBridge(cfg, 'gw'), { maxInFlight: 64, compression: 'br', maxBytesPerSecond: 32 * 1024 })
})

t.test('bad values name the key', async t => {
  t.match(parse(', maxInFlight: 0'), /bridges\[0\]\.sink\.maxInFlight/)
  t.match(parse(', maxInFlight: 2000'), /bridges\[0\]\.sink\.maxInFlight/)
  t.match(parse(', compression: zstd'), /bridges\[0\]\.sink\.compression/)
  t.match(parse(', maxBytesPerSecond: fast'), /bridges\[0\]\.sink\.maxBytesPerSecond/)
  t.equal(parse(', maxBytesPerSecond: 0B'), 'config:3: bridges[0].sink.maxBytesPerSecond: must be at least 1B; leave it out for no cap')
})
