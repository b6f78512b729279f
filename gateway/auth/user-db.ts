/**
 * The users who may log in with a password: those in the config plus those in
 * the optional password file, which is watched and read again when it changes.
 * Password checks run a few at a time (scrypt is deliberately costly, and the
 * libuv thread pool also serves LevelDB), so a flood of logins cannot starve
 * the data path; beyond a bounded queue a login is refused as "server unavailable".
 */
import { watch, watchFile, unwatchFile, type FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { FileRefusedError, readBoundedText } from '../../config/index.js'
import { FlowgateError } from '../errors.js'
import type { Logger } from '../logger.js'
import { DEFAULT_SCRYPT, hashProblem, parseHash, verifyPassword, type PasswordHash } from './password.js'

export interface PasswordFileIssue { line: number, message: string }

/** Room for tens of thousands of users; a larger file is a wrong path or an attack. */
export const MAX_PASSWORD_FILE_BYTES = 16 * 1024 * 1024

/** Why the password file cannot be read: not a regular file, too large, or the I/O error's code. */
const readProblem = (err: unknown): string => err instanceof FileRefusedError ? `${err.reason}; the password file is a regular file of at most 16 MiB` : (err as NodeJS.ErrnoException).code ?? 'unknown error'

/** Parses `user:hash` lines; `#` starts a comment line. Issues name the line, never its content. */
export function parsePasswordFile (text: string): { users: Map<string, PasswordHash>, issues: PasswordFileIssue[] } {
  const users = new Map<string, PasswordHash>()
  const issues: PasswordFileIssue[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim()
    if (line === '' || line.startsWith('#')) return
    const colon = line.indexOf(':')
    if (colon <= 0) {
      issues.push({ line: i + 1, message: 'expected user:hash' })
      return
    }
    const name = line.slice(0, colon)
    const hash = line.slice(colon + 1)
    const problem = /\s/.test(name) ? 'user name has white space' : hashProblem(hash)
    if (problem !== undefined) issues.push({ line: i + 1, message: problem })
    else if (users.has(name)) issues.push({ line: i + 1, message: `user ${JSON.stringify(name)} appears twice` })
    else users.set(name, parseHash(hash))
  })
  return { users, issues }
}

export type VerifyResult = 'ok' | 'bad' | 'busy'

export interface UserDbOptions {
  users: ReadonlyArray<{ name: string, password: string }>
  passwordFile?: string | undefined
  logger: Logger
  /** Password checks that run at once. */
  concurrency?: number
  /** Checks that may wait; more are refused as busy. */
  maxQueue?: number
  /** How long file-change events are gathered before the file is read, in ms. */
  reloadDelayMs?: number
}

export class UserDb {
  private readonly configUsers = new Map<string, PasswordHash>()
  private fileUsers = new Map<string, PasswordHash>()
  private fileText: string | undefined
  private readonly file: string | undefined
  private readonly logger: Logger
  private readonly concurrency: number
  private readonly maxQueue: number
  private readonly reloadDelayMs: number
  private active = 0
  private readonly queue: Array<() => void> = []
  private watcher: FSWatcher | undefined
  private polling = false
  private reloadTimer: NodeJS.Timeout | undefined
  private reloading: Promise<void> | undefined
  private closed = false
  // checked against for unknown users, so an unknown name costs as much as a wrong password
  private readonly dummy: PasswordHash = { ...DEFAULT_SCRYPT, salt: randomBytes(16), hash: randomBytes(32) }

  private constructor (opts: UserDbOptions) {
    for (const u of opts.users) this.configUsers.set(u.name, parseHash(u.password))
    this.file = opts.passwordFile === undefined ? undefined : resolve(opts.passwordFile)
    this.logger = opts.logger
    this.concurrency = opts.concurrency ?? 2
    this.maxQueue = opts.maxQueue ?? 64
    this.reloadDelayMs = opts.reloadDelayMs ?? 100
  }

  /** Reads the password file (FG_ERR_AUTH_FILE when it cannot be read or has a bad line) and starts watching it. */
  static async open (opts: UserDbOptions): Promise<UserDb> {
    const db = new UserDb(opts)
    if (db.file !== undefined) {
      const file = db.file
      let text: string
      try {
        text = await readBoundedText(file, MAX_PASSWORD_FILE_BYTES)
      } catch (cause) {
        throw new FlowgateError('FG_ERR_AUTH_FILE', `${file}: cannot read password file (${readProblem(cause)})`, { cause })
      }
      const { users, issues } = parsePasswordFile(text)
      if (issues.length > 0) throw new FlowgateError('FG_ERR_AUTH_FILE', issues.map(i => `${file}:${i.line}: ${i.message}`).join('\n'))
      db.fileUsers = users
      db.fileText = text
      db.warnShadowed()
      db.watch(file)
    }
    return db
  }

  /** Replaces the users from the config (hot reload); the password file's users stay. */
  setConfigUsers (users: ReadonlyArray<{ name: string, password: string }>): void {
    this.configUsers.clear()
    for (const u of users) this.configUsers.set(u.name, parseHash(u.password))
    this.warnShadowed()
  }

  /** True when any user can log in with a password (config or file). */
  get enabled (): boolean {
    return this.file !== undefined || this.configUsers.size > 0
  }

  get size (): number {
    let n = this.fileUsers.size
    for (const name of this.configUsers.keys()) if (!this.fileUsers.has(name)) n++
    return n
  }

  has (name: string): boolean {
    return this.fileUsers.has(name) || this.configUsers.has(name)
  }

  /** Checks a password. An unknown user costs the same as a wrong password. */
  async verify (name: string, password: Buffer | undefined): Promise<VerifyResult> {
    if (password === undefined) return 'bad'
    const hash = this.fileUsers.get(name) ?? this.configUsers.get(name)
    if (this.active >= this.concurrency) {
      if (this.queue.length >= this.maxQueue) return 'busy'
      await new Promise<void>(resolve => this.queue.push(resolve))
    }
    this.active++
    try {
      const ok = await verifyPassword(password, hash ?? this.dummy)
      return ok && hash !== undefined ? 'ok' : 'bad'
    } finally {
      this.active--
      this.queue.shift()?.()
    }
  }

  /** Reads the password file again now; a file that cannot be read or parsed leaves the users as they were. */
  async reload (): Promise<void> {
    if (this.file === undefined || this.closed) return
    this.reloading ??= this.readAgain(this.file).finally(() => { this.reloading = undefined })
    await this.reloading
  }

  private async readAgain (file: string): Promise<void> {
    let text: string
    try {
      text = await readBoundedText(file, MAX_PASSWORD_FILE_BYTES)
    } catch (err) {
      this.logger.error({ event: 'password-file-error', file, problem: readProblem(err) }, 'password file cannot be read; keeping the users read before')
      return
    }
    if (this.closed || text === this.fileText) return
    const { users, issues } = parsePasswordFile(text)
    if (issues.length > 0) {
      this.logger.error({ event: 'password-file-error', file, issues }, 'password file has errors; keeping the users read before')
      return
    }
    this.fileUsers = users
    this.fileText = text
    this.warnShadowed()
    this.logger.info({ event: 'password-file-reloaded', file, count: users.size }, `password file reloaded: ${users.size} users`)
  }

  private warnShadowed (): void {
    for (const name of this.configUsers.keys()) {
      if (this.fileUsers.has(name)) this.logger.warn({ event: 'user-shadowed', user: name }, `user ${name} is in the password file and in broker.auth.users; the file's entry is used`)
    }
  }

  private watch (file: string): void {
    const onChange = (): void => {
      if (this.closed) return
      clearTimeout(this.reloadTimer)
      // an editor's save is several events (truncate, write, rename): read once they settle
      this.reloadTimer = setTimeout(() => { void this.reload() }, this.reloadDelayMs)
    }
    try {
      // the directory, not the file: a save by rename replaces the file's inode
      this.watcher = watch(dirname(file), (_event, name) => {
        if (name === null || name === basename(file)) onChange()
      })
      this.watcher.on('error', err => {
        this.logger.warn({ event: 'password-file-watch', err }, 'watching the password file failed; polling it instead')
        this.watcher?.close()
        this.watcher = undefined
        this.poll(file, onChange)
      })
      this.watcher.unref()
    } catch {
      this.poll(file, onChange)
    }
  }

  private poll (file: string, onChange: () => void): void {
    if (this.closed || this.polling) return
    this.polling = true
    watchFile(file, { interval: 2000, persistent: false }, onChange)
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.reloadTimer)
    this.watcher?.close()
    if (this.polling && this.file !== undefined) unwatchFile(this.file)
    await this.reloading
  }
}
