/**
 * Prometheus metrics. Counters that already exist elsewhere (log stats, bridge
 * status) are read at scrape time, so the hot path pays nothing for them.
 * Label sets are bounded: QoS, drop reason, bridge name, status class.
 *
 * The metrics library (prom-client) is loaded by the first scrape, not at
 * start: a gateway nobody scrapes never loads it. The histograms observed
 * as things happen (commits, upstream requests) are kept here until then,
 * and the library's registry reads them (histogram.ts).
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Counter, Registry } from 'prom-client'
import type { BridgeStatus } from '../bridges/index.js'
import { DROP_REASONS, type CommitEvent, type DeadLetterStore, type EventLog } from '../storage/index.js'
import type { SecurityStatsSnapshot } from './auth/index.js'
import { LiveHistogram } from './histogram.js'
import type { StoreHealth } from './store-health.js'

/** The Prometheus text format, version 0.0.4 (what the registry writes). */
const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

export interface MetricsSources {
  log: EventLog
  /** Whether the stores can write, and their failed writes. */
  health?: StoreHealth
  deadLetters?: DeadLetterStore
  bridges: () => BridgeStatus[]
  /** Oldest undelivered event age per bridge, seconds (computed at scrape). */
  bridgeOldestAge: (name: string) => Promise<number>
  connectedClients: () => number
  /** Security counters (auth failures, ACL denials, limit closures, protocol errors). */
  security?: () => SecurityStatsSnapshot
}

/** Counter whose value is read from a monotonic source at scrape time. */
function mirror (counter: Counter<string>, labels: Record<string, string>, value: number, seen: Map<string, number>): void {
  const key = `${(counter as unknown as { name: string }).name}${JSON.stringify(labels)}`
  const before = seen.get(key) ?? 0
  if (value > before) counter.inc(labels, value - before)
  seen.set(key, Math.max(before, value))
}

export class Metrics {
  private readonly commitRecords = new LiveHistogram('flowgate_commit_records', 'Records per group commit.', [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000])
  private readonly commitSeconds = new LiveHistogram('flowgate_commit_duration_seconds', 'Time of one group commit (LevelDB write, fsync when durability is sync).', [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1])
  private readonly requestSeconds = new LiveHistogram('flowgate_bridge_request_duration_seconds', 'Upstream HTTP request time, by bridge and status class (2xx, 4xx, 5xx, timeout, error).',
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10], ['bridge', 'status_class'])
  // sampled every 10 ms from the first scrape on (not before: a timer 100 times a second keeps an
  // idle gateway's core awake); each scrape reports what happened since the previous one
  private loopDelay: IntervalHistogram | undefined
  private closed = false
  private registry: Promise<Registry> | undefined

  constructor (private readonly src: MetricsSources) {
    src.log.on('commit', (e: CommitEvent) => this.observeCommit(e))
  }

  /** The registry, with every metric; prom-client is loaded here. */
  private async build (): Promise<Registry> {
    const { Counter, Gauge, Registry } = await import('prom-client')
    const r = new Registry()
    const src = this.src
    const seen = new Map<string, number>()
    const log = src.log
    const qos = ['0', '1', '2']

    new Counter({
      name: 'flowgate_ingested_messages_total', help: 'Publishes accepted into the event log, by QoS.', labelNames: ['qos'], registers: [r],
      collect () { qos.forEach((q, i) => mirror(this, { qos: q }, log.ingested.records[i] ?? 0, seen)) }
    })
    new Counter({
      name: 'flowgate_ingested_bytes_total', help: 'Payload bytes accepted into the event log, by QoS.', labelNames: ['qos'], registers: [r],
      collect () { qos.forEach((q, i) => mirror(this, { qos: q }, log.ingested.bytes[i] ?? 0, seen)) }
    })
    this.commitRecords.registerIn(r)
    this.commitSeconds.registerIn(r)
    new Gauge({ name: 'flowgate_log_bytes', help: 'Bytes held by the event log.', registers: [r], collect () { this.set(log.stats().bytes) } })
    new Gauge({ name: 'flowgate_log_records', help: 'Records held by the event log.', registers: [r], collect () { this.set(log.stats().records) } })
    new Gauge({ name: 'flowgate_log_last_sequence', help: 'Newest committed sequence number.', registers: [r], collect () { this.set(log.lastSeq) } })
    new Counter({
      name: 'flowgate_dropped_records_total', help: 'Records removed or refused, by reason (maxAge, maxBytes, rejected, corrupt, reserveFreeBytes).', labelNames: ['reason'], registers: [r],
      collect () {
        const drops = log.stats().drops
        for (const reason of DROP_REASONS) mirror(this, { reason }, drops[reason], seen)
      }
    })
    const health = src.health
    if (health !== undefined) {
      new Counter({
        name: 'flowgate_store_write_errors_total', help: 'Failed write attempts (each is held and retried), by store: log (the event log) or state (cursors, dead letters, broker state).', labelNames: ['store'], registers: [r],
        collect () {
          const e = health.writeErrors()
          mirror(this, { store: 'log' }, e.log, seen)
          mirror(this, { store: 'state' }, e.state, seen)
        }
      })
      new Gauge({
        name: 'flowgate_store_state', help: 'Storage state: 1 for the current one of ok, full, write-failing.', labelNames: ['state'], registers: [r],
        collect () {
          const now = health.status().state
          for (const state of ['ok', 'full', 'write-failing']) this.set({ state }, state === now ? 1 : 0)
        }
      })
      new Gauge({ name: 'flowgate_store_pending_bytes', help: 'Bytes accepted and not yet stored.', registers: [r], collect () { this.set(health.status().pendingBytes) } })
    }
    const deadLetters = src.deadLetters
    if (deadLetters !== undefined) {
      new Gauge({ name: 'flowgate_dead_letter_bytes', help: 'Bytes held by the dead-letter store, over all bridges.', registers: [r], async collect () { this.set((await deadLetters.usage()).bytes) } })
      new Counter({
        name: 'flowgate_dead_letters_evicted_total', help: 'Dead letters removed to stay within storage.deadLetters.maxBytes, per bridge.', labelNames: ['bridge'], registers: [r],
        async collect () { for (const [bridge, n] of Object.entries((await deadLetters.usage()).evicted)) mirror(this, { bridge }, n, seen) }
      })
    }
    const bridgeCounter = (name: string, help: string, field: 'delivered' | 'filtered' | 'retries' | 'deadLettered' | 'missed' | 'bytesSent' | 'bytesBeforeCompression'): void => {
      new Counter({
        name, help, labelNames: ['bridge'], registers: [r],
        collect () { for (const b of src.bridges()) mirror(this, { bridge: b.name }, b[field], seen) }
      })
    }
    bridgeCounter('flowgate_bridge_delivered_events_total', 'Events the upstream accepted, per bridge.', 'delivered')
    bridgeCounter('flowgate_bridge_filtered_records_total', 'Records not for the bridge (topic or filters), per bridge.', 'filtered')
    bridgeCounter('flowgate_bridge_retries_total', 'Failed delivery attempts that will be retried, per bridge.', 'retries')
    bridgeCounter('flowgate_bridge_dead_lettered_events_total', 'Events moved to the dead-letter store, per bridge.', 'deadLettered')
    bridgeCounter('flowgate_bridge_missed_records_total', 'Records removed by retention before the bridge delivered them.', 'missed')
    bridgeCounter('flowgate_bridge_sent_bytes_total', 'Request bytes sent upstream as on the wire (request line, headers, body after compression), retries included, per bridge.', 'bytesSent')
    bridgeCounter('flowgate_bridge_uncompressed_bytes_total', 'The same requests before compression (equal to flowgate_bridge_sent_bytes_total without compression), per bridge.', 'bytesBeforeCompression')
    new Gauge({
      name: 'flowgate_bridge_lag_events', help: 'Records in the log after the bridge\'s cursor.', labelNames: ['bridge'], registers: [r],
      collect () { for (const b of src.bridges()) this.set({ bridge: b.name }, Math.max(0, log.lastSeq - b.cursor)) }
    })
    new Gauge({
      name: 'flowgate_bridge_retrying', help: 'Bridges held by a failure (1), by bridge and reason (unauthorized, network, server, store, ...).', labelNames: ['bridge', 'reason'], registers: [r],
      collect () {
        this.reset()
        for (const b of src.bridges()) if (b.state === 'retrying') this.set({ bridge: b.name, reason: b.reason ?? 'unknown' }, 1)
      }
    })
    new Gauge({
      name: 'flowgate_bridge_oldest_undelivered_age_seconds', help: 'Age of the oldest event the bridge has not settled; 0 when caught up.', labelNames: ['bridge'], registers: [r],
      async collect () { for (const b of src.bridges()) this.set({ bridge: b.name }, await src.bridgeOldestAge(b.name)) }
    })
    this.requestSeconds.registerIn(r)
    const loop = this.loopDelay = monitorEventLoopDelay({ resolution: 10 })
    if (!this.closed) loop.enable()
    new Gauge({
      name: 'flowgate_event_loop_delay_seconds', help: 'Event-loop delay since the previous scrape, by quantile (1: the longest stall); from perf_hooks.monitorEventLoopDelay, sampled from the first scrape on.', labelNames: ['quantile'], registers: [r],
      collect () {
        const none = loop.count === 0
        for (const q of [0.5, 0.9, 0.99]) this.set({ quantile: String(q) }, none ? 0 : loop.percentile(q * 100) / 1e9)
        this.set({ quantile: '1' }, none ? 0 : loop.max / 1e9)
        loop.reset()
      }
    })
    new Gauge({ name: 'flowgate_connected_clients', help: 'MQTT clients connected now.', registers: [r], collect () { this.set(src.connectedClients()) } })
    const security = src.security
    if (security !== undefined) {
      const perKey = (name: string, help: string, label: string, pick: (s: SecurityStatsSnapshot) => Record<string, number>): void => {
        new Counter({
          name, help, labelNames: [label], registers: [r],
          collect () { for (const [k, n] of Object.entries(pick(security()))) mirror(this, { [label]: k }, n, seen) }
        })
      }
      perKey('flowgate_auth_failures_total', 'Logins refused, by reason.', 'reason', s => s.authFailures)
      perKey('flowgate_acl_denials_total', 'Publishes and subscriptions refused by the access rules.', 'action', s => s.aclDenials)
      perKey('flowgate_limit_closures_total', 'Clients disconnected for exceeding a limit, by limit.', 'limit', s => s.limitClosures)
      new Counter({
        name: 'flowgate_protocol_errors_total', help: 'Connections closed for malformed MQTT or a failed TLS handshake.', registers: [r],
        collect () { mirror(this, {}, security().protocolErrors, seen) }
      })
      new Counter({
        name: 'flowgate_publish_throttled_seconds_total', help: 'Time clients spent slowed down for exceeding broker.limits.publishRate (their connection not read), summed over clients.', registers: [r],
        collect () { mirror(this, {}, security().publishThrottledSeconds, seen) }
      })
    }
    return r
  }

  observeCommit (e: CommitEvent): void {
    this.commitRecords.observe(e.records)
    this.commitSeconds.observe(e.durationMs / 1000)
  }

  observeRequest (bridge: string, status: number | 'timeout' | 'error', durationMs: number): void {
    const statusClass = typeof status === 'number' ? `${Math.floor(status / 100)}xx` : status
    this.requestSeconds.observe(durationMs / 1000, bridge, statusClass)
  }

  /** Stops sampling the event loop. Idempotent. */
  close (): void {
    this.closed = true
    this.loopDelay?.disable()
  }

  async text (): Promise<string> {
    this.registry ??= this.build()
    return await (await this.registry).metrics()
  }

  get contentType (): string {
    return CONTENT_TYPE
  }
}
