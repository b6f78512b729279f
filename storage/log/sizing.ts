/**
 * How large a segment grows before the log starts the next one: retention removes whole segments,
 * so a segment is a fraction of the budget (and of maxAge), and no larger than LevelDB's write
 * buffer, so an active segment is never flushed to tables.
 */
import type { Segment } from './segment.js'

/** Largest segment. */
export const MAX_SEGMENT_BYTES = 4 * 1024 * 1024
const MIN_SEGMENT_BYTES = 4 * 1024
/** Segments per byte budget (and per maxAge): retention removes about this fraction of the log at a time. */
export const SEGMENTS_PER_BUDGET = 16
/** LevelDB's write buffer per segment: room for a full segment and a large group beyond it. */
export const WRITE_BUFFER_BYTES = 2 * MAX_SEGMENT_BYTES

export function segmentBytes (maxBytes: number): number {
  if (maxBytes <= 0) return MAX_SEGMENT_BYTES
  return Math.max(MIN_SEGMENT_BYTES, Math.min(MAX_SEGMENT_BYTES, Math.floor(maxBytes / SEGMENTS_PER_BUDGET)))
}

/** Whether the active segment is full: in bytes, or in time (it spans 1/16 of maxAge). */
export function rotationDue (seg: Segment, limits: { maxBytes: number, maxAgeMs: number }, now: number): boolean {
  if (seg.empty) return false
  if (seg.bytes >= segmentBytes(limits.maxBytes)) return true
  return limits.maxAgeMs > 0 && now - seg.firstTime >= limits.maxAgeMs / SEGMENTS_PER_BUDGET
}
