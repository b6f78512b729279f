/**
 * Moves a log kept inside the state store (before segments) into segments, once, at open.
 *
 * MUST: no record is lost: the old keys are removed only after every batch is in a segment, and a
 *       migration cut short runs again from the start at the next open.
 */
import { rm } from 'node:fs/promises'
import { decodeRecordBatch, decodeMeta } from '../codec.js'
import { seqKey } from '../keys.js'
import type { Store, StoreOp } from '../store.js'
import { encodeStoredBatch, noDrops, type LogState } from './format.js'
import { LEGACY_HEAD, type LogMeta } from './meta.js'
import { SegmentSet } from './segments.js'

const SEGMENT_BYTES = 4 * 1024 * 1024

interface LegacyHead { firstSeq: number, lastSeq: number, drops?: Partial<Record<'maxAge' | 'maxBytes' | 'rejected', number>> }

export async function migrateLegacyLog (store: Store, meta: LogMeta, root: string): Promise<void> {
  await rm(root, { recursive: true, force: true })
  const raw = await store.sublevel('meta').get(LEGACY_HEAD)
  if (raw === undefined) return
  const head = decodeMeta<LegacyHead>(raw)
  const state: LogState = { gen: 1, firstSeq: head.firstSeq, drops: { ...noDrops(), ...head.drops } }
  const segments = new SegmentSet(root, { writeBufferSize: 2 * SEGMENT_BYTES })
  const summaries: StoreOp[] = []
  try {
    for await (const [key, value] of store.sublevel('log').iterator()) {
      const records = decodeRecordBatch(Number(key), value)
      const first = records[0]
      const last = records[records.length - 1]
      if (first === undefined || last === undefined) continue
      let seg = await segments.ensureActive()
      if (seg.bytes >= SEGMENT_BYTES) {
        const sealed = await segments.rotate()
        if (sealed !== undefined) summaries.push(meta.segmentOp(sealed.id, sealed.summary()))
        seg = await segments.ensureActive()
      }
      const stored = encodeStoredBatch(records, seg.bytes, state)
      await seg.put(seqKey(first.seq), stored, true)
      seg.added(first, last, records.length, stored.length)
    }
  } finally {
    await segments.close()
  }
  await meta.write([...summaries, meta.stateOp(state)], true)
  await meta.putReserved(head.lastSeq)
  await meta.putTail(head.lastSeq, true, true)
  await meta.clearLegacy()
}
