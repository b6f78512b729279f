/**
 * Whether a store can write, and why not: shared by the state store and the event log, shown by
 * status, `/readyz` and metrics.
 */

export type WriteCondition =
  | { state: 'ok' }
  /** No room: the disk is full, or below `storage.reserveFreeBytes`. */
  | { state: 'full', reason: 'disk' | 'reserveFreeBytes', code?: string, message: string }
  /** Writes fail for another reason (an I/O error, a read-only file system); `code` is the errno name when known. */
  | { state: 'write-failing', code: string, message: string }

const ERRNO_TEXT: ReadonlyArray<[RegExp, string]> = [
  [/no space left on device/i, 'ENOSPC'],
  [/disk quota exceeded/i, 'EDQUOT'],
  [/input\/output error/i, 'EIO'],
  [/read-only file system/i, 'EROFS'],
  [/permission denied/i, 'EACCES'],
  [/too many open files/i, 'EMFILE']
]

/** The errno name of a failed write: Node errors carry it, LevelDB's only in its message. */
export function errnoOf (err: unknown): string | undefined {
  for (let e = err as { code?: unknown, message?: unknown, cause?: unknown } | undefined, depth = 0; e !== undefined && e !== null && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) return e.code
    if (typeof e.message === 'string') {
      for (const [re, code] of ERRNO_TEXT) if (re.test(e.message)) return code
    }
  }
  return undefined
}

export function describeWriteError (err: unknown): WriteCondition {
  const message = err instanceof Error ? err.message : String(err)
  const code = errnoOf(err)
  if (code === 'ENOSPC' || code === 'EDQUOT') return { state: 'full', reason: 'disk', code, message }
  return { state: 'write-failing', code: code ?? 'EUNKNOWN', message }
}

/** Retry delay after `attempt` failed writes: 50 ms doubling to 2 s, so a freed disk is noticed promptly. */
export function backoff (attempt: number): number {
  return Math.min(2000, 50 * 2 ** Math.min(attempt, 6))
}

export function sameCondition (a: WriteCondition, b: WriteCondition): boolean {
  if (a.state !== b.state) return false
  if (a.state === 'ok') return true
  const x = a as { code?: string, reason?: string }
  const y = b as { code?: string, reason?: string }
  return x.code === y.code && x.reason === y.reason
}

/**
 * Runs `fn` until it does not fail for lack of space (ENOSPC, EDQUOT), waiting with backoff in
 * between and calling `onWait` once: a gateway started on a full disk waits for room rather than
 * exiting (a service manager would restart it in a loop).
 */
export async function whenRoom<T> (fn: () => Promise<T>, onWait: (err: unknown) => void): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const code = errnoOf(err)
      if (code !== 'ENOSPC' && code !== 'EDQUOT') throw err
      if (attempt === 0) onWait(err)
      await new Promise(resolve => setTimeout(resolve, backoff(attempt)))
    }
  }
}
