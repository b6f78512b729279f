/**
 * One segment of the event log: a LevelDB of its own holding a run of consecutive record
 * batches, keyed by each batch's first sequence number.
 *
 * Why a LevelDB per segment: the log is a ring (append at the end, remove from the start). In one
 * LevelDB, removing the oldest keys writes tombstones into the same tables as the newest records,
 * so every compaction rewrites the whole log: 2.5 bytes written per byte kept, which wears SD cards.
 * Here a segment only ever receives keys in order, and retention removes whole segments by deleting
 * their directory, which writes nothing. A segment no larger than its write buffer is never even
 * written as tables while it is active: its records live in LevelDB's write-ahead log until a
 * reader opens the sealed segment again.
 *
 * MUST: keys arrive in order and are never deleted one by one.
 * MUST: a segment that a reader holds is removed only once the reader lets go of it.
 */
import { open as openFile, mkdir, rm } from 'node:fs/promises'
import { dirname } from 'node:path'
import { Level } from 'level'
import { seqKey } from '../keys.js'

export type SegmentDb = Level<string, Buffer>

export interface SegmentSummary {
  firstSeq: number
  lastSeq: number
  records: number
  bytes: number
  firstTime: number
  lastTime: number
}

export interface SegmentOptions {
  /** LevelDB's write buffer: larger than a segment, so an active segment is never flushed to tables. */
  writeBufferSize: number
  /** Called when LevelDB reported corruption on open and its repair ran. */
  onRepair?: (dir: string, cause: unknown) => void
}

/** LevelDB's block cache per open segment: readers go through a segment once, in order. */
const CACHE_BYTES = 256 * 1024
const MAX_OPEN_FILES = 32
/** Most batches batches() fetches at a time. */
const MAX_BATCHES_PER_READ = 32

/** LevelDB's repair (classic-level has it; `level`'s types do not declare it): keeps every entry it can still read. */
export async function repairDb (dir: string): Promise<void> {
  await (Level as unknown as { repair: (location: string) => Promise<void> }).repair(dir)
}

export function isCorruption (err: unknown): boolean {
  const e = err as { code?: string, cause?: { code?: string } }
  return e.code === 'LEVEL_CORRUPTION' || e.cause?.code === 'LEVEL_CORRUPTION'
}

/** fsync a directory, so an entry just created or removed in it survives a power cut. */
export async function syncDir (dir: string): Promise<void> {
  const fh = await openFile(dir, 'r')
  try {
    await fh.sync()
  } finally {
    await fh.close()
  }
}

export class Segment implements SegmentSummary {
  /** Numbers the segment's directory; segments follow each other in this order. */
  readonly id: number
  readonly dir: string
  /** The first batch's first sequence number; NaN until the segment holds a batch. */
  firstSeq = NaN
  lastSeq = NaN
  records = 0
  bytes = 0
  firstTime = NaN
  lastTime = NaN
  /** No batch is appended to a sealed segment again. */
  sealed = false
  private readonly opts: SegmentOptions
  private db: SegmentDb | undefined
  private opening: Promise<SegmentDb> | undefined
  private closing: Promise<void> | undefined
  private users = 0
  private removal: { resolve: () => void, promise: Promise<void> } | undefined

  constructor (dir: string, id: number, opts: SegmentOptions) {
    this.dir = dir
    this.id = id
    this.opts = opts
  }

  get empty (): boolean {
    return this.records === 0
  }

  summary (): SegmentSummary {
    return { firstSeq: this.firstSeq, lastSeq: this.lastSeq, records: this.records, bytes: this.bytes, firstTime: this.firstTime, lastTime: this.lastTime }
  }

  setSummary (s: SegmentSummary): void {
    this.firstSeq = s.firstSeq
    this.lastSeq = s.lastSeq
    this.records = s.records
    this.bytes = s.bytes
    this.firstTime = s.firstTime
    this.lastTime = s.lastTime
  }

  /** Counts a batch just stored: `records` records from `first` to `last`, `bytes` on disk. */
  added (first: { seq: number, time: number }, last: { seq: number, time: number }, records: number, bytes: number): void {
    if (this.empty) {
      this.firstSeq = first.seq
      this.firstTime = first.time
    }
    this.lastSeq = last.seq
    this.lastTime = last.time
    this.records += records
    this.bytes += bytes
  }

  get isOpen (): boolean {
    return this.db !== undefined
  }

  /** Creates the segment's directory and database, and makes its existence durable. */
  async create (): Promise<void> {
    await mkdir(this.dir, { recursive: true })
    await syncDir(dirname(this.dir))
    await this.handle()
  }

  /** The open database, opening it (and repairing it, when LevelDB finds it corrupt) on first use. */
  async handle (): Promise<SegmentDb> {
    if (this.db !== undefined) return this.db
    if (this.closing !== undefined) await this.closing
    this.opening ??= this.openDb().finally(() => { this.opening = undefined })
    return await this.opening
  }

  private async openDb (): Promise<SegmentDb> {
    const make = (): SegmentDb => new Level<string, Buffer>(this.dir, {
      keyEncoding: 'utf8',
      valueEncoding: 'buffer',
      writeBufferSize: this.opts.writeBufferSize,
      cacheSize: CACHE_BYTES,
      maxOpenFiles: MAX_OPEN_FILES
    })
    let db = make()
    try {
      await db.open()
    } catch (err) {
      if (!isCorruption(err)) throw err
      // LevelDB's repair keeps every record it can still read and drops the damaged tables' rest
      await repairDb(this.dir)
      this.opts.onRepair?.(this.dir, err)
      db = make()
      await db.open()
    }
    this.db = db
    return db
  }

  async put (key: string, value: Buffer, sync: boolean): Promise<void> {
    const db = await this.handle()
    await db.put(key, value, { sync } as { sync: boolean })
  }

  /**
   * A read of the open database, made again on a fresh handle when the segment was closed under it:
   * a held write's retry closes its segment to clear LevelDB's error, and the reader cache closes
   * segments read long ago, whatever reads are still under way there.
   */
  private async read<T> (op: (db: SegmentDb) => Promise<T>): Promise<T> {
    for (;;) {
      const db = await this.handle()
      try {
        return await op(db)
      } catch (err) {
        if ((err as { code?: string }).code !== 'LEVEL_DATABASE_NOT_OPEN' || this.db === db) throw err
      }
    }
  }

  /** The newest batch, or undefined for an empty segment. */
  async lastBatch (): Promise<{ seq: number, value: Buffer } | undefined> {
    // by key, as batches() reads (see there)
    return await this.read(async db => {
      const [key] = await db.keys({ reverse: true, limit: 1 }).all()
      const value = key === undefined ? undefined : await db.get(key)
      return key === undefined || value === undefined ? undefined : { seq: Number(key), value }
    })
  }

  /**
   * Batches in order from the one holding `fromSeq` (or the first after it). Their keys are listed
   * a few at a time and the batches fetched by key, not iterated: classic-level keeps what an
   * iterator read last until the iterator is garbage-collected, closed or not, in memory V8 does
   * not see, so every read of large records left megabytes behind that nothing asked V8 to collect
   * (reading a log of 250 KB records over and over grew the process by 170 MiB a pass).
   */
  async * batches (fromSeq: number, opts: { fillCache?: boolean } = {}): AsyncGenerator<{ seq: number, value: Buffer }> {
    const fillCache = opts.fillCache ?? true
    const [start] = await this.read(async db => await db.keys({ lte: seqKey(fromSeq), reverse: true, limit: 1 }).all())
    let range: { gte: string } | { gt: string } = { gte: seqKey(fromSeq) }
    // one batch first, then twice as many each time: a reader that wants a few records (a batch
    // can hold a thousand) does not fetch dozens of batches it will not look at
    let want = 1
    for (;;) {
      // the first batch is the one found above, when one starts at or before fromSeq
      const next = range
      const keys: string[] = want === 1 && start !== undefined ? [start] : await this.read(async db => await db.keys({ ...next, limit: want, fillCache }).all())
      if (keys.length === 0) return
      const values = await this.read(async db => await db.getMany(keys, { fillCache }))
      for (let i = 0; i < keys.length; i++) {
        const value = values[i]
        if (value !== undefined) yield { seq: Number(keys[i]), value }
      }
      if (keys.length < want) return
      range = { gt: keys[keys.length - 1] as string }
      want = Math.min(want * 2, MAX_BATCHES_PER_READ)
    }
  }

  /** Every batch key, in order (reads the values too: LevelDB keeps them in the same blocks). */
  async keys (): Promise<number[]> {
    return (await this.read(async db => await db.keys({ fillCache: false }).all())).map(Number)
  }

  /** Marks a reader; the segment stays on disk until every reader has let go. */
  acquire (): void {
    this.users++
  }

  release (): void {
    this.users--
    if (this.users === 0 && this.removal !== undefined) this.removal.resolve()
  }

  get inUse (): boolean {
    return this.users > 0
  }

  /** Closes the database (idempotent); the next use opens it again. */
  async close (): Promise<void> {
    if (this.opening !== undefined) await this.opening.catch(() => {})
    const db = this.db
    if (db === undefined) return
    this.db = undefined
    this.closing = db.close().finally(() => { this.closing = undefined })
    await this.closing
  }

  /** Runs LevelDB's repair on the closed database: it keeps what it can read. */
  async repair (): Promise<void> {
    await this.close()
    await repairDb(this.dir)
  }

  /** Removes the segment from disk, once no reader holds it. */
  async remove (): Promise<void> {
    if (this.users > 0) {
      if (this.removal === undefined) {
        let resolve = (): void => {}
        const promise = new Promise<void>(r => { resolve = r })
        this.removal = { resolve, promise }
      }
      await this.removal.promise
    }
    await this.close()
    await rm(this.dir, { recursive: true, force: true })
    await syncDir(dirname(this.dir)).catch(() => {})
  }
}
