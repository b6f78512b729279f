import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import mqtt from 'mqtt'
import { startChild, writeConfig } from '../helpers/child.js'
import { tempDir } from '../helpers/gateway.js'
import { startOpsReceiver, type OpsReceiver } from '../helpers/ops-receiver.js'

function bridge (name: string, url: string, extra = ''): string {
  return `  - name: ${name}
    topics: ["devices/#"]
    sink: { url: ${JSON.stringify(url)}, mode: batch }
    batch: { lingerMs: 0 }
    retry: { initialDelay: 10ms, maxDelay: 100ms }
${extra}`
}

const seqs = (r: OpsReceiver): number[] => [...new Set(r.events.map(e => Number(e.extensions.sequence)))]

t.test('adding a bridge while publishing loses nothing on the existing bridge; a broken file is refused', async t => {
  const dir = await tempDir(t)
  const a = await startOpsReceiver(t)
  const b = await startOpsReceiver(t)
  const file = await writeConfig(dir, join(dir, 'data'), `bridges:\n${bridge('a', a.url, '    start: earliest\n')}`)
  const gw = await startChild(t, file)
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { reconnectPeriod: 0 })
  t.teardown(() => { client.end(true) })

  const TOTAL = 3000
  let sent = 0
  let reloaded: Promise<Record<string, unknown>> | undefined
  const lanes = Array.from({ length: 8 }, async () => {
    while (sent < TOTAL) {
      const n = ++sent
      await client.publishAsync(`devices/d/${n}`, String(n), { qos: 1 })
      if (n === 1000) {
        // mid-stream: add bridge b by rewriting the file
        reloaded = gw.waitForLog(e => e.event === 'reload')
        await writeConfig(dir, join(dir, 'data'), `bridges:\n${bridge('a', a.url, '    start: earliest\n')}${bridge('b', b.url)}`)
      }
    }
  })
  await Promise.all(lanes)
  const entry = await reloaded
  t.same(entry?.added, ['b'], 'the reload added bridge b')
  t.same(entry?.changed, [], 'bridge a was not touched')

  await a.until(() => seqs(a).length === TOTAL)
  const got = seqs(a)
  t.same(got, [...Array(TOTAL).keys()].map(i => i + 1), 'bridge a: every event, in order, no gaps')
  await b.until(() => seqs(b).includes(TOTAL))
  const fromB = seqs(b)
  const first = fromB[0] as number
  t.ok(first > 1, `bridge b started at the end of the log when added (sequence ${first})`)
  t.same(fromB, [...Array(TOTAL - first + 1).keys()].map(i => i + first), 'bridge b: no gaps from its start')

  // a broken file is refused, the gateway keeps running on the old config
  const refused = gw.waitForLog(e => e.event === 'reload-refused')
  await writeFile(file, 'bridges: [ this is not yaml')
  const why = await refused
  t.match(String((why.err as { message?: string }).message), /YAML syntax/)
  await client.publishAsync('devices/d/after', 'after', { qos: 1 })
  await a.until(() => seqs(a).includes(TOTAL + 1))
  await b.until(() => seqs(b).includes(TOTAL + 1))
  t.pass('both bridges still deliver after a refused reload')

  // SIGHUP reloads too: remove bridge b
  await writeConfig(dir, join(dir, 'data'), `bridges:\n${bridge('a', a.url, '    start: earliest\n')}`)
  const removed = await gw.waitForLog(e => e.event === 'reload' && Array.isArray(e.removed) && (e.removed as string[]).includes('b'))
  t.same(removed.removed, ['b'])
  gw.proc.kill('SIGHUP')
  const hup = await gw.waitForLog(e => e.event === 'reload')
  t.same([hup.added, hup.removed, hup.changed], [[], [], []], 'SIGHUP with an unchanged file changes nothing')

  // a change that needs a restart is reported as such
  const restart = gw.waitForLog(e => e.event === 'reload-needs-restart' || e.event === 'reload-refused')
  await writeFile(file, `gateway:\n  id: crash-gw\n  dataDir: ${JSON.stringify(join(dir, 'data'))}\n  logLevel: info\nbroker:\n  listeners:\n    - port: 0\n    - port: 0\nadmin:\n  port: 0\nbridges:\n${bridge('a', a.url, '    start: earliest\n')}`)
  t.same((await restart).keys, ['broker.listeners'])
  gw.proc.kill('SIGTERM')
  t.equal((await gw.exited).code, 0, 'stops cleanly with a client still connected')
})

t.test('gateway.logLevel changes in place: a reload to debug logs debug lines at once, one back to info stops them', async t => {
  const dir = await tempDir(t)
  const file = await writeConfig(dir, join(dir, 'data'))
  const gw = await startChild(t, file)
  const connectAs = async (clientId: string): Promise<void> => {
    // a login is logged (at debug) before the broker answers the CONNECT
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { clientId, reconnectPeriod: 0 })
    await client.endAsync()
  }
  const setLevel = async (from: string, to: string): Promise<Record<string, unknown>> => {
    const reloaded = gw.waitForLog(e => e.event === 'reload')
    await writeFile(file, (await readFile(file, 'utf8')).replace(`logLevel: ${from}`, `logLevel: ${to}`))
    return await reloaded
  }
  const logins = (): string[] => gw.stderr.flatMap(line => {
    try {
      const e = JSON.parse(line) as { event?: string, clientId?: string }
      return e.event === 'login' && e.clientId !== undefined ? [e.clientId] : []
    } catch { return [] }
  })

  await connectAs('before')
  const toDebug = await setLevel('info', 'debug')
  t.equal(toDebug.logLevel, 'debug', 'the reload reports the new level')
  t.same(toDebug.needsRestart, [], 'and nothing that needs a restart')
  await connectAs('during')
  await gw.waitForLog(e => e.event === 'login' && e.clientId === 'during', true)
  t.pass('a debug line is logged once the reload is done')

  t.equal((await setLevel('debug', 'info')).logLevel, 'info', 'back to info')
  await connectAs('after')
  // a reload's line comes after every line of what happened before it
  const hup = gw.waitForLog(e => e.event === 'reload')
  gw.proc.kill('SIGHUP')
  await hup
  t.same(logins(), ['during'], 'debug lines only while the level was debug')
})

t.test('a change to broker.auth that needs a restart is reported in the reload, with the other such keys; one to broker.limits applies in place', async t => {
  const dir = await tempDir(t)
  const file = await writeConfig(dir, join(dir, 'data'))
  const gw = await startChild(t, file)
  const restart = gw.waitForLog(e => e.event === 'reload-needs-restart')
  const reloaded = gw.waitForLog(e => e.event === 'reload')
  await writeFile(file, (await readFile(file, 'utf8')).replace('broker:\n', 'broker:\n  limits: { maxConnections: 10 }\n  auth: { allowAnonymous: true }\n'))
  t.same((await reloaded).needsRestart, ['broker.auth.allowAnonymous'], 'the reload names the key')
  t.same((await restart).keys, ['broker.auth.allowAnonymous'], 'in one line')
})

t.test('a config file emptied (a write under way, a mistake) is refused: the bridges keep running and keep their cursors', async t => {
  const dir = await tempDir(t)
  const a = await startOpsReceiver(t)
  const file = await writeConfig(dir, join(dir, 'data'), `bridges:\n${bridge('a', a.url, '    start: earliest\n')}`)
  const full = await readFile(file, 'utf8')
  const gw = await startChild(t, file)
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.port}`, { reconnectPeriod: 0 })
  t.teardown(() => { client.end(true) })
  await client.publishAsync('devices/d/1', '1', { qos: 1 })
  await a.until(() => seqs(a).includes(1))

  for (const text of ['', '# flowgate\n\n']) {
    const refused = gw.waitForLog(e => e.event === 'reload-refused' || e.event === 'reload')
    await writeFile(file, text)
    const entry = await refused
    t.equal(entry.event, 'reload-refused', `a file of ${JSON.stringify(text)} is refused`)
    t.match((entry.err as { message?: string }).message, /empty/, 'saying why')
  }
  await client.publishAsync('devices/d/2', '2', { qos: 1 })
  await a.until(() => seqs(a).includes(2))
  t.pass('bridge a still delivers')

  // the file written whole again: nothing changed, nothing to apply
  await writeFile(file, full.replace('logLevel: info', 'logLevel: warn'))
  const applied = await gw.waitForLog(e => e.event === 'reload')
  t.same([applied.added, applied.removed, applied.changed], [[], [], []], 'the whole file reloads with bridge a untouched')
  await client.publishAsync('devices/d/3', '3', { qos: 1 })
  await a.until(() => seqs(a).includes(3))
  t.same(seqs(a), [1, 2, 3], 'every event once, in order: the cursor was kept')
})
