/**
 * A real small file system for disk-full tests: a tmpfs of a few MiB mounted for the test (needs
 * root, as CI runs), and a file that fills it.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, open, rm, statfs, unlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { TestContext } from './gateway.js'

const run = promisify(execFile)

export interface SmallDisk {
  dir: string
  free: () => Promise<number>
  /** Writes a file until the disk is full (leaving `leave` bytes free, rounded to the block size); returns a function that removes it. */
  fill: (leave?: number) => Promise<() => Promise<void>>
}

/**
 * Whether this machine can mount a small tmpfs: true, or the reason it cannot, for the test's
 * `skip` option. Under CI (which runs as root) a machine that cannot is an error, not a skip.
 */
export async function smallDiskSupport (): Promise<true | string> {
  let reason: string | undefined
  if (process.getuid?.() !== 0) reason = 'mounting a small tmpfs needs root (CI runs the tests as root)'
  else {
    const dir = await mkdtemp(join(tmpdir(), 'flowgate-disk-probe-'))
    try {
      await run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', dir])
      await run('umount', [dir])
    } catch (err) {
      reason = `cannot mount a tmpfs: ${(err as Error).message.split('\n')[0] ?? ''}`
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  }
  if (reason === undefined) return true
  if (process.env.CI !== undefined) throw new Error(`CI must run the disk-full tests, but ${reason}`)
  return reason
}

/** Mounts a tmpfs of `bytes` for the test (see smallDiskSupport), unmounted at teardown. */
export async function smallDisk (t: TestContext, bytes: number): Promise<SmallDisk> {
  const dir = await mkdtemp(join(tmpdir(), 'flowgate-disk-'))
  try {
    await run('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir])
  } catch (err) {
    await rm(dir, { recursive: true, force: true })
    throw err
  }
  t.teardown(async () => {
    await run('umount', ['-l', dir]).catch(() => {})
    await rm(dir, { recursive: true, force: true })
  })
  const free = async (): Promise<number> => {
    const s = await statfs(dir)
    return s.bavail * s.bsize
  }
  let n = 0
  return {
    dir,
    free,
    async fill (leave = 0) {
      const file = join(dir, `filler-${n++}`)
      const fh = await open(file, 'w')
      const chunk = Buffer.alloc(64 * 1024, 0x5a)
      try {
        for (;;) {
          const room = (await free()) - leave
          if (room <= 0) break
          await fh.write(chunk, 0, Math.min(chunk.length, Math.max(4096, room)))
        }
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err
      } finally {
        await fh.close().catch(() => {})
      }
      return async () => { await unlink(file).catch(() => {}) }
    }
  }
}
