/**
 * Reads a small text file (the config, the password file) with bounds, so a
 * wrong path fails at once instead of hanging or filling memory: it must be a
 * regular file (not a FIFO, which would block until a writer came, nor a
 * device such as /dev/zero, which never ends) of at most `maxBytes`.
 */
import { constants } from 'node:fs'
import { open } from 'node:fs/promises'

/** Why a file was refused (not a regular file, too large); I/O errors keep their `code`. */
export class FileRefusedError extends Error {
  constructor (readonly reason: string) {
    super(reason)
    this.name = 'FileRefusedError'
  }
}

const kind = (st: { isDirectory: () => boolean, isFIFO: () => boolean, isCharacterDevice: () => boolean, isBlockDevice: () => boolean, isSocket: () => boolean }): string =>
  st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file'

export async function readBoundedText (file: string, maxBytes: number): Promise<string> {
  // non-blocking: opening a FIFO for reading would otherwise wait for a writer, forever
  const handle = await open(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0))
  try {
    const st = await handle.stat()
    if (!st.isFile()) throw new FileRefusedError(`is ${kind(st)}, not a regular file`)
    if (st.size > maxBytes) throw new FileRefusedError(`is ${st.size} bytes, more than the ${maxBytes} allowed`)
    // one byte more than allowed: a file that grew since its size was read is refused too
    const buf = Buffer.alloc(maxBytes + 1)
    let length = 0
    for (;;) {
      const { bytesRead } = await handle.read(buf, length, buf.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
      if (length > maxBytes) throw new FileRefusedError(`is more than the ${maxBytes} bytes allowed`)
    }
    return buf.toString('utf8', 0, length)
  } finally {
    await handle.close()
  }
}
