/** A bridge's records as events to send, and events as HTTP messages. Pure. */
import type { LogRecord } from '../storage/index.js'
import { CONTENT_TYPE_JSON, CONTENT_TYPE_STRUCTURED, createEventBatchEncoder, encodeEventJSON, encodeHttp, withTraceHeader, type CloudEvent, type HttpMessage } from './cloudevents/index.js'
import { createEventJSONEncoder } from './cloudevents/json-format.js'
import type { CompiledBridge } from './compile.js'
import { HEARTBEAT_TOPIC, heartbeatEvent } from './heartbeat.js'
import { trimEnd } from './signing/index.js'

/** An event to send: `piece` is its JSON format (batch, structured mode); `raw` the JSON text its data was parsed from. */
export interface Item { seq: number, event: CloudEvent, piece?: Buffer, raw?: Buffer | undefined }

export class ItemCodec {
  private readonly json = createEventJSONEncoder()

  constructor (private readonly cfg: CompiledBridge) {}

  /** Maps and filters a record; undefined when it is not for this bridge. */
  prepare (record: LogRecord): Item | undefined {
    if (record.topic === HEARTBEAT_TOPIC) {
      if (!this.cfg.heartbeat) return undefined
      const hb = heartbeatEvent(record, this.cfg.gatewayId)
      const event = this.cfg.signer?.sign(hb) ?? hb
      return this.cfg.mode === 'batch' ? { seq: record.seq, event, piece: encodeEventJSON(event) } : { seq: record.seq, event }
    }
    if (!this.cfg.matchesTopic(record.topic)) return undefined
    let event = this.cfg.map(record)
    if (!this.cfg.filter(event)) return undefined
    // JSON data is the payload parsed: its text goes out as it is (no second serialisation)
    let raw = event.datacontenttype === CONTENT_TYPE_JSON && event.data !== undefined && !Buffer.isBuffer(event.data) ? record.payload : undefined
    const signer = this.cfg.signer
    if (signer !== undefined) {
      // signed over the bytes that travel, the same in every content mode (see signing/sign.ts dataBytes)
      if (raw !== undefined) raw = trimEnd(raw)
      event = signer.sign(event, raw)
    }
    if (this.cfg.mode === 'binary') return { seq: record.seq, event, raw }
    // a mapped event's attributes other than id, time, sequence and data follow from topic and client id
    return { seq: record.seq, event, piece: this.json.encode(event, record.topic + '\u0000' + record.clientId, raw) }
  }

  /** One request for `items` (one item unless in batch mode). */
  encode (items: readonly Item[]): HttpMessage {
    const message = this.message(items)
    // [CE distributed tracing] one event's request carries its trace as the HTTP header too; a batch has no one trace
    return this.cfg.mode === 'batch' ? message : withTraceHeader((items[0] as Item).event, message)
  }

  private message (items: readonly Item[]): HttpMessage {
    const first = items[0] as Item
    if (this.cfg.mode === 'binary') {
      if (first.raw === undefined) return encodeHttp(first.event, 'binary')
      // the headers of the event (Content-Type from datacontenttype), the payload's JSON text as the body
      return { headers: encodeHttp({ ...first.event, data: undefined }, 'binary').headers, body: first.raw }
    }
    if (this.cfg.mode === 'structured') {
      return first.piece === undefined ? encodeHttp(first.event, 'structured') : { headers: { 'content-type': CONTENT_TYPE_STRUCTURED }, body: first.piece }
    }
    const enc = createEventBatchEncoder()
    for (const item of items) enc.push(item.piece as Buffer)
    return enc.finish()
  }
}
