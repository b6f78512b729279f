/**
 * What the gateway says about its store, in words an operator reads: the same at start, while
 * running, and from `flowgate repair`.
 */
import type { DropEvent, StepAtOpen } from '../storage/index.js'

/** A span of time for a message: `3.5 d`, `2.0 h`, `12 min`. */
function spanText (ms: number): string {
  if (ms >= 86_400_000) return `${(ms / 86_400_000).toFixed(1)} d`
  if (ms >= 3_600_000) return `${(ms / 3_600_000).toFixed(1)} h`
  return `${Math.round(ms / 60_000)} min`
}

export function dropMessage (e: DropEvent): string {
  switch (e.reason) {
    case 'rejected': return 'publish refused: event log is full'
    case 'corrupt': return `records lost to damage on disk (sequence numbers ${e.fromSeq ?? '?'}-${e.toSeq ?? '?'})`
    case 'reserveFreeBytes': return 'records dropped to keep free disk space (storage.reserveFreeBytes)'
    default: return `records dropped by retention (${e.reason})`
  }
}

/** A step of the system clock, seen while running or at the open after a stop (`found`, see StepAtOpen). */
export function clockStepMessage (stepMs: number, found?: StepAtOpen['found']): string {
  const span = spanText(Math.abs(stepMs))
  if (found === 'unsynced') {
    return `the events stored before this start were stamped by a system clock never set from a time server (in an earlier boot): the newest reads ${span} old; retention ages them from this start`
  }
  return `the system clock was set ${stepMs > 0 ? 'forward' : 'back'} by ${span}${found === 'stopped' ? ' while the gateway was stopped' : ''}: events stored before carry times ${span} ${stepMs > 0 ? 'early' : 'late'}; retention ages them from when they arrived`
}
