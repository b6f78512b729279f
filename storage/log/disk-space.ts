/**
 * Free space on the file system that holds the log, for `storage.reserveFreeBytes`: read with
 * statfs, at most once a second or after a quarter of the reserve was written, whichever is first.
 */
import { statfs } from 'node:fs/promises'

const TTL_MS = 1000

export async function statfsFree (dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

export class DiskSpace {
  private readonly dirs: string[]
  private readonly read: (dir: string) => Promise<number>
  private bytes = Infinity
  private at = -Infinity
  private writtenSince = 0
  private timer: NodeJS.Timeout | undefined

  /** `dirs`: where to ask, first that answers (the log's folder may not exist yet). */
  constructor (dirs: string[], read: (dir: string) => Promise<number> = statfsFree) {
    this.dirs = dirs
    this.read = read
  }

  /** The last reading, without asking (appends decide on it synchronously). */
  get last (): number {
    return this.bytes
  }

  wrote (bytes: number): void {
    this.writtenSince += bytes
  }

  /** The next read asks the file system again. */
  forget (): void {
    this.at = -Infinity
  }

  async free (reserve: number): Promise<number> {
    const now = performance.now()
    if (now - this.at < TTL_MS && this.writtenSince < reserve / 4) return this.bytes
    let bytes = Infinity
    for (const dir of this.dirs) {
      try {
        bytes = await this.read(dir)
        break
      } catch { /* the next one */ }
    }
    this.bytes = bytes
    this.at = now
    this.writtenSince = 0
    return bytes
  }

  /** Asks every second until `enough` says yes, then calls `done` (nothing else may ask: reject-new refuses every append). */
  watch (enough: (free: number) => boolean, done: () => void): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => {
      this.forget()
      void this.free(0).then(free => {
        if (!enough(free)) return
        this.stop()
        done()
      }, () => {})
    }, TTL_MS)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}
