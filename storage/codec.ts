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

/**
 * Most bytes of encoded strings kept between commit groups, each counted with its buffer's
 * overhead (TEXT_ENTRY_OVERHEAD); past it the cache starts over.
 */
const TEXT_CACHE_BYTES = 256 * 1024
const TEXT_ENTRY_OVERHEAD = 128
/** Topics, client ids and user names as CBOR text (head and UTF-8 bytes): they repeat from group to group. */
let texts = new Map<string, Buffer>()
let textBytes = 0

function text (s: string): Buffer {
  let item = texts.get(s)
  if (item === undefined) {
    item = encodeText(s)
    textBytes += item.length + TEXT_ENTRY_OVERHEAD
    if (textBytes > TEXT_CACHE_BYTES) {
      texts = new Map()
      textBytes = item.length + TEXT_ENTRY_OVERHEAD
    }
    texts.set(s, item)
  }
  return item
}

/**
 * Encodes one commit group, after `headroom` bytes left for the caller (uninitialised). Written by
 * hand for this one shape, in two passes (sizes, then bytes into one buffer), because it runs on
 * the commit path for every record: cbor-x's general encoder took about 0.4 µs per record. The
 * output is the CBOR cbor-x writes for the same batch (preferred, shortest form; integers beyond
 * 32 bits as float64), so the general decoder reads it.
 *
 * It is also cheap before V8 has optimized it, which matters in a gateway's first seconds under
 * load: each distinct string (topics and client ids repeat) is encoded once, by Buffer, and kept
 * for the groups that follow, and every record is then written with a few byte stores and
 * TypedArray copies, without per-character loops or calls into Buffer's methods. A paced stream
 * commits a few records at a time, so encoding its strings again for every group was most of the
 * work: 0.9-1.1 µs a record in groups of four, 0.2-0.3 µs with the strings kept (groups of 150:
 * 0.26-0.28 µs, 0.18-0.21 µs).
 */
export function encodeRecordBatch (records: readonly PendingRecord[], headroom = 0): Buffer {
  const first = records[0]
  if (first === undefined) throw new TypeError('empty batch')
  const n = records.length
  // each record's strings as found in the first pass, written in the second
  const topics = new Array<Buffer>(n)
  const clientIds = new Array<Buffer>(n)
  const usernames = new Array<Buffer | undefined>(n)
  let size = headroom + 1 + numberSize(first.time) + headSize(n)
  for (let i = 0; i < n; i++) {
    const r = records[i] as PendingRecord
    const topic = text(r.topic)
    const clientId = text(r.clientId)
    const username = r.username === undefined ? undefined : text(r.username)
    topics[i] = topic
    clientIds[i] = clientId
    usernames[i] = username
    // array(7) + qos + retain: 3 bytes
    size += 3 + numberSize(r.time - first.time) + topic.length + headSize(r.payload.length) + r.payload.length +
      clientId.length + (username === undefined ? 1 : username.length)
  }
  const out = Buffer.allocUnsafe(size)
  out[headroom] = 0x82
  let pos = writeNumber(out, headroom + 1, first.time)
  pos = writeHead(out, pos, 0x80, n)
  for (let i = 0; i < n; i++) {
    const r = records[i] as PendingRecord
    out[pos++] = 0x87
    pos = writeNumber(out, pos, r.time - first.time)
    const topic = topics[i] as Buffer
    out.set(topic, pos)
    pos = writeHead(out, pos + topic.length, 0x40, r.payload.length)
    out.set(r.payload, pos)
    pos += r.payload.length
    out[pos++] = r.qos
    out[pos++] = r.retain ? 0xf5 : 0xf4
    const clientId = clientIds[i] as Buffer
    out.set(clientId, pos)
    pos += clientId.length
    const username = usernames[i]
    if (username === undefined) out[pos++] = 0xf6
    else {
      out.set(username, pos)
      pos += username.length
    }
  }
  if (pos !== size) throw new Error(`record batch encoding wrote ${pos} of ${size} bytes`)
  return out
}

/**
 * A CBOR text string: head and UTF-8 bytes, in a buffer of its own: a slice of Buffer's shared pool
 * kept in the cache would keep the whole 8 KiB pool in memory.
 */
function encodeText (s: string): Buffer {
  const len = Buffer.byteLength(s, 'utf8')
  const out = Buffer.allocUnsafeSlow(headSize(len) + len)
  out.write(s, writeHead(out, 0, 0x60, len), len, 'utf8')
  return out
}

/** Bytes of a CBOR head carrying `n` (a length or an unsigned integer). */
function headSize (n: number): number {
  return n < 24 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5
}

function writeHead (out: Buffer, pos: number, major: number, n: number): number {
  if (n < 24) {
    out[pos] = major | n
    return pos + 1
  }
  if (n < 0x100) {
    out[pos] = major | 24
    out[pos + 1] = n
    return pos + 2
  }
  if (n < 0x10000) {
    out[pos] = major | 25
    out[pos + 1] = n >>> 8
    out[pos + 2] = n & 0xff
    return pos + 3
  }
  out[pos] = major | 26
  out[pos + 1] = n >>> 24
  out[pos + 2] = (n >>> 16) & 0xff
  out[pos + 3] = (n >>> 8) & 0xff
  out[pos + 4] = n & 0xff
  return pos + 5
}

/** Integers in uint32 or int32 range as CBOR integers, anything else as float64 (as cbor-x does). */
function isSmallInteger (v: number): boolean {
  return Number.isInteger(v) && v <= 0xffffffff && v >= -0x80000000
}

function numberSize (v: number): number {
  return isSmallInteger(v) ? headSize(v < 0 ? -1 - v : v) : 9
}

function writeNumber (out: Buffer, pos: number, v: number): number {
  if (isSmallInteger(v)) return v < 0 ? writeHead(out, pos, 0x20, -1 - v) : writeHead(out, pos, 0x00, v)
  out[pos] = 0xfb
  out.writeDoubleBE(v, pos + 1)
  return pos + 9
}

export function decodeRecordBatch (firstSeq: number, value: Uint8Array): LogRecord[] {
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
