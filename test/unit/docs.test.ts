import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { DOC_END, DOC_START, renderConfigReference } from '../../config/doc.js'
import { repoRoot } from '../helpers/paths.js'

const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')

t.test('the README config reference is the one generated from the schema', async t => {
  const start = readme.indexOf(DOC_START)
  const end = readme.indexOf(DOC_END)
  t.ok(start >= 0 && end > start, 'README has the reference markers')
  t.equal(readme.slice(start, end + DOC_END.length), renderConfigReference(), 'run `npm run docs` after changing config/schema.ts')
})

t.test('the README shows the two commands a newcomer needs', async t => {
  t.match(readme, 'npm install && npm start')
  t.match(readme, 'npm test')
})

t.test('the example configs are valid', async t => {
  const { readdir } = await import('node:fs/promises')
  const { loadGatewayConfig } = await import('../../gateway/config.js')
  const dir = join(repoRoot, 'config', 'examples')
  const files = (await readdir(dir)).filter(f => f.endsWith('.yaml'))
  t.ok(files.includes('quickstart.yaml'))
  for (const f of files) await t.resolves(loadGatewayConfig(join(dir, f), {}), `${f} passes flowgate check-config`)
})

t.test('the quickstart delivers what its comments promise', async t => {
  const { loadGatewayConfig } = await import('../../gateway/config.js')
  const { compileBridge } = await import('../../bridges/index.js')
  const { config } = await loadGatewayConfig(join(repoRoot, 'config', 'examples', 'quickstart.yaml'), {})
  t.strictSame(config.broker.listeners.map(l => `${l.host}:${l.port}`), ['127.0.0.1:1883'], 'MQTT on localhost:1883, where `npx mqtt pub` publishes')
  t.equal(config.bridges.length, 1)
  const bridge = config.bridges[0]!
  t.equal(bridge.sink.url, 'http://127.0.0.1:9090/events', 'to the `flowgate receive --port 9090` that `npm start` runs')
  const compiled = compileBridge(bridge, config.gateway.id)
  t.ok(compiled.matchesTopic('devices/th-1/telemetry'), 'the example publish is bridged')
  const event = compiled.map({ seq: 1, time: 0, topic: 'devices/th-1/telemetry', payload: Buffer.from('{"t":21.5}'), qos: 1, retain: false, clientId: 'c' })
  t.match(event, { type: 'com.example.telemetry', source: '/devices/th-1', data: { t: 21.5 } }, 'as a CloudEvent named after the topic')
})
