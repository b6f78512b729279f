/**
 * The gateway's state store: one LevelDB for cursors, dead letters, broker state and the event
 * log's own bookkeeping, each in its own sublevel. (The log's records live in segments of their
 * own: see log/segment.ts.)
 *
 * MUST: writes are group-committed in call order; a caller's promise resolves once its write is
 *       stored (fsynced when it asked for sync, or when a write in its group did).
 * MUST: a failed write is held and retried with backoff, reopening the database first (LevelDB
 *       keeps a failed sync's error until it is reopened), so a full or failing disk holds the
 *       gateway rather than stopping it; writes behind it wait in order. On a full disk the
 *       reopen waits for the room it takes: until then the database stays open for reads.
 * MUST: the state (`ok`, `full`, `write-failing`) changes once per change, not once per write.
 * MUST: reads go through `read` or `entries`: one made while the database is closed for a reopen
 *       waits until it is open again (and an iteration cut by the reopen resumes after its last
 *       entry), so status, broker state and bridges keep reading while a held write is retried.
 *       A reopen that fails (a full or failing disk) leaves the database closed until one
 *       succeeds: reads fail at once meanwhile (FG_ERR_STORE_UNAVAILABLE), rather than wait.
 */
import { EventEmitter } from 'node:events'
import { mkdir } from 'node:fs/promises'
import type { AbstractSublevel } from 'abstract-level'
import { Level } from 'level'
import { StorageError } from './errors.js'
import { isCorruption, repairDb } from './log/segment.js'
import { backoff, describeWriteError, errnoOf, sameCondition, untilRoomToReopen, whenRoom, type WriteCondition } from './write-condition.js'

export type Sublevel = AbstractSublevel<Level<string, Buffer>, string | Buffer | Uint8Array, string, Buffer>

/** Sublevel names; a new component takes a new name here. (`log`, `bidx` and `tidx` held the log before its segments.) */
export const SUBLEVELS = ['log', 'bidx', 'tidx', 'meta', 'cursors', 'dlq', 'broker', 'subscriptions'] as const
export type SublevelName = typeof SUBLEVELS[number]

export type StoreOp =
  | { type: 'put', sublevel: Sublevel, key: string, value: Buffer }
  | { type: 'del', sublevel: Sublevel, key: string }

export interface StoreOpenOptions {
  /** Called when LevelDB reported the store corrupt and its repair ran before the store opened. */
  onRepair?: (cause: unknown) => void
  /** Called once when the disk has no room to open the store; opening is retried until it has. */
  onNoRoom?: (cause: unknown) => void
}

interface Waiter { resolve: () => void, reject: (err: Error) => void }

/** Bounds of a key range, as LevelDB iterators take them. */
export interface KeyRange { gt?: string, gte?: string, lt?: string, lte?: string }

/** What a read finds on a database (or an iterator) closed under it. */
const isNotOpen = (err: unknown): boolean => {
  const code = (err as { code?: unknown } | undefined)?.code
  return code === 'LEVEL_DATABASE_NOT_OPEN' || code === 'LEVEL_ITERATOR_NOT_OPEN'
}

export class Store extends EventEmitter {
  readonly db: Level<string, Buffer>
  readonly dataDir: string
  private readonly subs = new Map<SublevelName, Sublevel>()
  private closing: Promise<void> | undefined
  private closed = false
  private queued: StoreOp[] = []
  private queuedSync = false
  private waiters: Waiter[] = []
  private inFlight = false
  private scheduled = false
  private condition: WriteCondition = { state: 'ok' }
  private retryTimer: NodeJS.Timeout | undefined
  private wakeRetry: (() => void) | undefined
  /** Bytes of values waiting to be written (the gateway stops reading clients above a bound). */
  private pendingValueBytes = 0
  private idleWaiters: Array<() => void> = []
  /** While the database is closed for a reopen: settles once it is open again (or the store closes). */
  private reopened: { promise: Promise<void>, resolve: () => void } | undefined
  /** Reopens begun: a read that failed across one is made again. */
  private reopens = 0
  /** Why the last reopen failed, while the database stays closed after it. */
  private openFailure: unknown
  /** Write attempts that failed (each retried). */
  writeErrors = 0

  private constructor (db: Level<string, Buffer>, dataDir: string) {
    super()
    this.db = db
    this.dataDir = dataDir
  }

  /** Opens (creating if needed) the store in `dataDir`, repairing it first if LevelDB finds it corrupt. */
  static async open (dataDir: string, opts: StoreOpenOptions = {}): Promise<Store> {
    try {
      await whenRoom(async () => await mkdir(dataDir, { recursive: true }), cause => opts.onNoRoom?.(cause))
    } catch (cause) {
      throw new StorageError('FG_ERR_DATA_DIR_ACCESS', `data directory ${dataDir} cannot be created (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause })
    }
    const make = (): Level<string, Buffer> => new Level<string, Buffer>(dataDir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
    // a Level instance opens itself on the next tick: make one only when it is to be opened
    let db: Level<string, Buffer> | undefined
    try {
      await whenRoom(async () => {
        try {
          db = make()
          await db.open()
        } catch (err) {
          if (!isCorruption(err)) throw err
          // LevelDB's repair keeps every entry it can still read
          await repairDb(dataDir)
          opts.onRepair?.(err)
          db = make()
          await db.open()
        }
      }, cause => opts.onNoRoom?.(cause))
    } catch (err) {
      const cause = (err as { cause?: { code?: string, message?: string } }).cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new StorageError('FG_ERR_DATA_DIR_LOCKED', `data directory ${dataDir} is in use by another running gateway`, { cause: err })
      }
      const detail = cause?.code ?? cause?.message ?? String(err)
      throw new StorageError('FG_ERR_DATA_DIR_ACCESS', `data directory ${dataDir} cannot be opened for writing (${detail})`, { cause: err })
    }
    return new Store(db as Level<string, Buffer>, dataDir)
  }

  /** The sublevel of that name (one object per name, reopened with the store). */
  sublevel (name: SublevelName): Sublevel {
    let sub = this.subs.get(name)
    if (sub === undefined) {
      sub = this.db.sublevel<string, Buffer>(name, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
      this.subs.set(name, sub)
    }
    return sub
  }

  /** The store's write state: `ok`, or why writes are held. */
  writeCondition (): WriteCondition {
    return this.condition
  }

  /**
   * Runs a read of the database, made again if a reopen closed the database under it; one begun
   * while the database is closed for a reopen waits until it is open again. `read` must not write.
   */
  async read<T> (read: () => Promise<T>): Promise<T> {
    for (;;) {
      if (this.reopened !== undefined) await this.reopened.promise
      this.checkReadable()
      const seen = this.reopens
      try {
        return await read()
      } catch (err) {
        if (!this.cutByReopen(err, seen)) throw err
      }
    }
  }

  /** The entries of `range` in key order; a reopen during the iteration resumes it after the last entry. */
  async * entries (sub: Sublevel, range: KeyRange = {}): AsyncGenerator<[string, Buffer]> {
    const upper: KeyRange = {}
    if (range.lt !== undefined) upper.lt = range.lt
    if (range.lte !== undefined) upper.lte = range.lte
    let from = range
    for (;;) {
      if (this.reopened !== undefined) await this.reopened.promise
      this.checkReadable()
      const seen = this.reopens
      try {
        for await (const entry of sub.iterator(from)) {
          from = { ...upper, gt: entry[0] }
          yield entry
        }
        return
      } catch (err) {
        if (!this.cutByReopen(err, seen)) throw err
      }
    }
  }

  /** Throws while a failed reopen leaves the database closed. */
  private checkReadable (): void {
    if (this.openFailure !== undefined && !this.closed) {
      const cause = this.openFailure as { code?: string, message?: string, cause?: { message?: string } }
      throw new StorageError('FG_ERR_STORE_UNAVAILABLE', `the state store cannot be read until it opens again: its reopen failed (${errnoOf(cause) ?? cause.cause?.message ?? cause.message ?? String(cause)}); a held write's retry reopens it`, { cause })
    }
  }

  /** Whether a read failed because a reopen (begun after reopen number `seen`) closed the database under it. */
  private cutByReopen (err: unknown, seen: number): boolean {
    return !this.closed && isNotOpen(err) && (this.reopens !== seen || this.reopened !== undefined)
  }

  /** Bytes of values waiting for their write. */
  get pendingBytes (): number {
    return this.pendingValueBytes
  }

  /**
   * Writes `ops` atomically, together with the other writes of the same turn. Resolves once
   * stored; while the disk refuses, the write waits and is retried (see the MUSTs above).
   * Rejects only when the store closes first (FG_ERR_STORE_CLOSED).
   */
  async write (ops: readonly StoreOp[], sync: boolean): Promise<void> {
    if (this.closed) throw new StorageError('FG_ERR_STORE_CLOSED', 'the store is closed')
    await new Promise<void>((resolve, reject) => {
      for (const op of ops) {
        this.queued.push(op)
        if (op.type === 'put') this.pendingValueBytes += op.value.length
      }
      this.queuedSync ||= sync
      this.waiters.push({ resolve, reject })
      if (!this.inFlight && !this.scheduled) {
        this.scheduled = true
        queueMicrotask(() => { void this.commit() })
      }
    })
  }

  /** Resolves once every write issued so far is stored (or given up because the store closed). */
  async idle (): Promise<void> {
    if (!this.inFlight && this.waiters.length === 0) return
    await new Promise<void>(resolve => this.idleWaiters.push(resolve))
  }

  private async commit (): Promise<void> {
    this.scheduled = false
    if (this.inFlight || this.waiters.length === 0) return
    const ops = this.queued
    const sync = this.queuedSync
    const waiters = this.waiters
    this.queued = []
    this.queuedSync = false
    this.waiters = []
    this.inFlight = true
    const bytes = ops.reduce((n, op) => n + (op.type === 'put' ? op.value.length : 0), 0)
    // failed attempts so far (each a backoff step)
    let attempt = 0
    for (;;) {
      try {
        if (attempt > 0) {
          if (this.closed) throw new Error('the store closed while the write was held')
          // LevelDB keeps a failed write's error, and its log may hold part of the write: the
          // retry goes to the database opened again, on a new log
          await this.reopen()
        }
        if (ops.length > 0) {
          const batch = this.db.batch()
          for (const op of ops) {
            const key = op.sublevel.prefixKey(op.key, 'utf8')
            if (op.type === 'put') batch.put(key, op.value)
            else batch.del(key)
          }
          await batch.write({ sync } as { sync: boolean })
        }
        this.setCondition({ state: 'ok' })
        break
      } catch (cause) {
        if (this.closed) {
          const err = new StorageError('FG_ERR_STORE_CLOSED', 'the store closed before a held write could be stored', { cause })
          for (const w of waiters) w.reject(err)
          this.pendingValueBytes -= bytes
          this.inFlight = false
          this.failQueued(err)
          for (const resolve of this.idleWaiters.splice(0)) resolve()
          return
        }
        const cond = describeWriteError(cause)
        this.writeErrors++
        this.emit('write-error', cond)
        this.setCondition(cond)
        await this.pause(backoff(attempt++))
        // a reopen on a full disk fails and leaves the store unreadable until one succeeds: the
        // database stays open, for reads, until the disk has the room a reopen takes
        if (cond.state === 'full') await untilRoomToReopen(this.dataDir, async () => await this.pause(backoff(attempt++)), () => this.closed)
      }
    }
    this.pendingValueBytes -= bytes
    this.inFlight = false
    for (const w of waiters) w.resolve()
    if (this.waiters.length > 0) void this.commit()
    else for (const resolve of this.idleWaiters.splice(0)) resolve()
  }

  private failQueued (err: Error): void {
    const waiters = this.waiters
    this.waiters = []
    this.queued = []
    this.pendingValueBytes = 0
    for (const w of waiters) w.reject(err)
  }

  private async pause (ms: number): Promise<void> {
    await new Promise<void>(resolve => {
      this.wakeRetry = resolve
      this.retryTimer = setTimeout(resolve, ms)
    })
    this.retryTimer = undefined
    this.wakeRetry = undefined
  }

  /** Stops retrying a held write: it and every write after it are refused (FG_ERR_STORE_CLOSED), so a stop does not wait on a failing disk. */
  abandon (): void {
    this.closed = true
    this.releaseReads()
    this.retryNow()
  }

  /** Retries a held write now (space was freed, or the gateway is stopping). */
  retryNow (): void {
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    this.wakeRetry?.()
  }

  private setCondition (next: WriteCondition): void {
    const prev = this.condition
    if (sameCondition(prev, next)) return
    this.condition = next
    this.emit('condition', next, prev)
  }

  /**
   * Closes and opens the database again: LevelDB clears a failed sync's error only then. Reads
   * wait from here until the database is open; a failed open makes them fail until one succeeds.
   */
  async reopen (): Promise<void> {
    if (this.reopened === undefined) {
      let resolve = (): void => {}
      const promise = new Promise<void>(r => { resolve = r })
      this.reopened = { promise, resolve }
    }
    this.reopens++
    try {
      await this.db.close()
      await this.db.open()
      for (const sub of this.subs.values()) await sub.open()
    } catch (err) {
      // the reads waiting go on, and fail at once, as do those made until a reopen succeeds
      this.openFailure = err
      this.releaseReads()
      throw err
    }
    this.openFailure = undefined
    this.releaseReads()
  }

  private releaseReads (): void {
    const gate = this.reopened
    this.reopened = undefined
    gate?.resolve()
  }

  /** Idempotent. Writes still held by a failing disk are given up (FG_ERR_STORE_CLOSED). */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      this.closed = true
      // waiting reads go on, and fail: the store is closed
      this.releaseReads()
      this.retryNow()
      await this.idle()
      await this.db.close()
    })()
    await this.closing
  }
}
