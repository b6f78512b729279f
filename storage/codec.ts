/**
 * CBOR encoding of a record batch: all records of one group commit in one
 * LevelDB value, keyed by the batch's first sequence number. Batch value:
 * [firstTime, [[timeDelta, topic, payload, qos, retain, clientId, username|null], ...]]
 */
import { Decoder, Encoder } from 'cbor-x'
import type { AppendInput, LogRecord } from './record.js'

const encoder = new Encoder({ useRecords: false, tagUint8Array: false })
const decoder = new Decoder({ useRecords: false })

export interface PendingRecord extends AppendInput {
  seq: number
  time: number
}

type WireRecord = [number, string, Uint8Array, number, boolean, string, string | null]

export function encodeBatch (records: readonly PendingRecord[]): Buffer {
  const first = records[0]
  if (first === undefined) throw new TypeError('empty batch')
  const rows: WireRecord[] = new Array(records.length)
  for (let i = 0; i < records.length; i++) {
    const r = records[i] as PendingRecord
    rows[i] = [r.time - first.time, r.topic, r.payload, r.qos, r.retain, r.clientId, r.username ?? null]
  }
  return encoder.encode([first.time, rows])
}

export function decodeBatch (firstSeq: number, value: Uint8Array): LogRecord[] {
  const [firstTime, rows] = decoder.decode(value) as [number, WireRecord[]]
  const out: LogRecord[] = new Array(rows.length)
  for (let i = 0; i < rows.length; i++) {
    const [dt, topic, payload, qos, retain, clientId, username] = rows[i] as WireRecord
    out[i] = {
      seq: firstSeq + i,
      time: firstTime + dt,
      topic,
      payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      qos: qos as 0 | 1 | 2,
      retain,
      clientId,
      username: username ?? undefined
    }
  }
  return out
}

/** Small metadata values (head, batch index entries, cursors). */
export function encodeMeta (value: unknown): Buffer {
  return encoder.encode(value)
}

export function decodeMeta<T> (value: Uint8Array): T {
  return decoder.decode(value) as T
}
