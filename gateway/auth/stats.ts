/** Counters of what the security layer refused, for the admin API and metrics. Label sets are fixed. */

export const AUTH_FAILURES = ['badCredentials', 'anonymous', 'certificate', 'busy'] as const
export const LIMIT_KINDS = ['maxPacketSize', 'maxConnections', 'maxTopicLength', 'maxTopicLevels', 'connectTimeout', 'slow-client'] as const

export type AuthFailure = typeof AUTH_FAILURES[number]
export type LimitKind = typeof LIMIT_KINDS[number]

export interface SecurityStatsSnapshot {
  /** Logins refused, by reason. */
  authFailures: Record<AuthFailure, number>
  /** Publishes (the client is disconnected) and subscriptions (SUBACK 0x80) refused by the access rules. */
  aclDenials: { publish: number, subscribe: number }
  /** Clients disconnected for exceeding a limit, by limit. */
  limitClosures: Record<LimitKind, number>
  /** Connections closed for malformed MQTT (bad header, wildcard or invalid UTF-8 in a topic, …) or a failed TLS handshake. */
  protocolErrors: number
  /** Time clients spent held for exceeding `publishRate` (not read from), summed over clients, in seconds. */
  publishThrottledSeconds: number
}

const zero = <K extends string>(keys: readonly K[]): Record<K, number> => Object.fromEntries(keys.map(k => [k, 0])) as Record<K, number>

export class SecurityStats {
  private readonly auth = zero(AUTH_FAILURES)
  private readonly limits = zero(LIMIT_KINDS)
  private readonly acl = { publish: 0, subscribe: 0 }
  private protocol = 0
  private throttledMs = 0

  authFailure (reason: AuthFailure): void { this.auth[reason]++ }
  aclDenial (action: 'publish' | 'subscribe'): void { this.acl[action]++ }
  limitClosure (kind: LimitKind): void { this.limits[kind]++ }
  protocolError (): void { this.protocol++ }
  throttled (ms: number): void { this.throttledMs += ms }

  snapshot (): SecurityStatsSnapshot {
    return { authFailures: { ...this.auth }, aclDenials: { ...this.acl }, limitClosures: { ...this.limits }, protocolErrors: this.protocol, publishThrottledSeconds: this.throttledMs / 1000 }
  }
}
