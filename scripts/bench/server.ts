/**
 * A broker under test, run in its own process so the load generator does not
 * share its event loop: `plain` is Aedes with its defaults, `flowgate` the gateway.
 * Talks to the parent over IPC: sends {port}, answers 'stats' with {maxRss, rss, cpu}.
 */
import { createServer, type AddressInfo } from 'node:net'
import { Aedes } from 'aedes'
import { pino } from 'pino'
import { parseConfig } from '../../config/index.js'
import { createGateway } from '../../gateway/index.js'

const [kind, dataDir, durability = 'sync', bridgeUrl, maxBytes = '8GiB', commitWindow] = process.argv.slice(2)
const send = (msg: unknown): void => { process.send?.(msg) }

async function start (): Promise<{ port: number, close: () => Promise<void> }> {
  if (kind === 'plain') {
    const broker = await Aedes.createBroker()
    const server = createServer(broker.handle)
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return {
      port: (server.address() as AddressInfo).port,
      close: async () => { server.close(); await new Promise<void>(resolve => broker.close(() => resolve())) }
    }
  }
  const loaded = parseConfig(`gateway: { id: bench, dataDir: ${JSON.stringify(dataDir)}, logLevel: silent }
broker: { listeners: [{ port: 0 }], limits: { publishRate: 0 } }
admin: { enabled: false }
storage: { durability: ${durability}, ${commitWindow === undefined ? '' : `commitWindow: ${commitWindow}, `}retention: { maxBytes: "${maxBytes}" }, reserveFreeBytes: "0" }
${bridgeUrl === undefined || bridgeUrl === '' ? '' : `bridges:
  - name: bench
    start: earliest
    sink: { url: ${JSON.stringify(bridgeUrl)}, mode: batch }
    retry: { initialDelay: 50ms, maxDelay: 500ms }
`}`)
  const gw = await createGateway(loaded.config, { logger: pino({ level: 'silent' }) })
  return { port: gw.listeners[0]?.port ?? 0, close: async () => await gw.close() }
}

const server = await start()
send({ port: server.port })
process.on('message', (msg: unknown) => {
  if (msg === 'stats') {
    const usage = process.resourceUsage()
    // cpu: microseconds of CPU used by every thread of this process so far (JIT, GC and I/O threads included)
    send({ maxRss: usage.maxRSS * 1024, rss: process.memoryUsage().rss, cpu: usage.userCPUTime + usage.systemCPUTime })
  }
  if (msg === 'stop') void server.close().then(() => process.exit(0))
})
