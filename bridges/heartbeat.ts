/** The gateway's heartbeat record and the CloudEvent a bridge sends for it. */
import type { LogRecord } from '../storage/index.js'
import { CONTENT_TYPE_JSON, eventId, formatSequence, type CloudEvent, type JsonValue } from './cloudevents/index.js'

/** Clients cannot publish under $SYS/, so no device can forge a heartbeat. */
export const HEARTBEAT_TOPIC = '$SYS/flowgate/heartbeat'
export const HEARTBEAT_TYPE = 'flowgate.heartbeat'

export function heartbeatEvent (record: LogRecord, gatewayId: string): CloudEvent {
  return {
    specversion: '1.0',
    id: eventId(gatewayId, record.seq),
    source: `/flowgate/${encodeURIComponent(gatewayId)}`,
    type: HEARTBEAT_TYPE,
    time: new Date(record.time).toISOString(),
    datacontenttype: CONTENT_TYPE_JSON,
    extensions: { sequence: formatSequence(record.seq) },
    data: JSON.parse(record.payload.toString('utf8')) as JsonValue
  }
}
