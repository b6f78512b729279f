/**
 * The one LevelDB of a gateway: event log, batch and time indexes, cursors,
 * dead letters and broker state, each in its own sublevel.
 */
import { mkdir } from 'node:fs/promises'
import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { FlowgateError } from '../gateway/errors.js'

export type Sublevel = AbstractSublevel<Level<string, Buffer>, string | Buffer | Uint8Array, string, Buffer>

/** Sublevel names; a new component takes a new name here. */
export const SUBLEVELS = ['log', 'bidx', 'tidx', 'meta', 'cursors', 'dlq', 'broker'] as const
export type SublevelName = typeof SUBLEVELS[number]

export class Store {
  readonly db: Level<string, Buffer>
  readonly dataDir: string
  private closing: Promise<void> | undefined

  private constructor (db: Level<string, Buffer>, dataDir: string) {
    this.db = db
    this.dataDir = dataDir
  }

  /** Opens (creating if needed) the store in `dataDir`. Errors carry FG_ERR_DATA_DIR_LOCKED or FG_ERR_DATA_DIR_ACCESS. */
  static async open (dataDir: string): Promise<Store> {
    try {
      await mkdir(dataDir, { recursive: true })
    } catch (cause) {
      throw new FlowgateError('FG_ERR_DATA_DIR_ACCESS', `data directory ${dataDir} cannot be created (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause })
    }
    const db = new Level<string, Buffer>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    try {
      await db.open()
    } catch (err) {
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new FlowgateError('FG_ERR_DATA_DIR_LOCKED', `data directory ${dataDir} is in use by another running gateway`, { cause: err })
      }
      const detail = cause?.code ?? cause?.message ?? String(err)
      throw new FlowgateError('FG_ERR_DATA_DIR_ACCESS', `data directory ${dataDir} cannot be opened for writing (${detail})`, { cause: err })
    }
    return new Store(db, dataDir)
  }

  sublevel (name: SublevelName): Sublevel {
    return this.db.sublevel<string, Buffer>(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  }

  /** Idempotent. */
  async close (): Promise<void> {
    this.closing ??= this.db.close()
    await this.closing
  }
}
