/**
 * Key encoding. Sequence numbers and times are fixed-width decimal strings, so
 * LevelDB's byte order is numeric order. 16 digits hold every safe integer.
 */
const SEQ_WIDTH = 16
const TIME_WIDTH = 15
const SEQ_PAD = '0'.repeat(SEQ_WIDTH)
const TIME_PAD = '0'.repeat(TIME_WIDTH)

export function seqKey (seq: number): string {
  const s = String(seq)
  return SEQ_PAD.slice(s.length) + s
}

export function parseSeqKey (key: string): number {
  return Number(key)
}

/** Time index key: receive time of a batch's first record, then its first sequence number. */
export function timeKey (timeMs: number, seq: number): string {
  const t = String(Math.max(0, Math.floor(timeMs)))
  return TIME_PAD.slice(t.length) + t + '!' + seqKey(seq)
}

/** The smallest time index key at `timeMs`. */
export function timeKeyFloor (timeMs: number): string {
  const t = String(Math.max(0, Math.floor(timeMs)))
  return TIME_PAD.slice(t.length) + t + '!'
}

export function parseTimeKey (key: string): { time: number, seq: number } {
  return { time: Number(key.slice(0, TIME_WIDTH)), seq: Number(key.slice(TIME_WIDTH + 1)) }
}
