/** The periodic heartbeat event: the gateway's own counters, carried by a chosen bridge. */
import type { BridgeStatus } from '../bridges/index.js'
import type { EventLog } from '../storage/index.js'

export { HEARTBEAT_TOPIC } from '../bridges/index.js'

export interface HeartbeatSources {
  gatewayId: string
  version: string
  /** performance.now() when the gateway started: uptime does not follow a change of the system time. */
  startedAt: number
  log: EventLog
  bridges: BridgeStatus[]
  clients: number
}

export function heartbeatPayload (s: HeartbeatSources): Buffer {
  const stats = s.log.stats()
  return Buffer.from(JSON.stringify({
    gatewayId: s.gatewayId,
    version: s.version,
    uptimeSeconds: Math.round((performance.now() - s.startedAt) / 1000),
    clients: s.clients,
    log: { firstSeq: stats.firstSeq, lastSeq: stats.lastSeq, records: stats.records, bytes: stats.bytes, drops: stats.drops },
    ingested: { records: s.log.ingested.records, bytes: s.log.ingested.bytes },
    bridges: s.bridges.map(b => ({ name: b.name, state: b.state, cursor: b.cursor, lag: Math.max(0, stats.lastSeq - b.cursor), delivered: b.delivered, deadLettered: b.deadLettered, retries: b.retries }))
  }))
}
