/**
 * bench:e2e's gateway, in its own process: flowgate with one bridge to a URL
 * given on argv (or none). argv[2] is a JSON GatewaySpec. Talks to the parent
 * over IPC: sends { port, startedAt, cpuAtStart } once running (startedAt: epoch
 * ms just before the gateway was created, hi-res; cpuAtStart: the process's CPU
 * time then, µs); answers 'status' with the bridge's status and the CPU time
 * used so far, and 'stop' by closing and exiting.
 */
import { pino } from 'pino'
import { parseGatewayConfig } from '../../gateway/config.js'
import { createGateway } from '../../gateway/index.js'

export interface GatewaySpec {
  dataDir: string
  durability: 'sync' | 'async'
  /** PEM file of an ECDSA P-256 key: every event is signed (gateway.signing). */
  signingKey?: string
  bridge?: {
    name: string
    url: string
    mode: 'binary' | 'structured' | 'batch'
    start: string
    topics?: string[]
    maxInFlight?: number
    compression?: 'none' | 'gzip' | 'br'
    /** batch.maxEvents (default 500). */
    maxEvents?: number
  }
}

const spec = JSON.parse(process.argv[2] ?? '{}') as GatewaySpec
const send = (msg: unknown): void => { process.send?.(msg) }
const b = spec.bridge

// The per-client publish rate limit is off: the bench measures the pipeline, not the limiter.
const signing = spec.signingKey === undefined ? '' : `, signing: { key: ${JSON.stringify(spec.signingKey)} }`
const loaded = parseGatewayConfig(`gateway: { id: bench, dataDir: ${JSON.stringify(spec.dataDir)}, logLevel: silent${signing} }
broker: { listeners: [{ port: 0 }], limits: { publishRate: 0 } }
admin: { enabled: false }
storage: { durability: ${spec.durability}, retention: { maxBytes: 8GiB } }
${b === undefined ? '' : `bridges:
  - name: ${b.name}
    topics: ${JSON.stringify(b.topics ?? ['#'])}
    start: ${JSON.stringify(b.start)}
    event: { topicPattern: "devices/{deviceid}/{kind}", type: "com.example.{kind}", source: "/sites/bench/{deviceid}" }
    sink: { url: ${JSON.stringify(b.url)}, mode: ${b.mode}, maxInFlight: ${b.maxInFlight ?? 1}, compression: ${b.compression ?? 'none'} }
    batch: { maxEvents: ${b.maxEvents ?? 500} }
    retry: { initialDelay: 10ms, maxDelay: 200ms }
`}`)

const cpu = (): number => { const u = process.cpuUsage(); return u.user + u.system }
const cpuAtStart = cpu()
const startedAt = performance.timeOrigin + performance.now()
const gw = await createGateway(loaded.config, { logger: pino({ level: 'silent' }) })
send({ port: gw.listeners[0]?.port ?? 0, startedAt, cpuAtStart })
process.on('message', (msg: unknown) => {
  if (msg === 'status') send({ status: b === undefined ? undefined : gw.bridges.get(b.name)?.status(), lastSeq: gw.log.lastSeq, cpu: cpu(), maxRss: process.resourceUsage().maxRSS * 1024 })
  if (msg === 'stop') void gw.close().then(() => process.exit(0))
})
