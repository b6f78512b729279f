/**
 * The stored form of one record batch (one group commit) in a log segment.
 *
 *   byte 0       0xF1: this format
 *   bytes 1-4    CRC-32 (zlib) of every byte from 5 to the end, big-endian
 *   bytes 5-8    length H of the header, big-endian
 *   bytes 9..    the header, CBOR: [records, firstTime, lastTime, segmentBytesBefore, state]
 *   then         the records: the CBOR record batch of codec.ts
 *
 * MUST: a value whose checksum or structure does not hold is never decoded into records: a
 *       flipped byte on disk is reported as corruption, never delivered.
 *
 * The header carries the log's state as of this commit (the first sequence number kept, the
 * drop counters), so the commit that moves them is the write that stores them: a trim needs no
 * write of its own, and the newest batch of the newest segment tells where the log stood.
 */
import { crc32 } from 'node:zlib'
import { decodeRecordBatch, decodeMeta, encodeRecordBatch, encodeMeta, type PendingRecord } from '../codec.js'
import type { LogRecord } from '../record.js'

const FORMAT = 0xf1
const PREFIX = 9

export const DROP_REASONS = ['maxAge', 'maxBytes', 'rejected', 'corrupt', 'reserveFreeBytes'] as const
export type DropReason = typeof DROP_REASONS[number]
export type DropCounts = Record<DropReason, number>

export function noDrops (): DropCounts {
  return { maxAge: 0, maxBytes: 0, rejected: 0, corrupt: 0, reserveFreeBytes: 0 }
}

/** The log's own state, stored with every commit and with every trim made while no commit is due. */
export interface LogState {
  /** Increases with every write of the state, so the newest of two copies is known. */
  gen: number
  /** The oldest sequence number the log keeps. */
  firstSeq: number
  drops: DropCounts
}

export interface BatchHeader {
  records: number
  firstTime: number
  lastTime: number
  /** Bytes of the segment's batches before this one. */
  segmentBytesBefore: number
  state: LogState
}

type WireState = [number, number, number[]]
type WireHeader = [number, number, number, number, WireState]

export class BatchFormatError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'BatchFormatError'
  }
}

function wireState (s: LogState): WireState {
  return [s.gen, s.firstSeq, DROP_REASONS.map(r => s.drops[r])]
}

export function stateFromWire (w: WireState): LogState {
  const drops = noDrops()
  DROP_REASONS.forEach((r, i) => { drops[r] = w[2][i] ?? 0 })
  return { gen: w[0], firstSeq: w[1], drops }
}

export function encodeState (s: LogState): Buffer {
  return encodeMeta(wireState(s))
}

export function decodeState (value: Uint8Array): LogState {
  return stateFromWire(decodeMeta<WireState>(value))
}

/** One stored batch: the records after the header, and a checksum over both. */
export function encodeStoredBatch (records: readonly PendingRecord[], segmentBytesBefore: number, state: LogState): Buffer {
  const first = records[0]
  const last = records[records.length - 1]
  if (first === undefined || last === undefined) throw new TypeError('empty batch')
  const header = encodeMeta([records.length, first.time, last.time, segmentBytesBefore, wireState(state)] satisfies WireHeader)
  const out = encodeRecordBatch(records, PREFIX + header.length)
  out[0] = FORMAT
  out.writeUInt32BE(header.length, 5)
  out.set(header, PREFIX)
  out.writeUInt32BE(crc32(out.subarray(5)), 1)
  return out
}

/** Checks the format and checksum; throws BatchFormatError when either does not hold. */
function verify (value: Uint8Array): { headerEnd: number } {
  if (value.length < PREFIX || value[0] !== FORMAT) throw new BatchFormatError('not a record batch of a known format')
  const view = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  const length = view.readUInt32BE(5)
  if (PREFIX + length > value.length) throw new BatchFormatError('record batch header runs past its end')
  if (crc32(view.subarray(5)) !== view.readUInt32BE(1)) throw new BatchFormatError('record batch checksum mismatch')
  return { headerEnd: PREFIX + length }
}

export function decodeHeader (value: Uint8Array): BatchHeader {
  const { headerEnd } = verify(value)
  return headerAt(value, headerEnd)
}

function headerAt (value: Uint8Array, headerEnd: number): BatchHeader {
  try {
    const [records, firstTime, lastTime, segmentBytesBefore, state] = decodeMeta<WireHeader>(value.subarray(PREFIX, headerEnd))
    return { records, firstTime, lastTime, segmentBytesBefore, state: stateFromWire(state) }
  } catch (cause) {
    throw new BatchFormatError(`record batch header cannot be decoded (${(cause as Error).message})`)
  }
}

/** The header and the records of a stored batch whose first record is `firstSeq`. */
export function decodeStoredBatch (firstSeq: number, value: Uint8Array): { header: BatchHeader, records: LogRecord[] } {
  const { headerEnd } = verify(value)
  const header = headerAt(value, headerEnd)
  let records: LogRecord[]
  try {
    records = decodeRecordBatch(firstSeq, value.subarray(headerEnd))
  } catch (cause) {
    throw new BatchFormatError(`record batch cannot be decoded (${(cause as Error).message})`)
  }
  if (records.length !== header.records) throw new BatchFormatError(`record batch holds ${records.length} records, its header says ${header.records}`)
  return { header, records }
}
