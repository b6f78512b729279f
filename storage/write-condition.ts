/**
 * Whether a store can write, and why not: shared by the state store and the event log, shown by
 * status, `/readyz` and metrics.
 */
import { readdir, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'

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

/** Room a reopen takes beyond the log LevelDB writes out as a table: a new manifest and log. */
const REOPEN_SPARE_BYTES = 1024 * 1024

/**
 * Whether the file system holding the LevelDB in `dir` has the room a reopen takes: opening,
 * LevelDB writes its log out as a table and starts a new log and manifest. A reopen without that
 * room fails and leaves the database closed, unreadable, until one succeeds.
 */
async function roomToReopen (dir: string): Promise<boolean> {
  try {
    let need = REOPEN_SPARE_BYTES
    for (const name of await readdir(dir)) {
      if (name.endsWith('.log')) need += (await stat(join(dir, name))).size
    }
    const fs = await statfs(dir)
    return fs.bavail * fs.bsize >= need
  } catch {
    // the reopen itself tells what is wrong
    return true
  }
}

/** The longest a reopen waits for room: the room counted is an upper bound (LevelDB compresses the table it writes). */
const REOPEN_WAIT_MS = 30_000

/**
 * Waits, a `pause` at a time, until the disk has the room a reopen of the LevelDB in `dir` takes
 * (or `stop()`, or REOPEN_WAIT_MS have passed): a held write's retry reopens the database only
 * then, so on a full disk it stays open for reads.
 */
export async function untilRoomToReopen (dir: string, pause: () => Promise<void>, stop: () => boolean): Promise<void> {
  const until = performance.now() + REOPEN_WAIT_MS
  while (!stop() && performance.now() < until && !(await roomToReopen(dir))) await pause()
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
