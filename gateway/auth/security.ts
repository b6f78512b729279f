/**
 * The broker's security decisions in one place: who may log in (password,
 * client certificate, anonymous per listener), what each client may publish
 * and subscribe, and the counting and logging of every refusal. The broker
 * hooks (gateway/broker.ts) and the listeners (gateway/listeners.ts) call it;
 * it holds no sockets itself.
 */
import { isDeepStrictEqual } from 'node:util'
import { ConfigError, type Config, type ListenerConfig } from '../../config/index.js'
import type { Logger } from '../logger.js'
import { Acl, type ClientAcl, type Identity } from './acl.js'
import { anonymousPolicy, type AnonymousPolicy } from './anonymous.js'
import type { CertIdentity } from './cert.js'
import { checkSecurityConfig } from './check.js'
import { LogThrottle } from './throttle.js'
import { SecurityStats, type AuthFailure, type LimitKind, type SecurityStatsSnapshot } from './stats.js'
import { UserDb } from './user-db.js'

/** `suppressed: n` on a log line when the throttle left n similar lines out before it. */
const more = (suppressed: number): { suppressed?: number } => suppressed > 0 ? { suppressed } : {}

/** What the listener knows about a connection before the broker reads from it. */
export interface ConnectionInfo {
  /** `mqtts://0.0.0.0:8883`, as configured. */
  listener: string
  anonymous: AnonymousPolicy
  /** `address:port` of the peer. */
  remote: string
  cert: CertIdentity
}

export type LoginResult =
  | { ok: true, identity: Identity, method: 'password' | 'certificate' | 'anonymous' }
  /** returnCode: 3 server unavailable, 4 bad user name or password, 5 not authorized [MQTT-3.2.2.3]. */
  | { ok: false, returnCode: 3 | 4 | 5, reason: AuthFailure, message: string }

export interface SecurityDeps {
  logger: Logger
  /** Password checks that may run at once (default 2). */
  verifyConcurrency?: number
}

/** Who a client is, as the log and the counters name it. */
export interface ClientRef {
  id?: string | null | undefined
  conn?: unknown
}

interface ClientEntry {
  identity: Identity
  acl: ClientAcl
  /** The rules revision `acl` was made from; older entries are rebuilt on their next check. */
  revision: number
}

export class Security {
  readonly counters = new SecurityStats()
  private acl: Acl
  private revision = 0
  private config: Config['broker']
  private readonly users: UserDb
  private readonly logger: Logger
  private readonly globalAnonymous: boolean | undefined
  private readonly connections = new WeakMap<object, ConnectionInfo>()
  private readonly clients = new WeakMap<object, ClientEntry>()
  private readonly throttle = new LogThrottle()

  private constructor (config: Config['broker'], users: UserDb, logger: Logger) {
    this.acl = new Acl(config.acl)
    this.config = config
    this.users = users
    this.logger = logger
    this.globalAnonymous = config.auth.allowAnonymous
  }

  /** Validates the security settings (ConfigError naming the key paths) and reads the password file. */
  static async create (config: Config, deps: SecurityDeps): Promise<Security> {
    const issues = checkSecurityConfig(config)
    if (issues.length > 0) throw new ConfigError(issues)
    const users = await UserDb.open({
      users: config.broker.auth.users,
      passwordFile: config.broker.auth.passwordFile,
      logger: deps.logger,
      ...(deps.verifyConcurrency !== undefined ? { concurrency: deps.verifyConcurrency } : {})
    })
    return new Security(config.broker, users, deps.logger)
  }

  /** Counters for the admin API: auth failures, access denials, limit closures. */
  stats (): SecurityStatsSnapshot {
    return this.counters.snapshot()
  }

  anonymousPolicy (listener: ListenerConfig): AnonymousPolicy {
    return anonymousPolicy(listener, this.globalAnonymous)
  }

  /** True when user names are checked against passwords (users in the config or a password file). */
  get passwordsEnabled (): boolean {
    return this.users.enabled
  }

  /** Called by a listener for each connection it hands to the broker (`conn` is what the broker reads). */
  attach (conn: object, info: ConnectionInfo): void {
    this.connections.set(conn, info)
  }

  connection (conn: unknown): ConnectionInfo | undefined {
    return typeof conn === 'object' && conn !== null ? this.connections.get(conn) : undefined
  }

  /** Reloads the password file now (it is also reloaded when it changes). */
  async reloadUsers (): Promise<void> {
    await this.users.reload()
  }

  /**
   * Decides a CONNECT. A verified client certificate names the user; otherwise a
   * user name must come with its password when users are configured. Without
   * users, a user name is not verified: it is recorded, but the access rules see
   * the client as anonymous, so a claimed name cannot unlock a user's rules.
   */
  async login (client: ClientRef & object, username: string | undefined, password: Buffer | undefined): Promise<LoginResult> {
    const info = this.connection(client.conn)
    const clientId = client.id ?? ''
    const result = await this.decide(info, clientId, username, password)
    if (result.ok) {
      this.clients.set(client, { identity: result.identity, acl: this.acl.forClient(result.identity), revision: this.revision })
      this.logger.debug({ event: 'login', clientId, user: result.identity.user, method: result.method, remote: info?.remote, listener: info?.listener }, 'client logged in')
    } else {
      this.counters.authFailure(result.reason)
      const suppressed = this.throttle.admit('auth-failed')
      if (suppressed !== undefined) this.logger.warn({ event: 'auth-failed', reason: result.reason, clientId, user: username, remote: info?.remote, listener: info?.listener, ...more(suppressed) }, `client refused: ${result.message}`)
    }
    return result
  }

  private async decide (info: ConnectionInfo | undefined, clientId: string, username: string | undefined, password: Buffer | undefined): Promise<LoginResult> {
    const cert = info?.cert ?? { kind: 'none' }
    if (cert.kind === 'refused') return { ok: false, returnCode: 5, reason: 'certificate', message: cert.reason }
    if (cert.kind === 'user') {
      if (username !== undefined && username !== cert.user) return { ok: false, returnCode: 5, reason: 'certificate', message: 'user name differs from the client certificate\'s' }
      return { ok: true, identity: { user: cert.user, clientId }, method: 'certificate' }
    }
    const anonymous = info?.anonymous.allowed ?? false
    if (username === undefined) {
      if (anonymous) return { ok: true, identity: { clientId }, method: 'anonymous' }
      return { ok: false, returnCode: 5, reason: 'anonymous', message: `anonymous clients are not allowed on ${info?.listener ?? 'this listener'}` }
    }
    if (!this.users.enabled) {
      if (anonymous) return { ok: true, identity: { clientId }, method: 'anonymous' }
      return { ok: false, returnCode: 4, reason: 'badCredentials', message: 'no users are configured' }
    }
    const verdict = await this.users.verify(username, password)
    if (verdict === 'ok') return { ok: true, identity: { user: username, clientId }, method: 'password' }
    if (verdict === 'busy') return { ok: false, returnCode: 3, reason: 'busy', message: 'too many logins at once' }
    return { ok: false, returnCode: 4, reason: 'badCredentials', message: 'bad user name or password' }
  }

  /** The verified identity of a logged-in client. */
  identity (client: object): Identity | undefined {
    return this.clients.get(client)?.identity
  }

  /** A logged-in client's rules, rebuilt when the rules changed since they were made. */
  private entry (client: object): ClientEntry | undefined {
    const entry = this.clients.get(client)
    if (entry !== undefined && entry.revision !== this.revision) {
      entry.acl = this.acl.forClient(entry.identity)
      entry.revision = this.revision
    }
    return entry
  }

  /**
   * Takes a new config in place (hot reload): access rules apply at once, to connected
   * clients too; users in the config apply to the next logins. Listeners, the password
   * file's path and `allowAnonymous` take effect after a restart (the reload says so).
   */
  reconfigure (config: Config): void {
    const next = config.broker
    const issues = checkSecurityConfig(config)
    if (issues.length > 0) throw new ConfigError(issues)
    if (!isDeepStrictEqual(next.acl, this.config.acl)) {
      this.acl = new Acl(next.acl)
      this.revision++
      this.logger.info({ event: 'acl-reloaded', rules: next.acl.length }, `access rules reloaded: ${next.acl.length} rules`)
    }
    if (!isDeepStrictEqual(next.auth.users, this.config.auth.users)) {
      this.users.setConfigUsers(next.auth.users)
      this.logger.info({ event: 'users-reloaded', count: next.auth.users.length }, `users reloaded: ${next.auth.users.length} in the config`)
    }
    this.config = next
  }

  /** Checks a publish against the access rules; a refusal is counted and logged. */
  mayPublish (client: ClientRef & object, topic: string): boolean {
    const entry = this.entry(client)
    if (topic.startsWith('$SYS/')) {
      // the broker's own status topics: never written by a client, whatever the rules say
      this.denied(client, 'publish', topic, entry?.identity)
      return false
    }
    if (entry === undefined) return !this.acl.enabled
    if (entry.acl.canPublish(topic)) return true
    this.denied(client, 'publish', topic, entry.identity)
    return false
  }

  /** Checks a subscription against the access rules; a refusal is counted and logged. */
  maySubscribe (client: ClientRef & object, filter: string): boolean {
    const entry = this.entry(client)
    if (entry === undefined) return !this.acl.enabled
    if (entry.acl.canSubscribe(filter)) return true
    this.denied(client, 'subscribe', filter, entry.identity)
    return false
  }

  /**
   * Whether a message on `topic` may be delivered to a subscribed client: no when a deny rule
   * matches it first (the client's subscription only overlapped the denied filter). Not counted
   * or logged: it is a filter on deliveries, not a refusal of the client.
   */
  mayReceive (client: object, topic: string): boolean {
    if (!this.acl.enabled) return true
    const acl = this.entry(client)?.acl
    return acl === undefined || !acl.filtersDeliveries || acl.canReceive(topic)
  }

  private denied (client: ClientRef, action: 'publish' | 'subscribe', topic: string, id: Identity | undefined): void {
    this.counters.aclDenial(action)
    const suppressed = this.throttle.admit('acl-denied')
    if (suppressed === undefined) return
    const info = this.connection(client.conn)
    this.logger.warn({ event: 'acl-denied', action, topic, clientId: client.id, user: id?.user, remote: info?.remote, ...more(suppressed) }, action === 'publish' ? 'publish refused by the access rules; client disconnected' : 'subscription refused by the access rules')
  }

  /** Counts and logs a client closed for exceeding a limit. */
  limitExceeded (kind: LimitKind, where: { clientId?: string | null | undefined, remote?: string | undefined, listener?: string | undefined }, detail: string): void {
    this.counters.limitClosure(kind)
    const suppressed = this.throttle.admit(`limit:${kind}`)
    if (suppressed === undefined) return
    this.logger.warn({ event: 'limit', limit: kind, clientId: where.clientId ?? undefined, remote: where.remote, listener: where.listener, detail, ...more(suppressed) }, kind === 'slow-client' ? `client closed: too slow to take its data (${detail})` : `client closed: ${kind} exceeded (${detail})`)
  }

  /**
   * Counts the time a client was held for exceeding `publishRate`; its first hold is logged, so a
   * device that keeps bursting gives one line a connection.
   */
  throttled (where: { clientId?: string | null | undefined, remote?: string | undefined, listener?: string | undefined }, ms: number, first: boolean): void {
    this.counters.throttled(ms)
    if (!first) return
    const suppressed = this.throttle.admit('throttle')
    if (suppressed === undefined) return
    this.logger.info({ event: 'throttle', limit: 'publishRate', clientId: where.clientId ?? undefined, remote: where.remote, listener: where.listener, ...more(suppressed) }, 'client slowed down: it publishes faster than broker.limits.publishRate')
  }

  /** Counts a connection closed for malformed input; logged at debug (hostile input would flood the log). */
  protocolError (where: { clientId?: string | null | undefined, remote?: string | undefined }, err: Error | string): void {
    this.counters.protocolError()
    const suppressed = this.throttle.admit('protocol-error')
    if (suppressed === undefined) return
    this.logger.debug({ event: 'protocol-error', clientId: where.clientId ?? undefined, remote: where.remote, error: typeof err === 'string' ? err : err.message, ...more(suppressed) }, 'connection closed: protocol error')
  }

  async close (): Promise<void> {
    await this.users.close()
  }
}
