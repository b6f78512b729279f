/**
 * Where clients without a user name are accepted. A listener that anyone on the
 * network can reach refuses them unless the config explicitly says otherwise.
 */
import { isIP } from 'node:net'

/** True for addresses only this machine can reach: 127.0.0.0/8, ::1 (also v4-mapped) and `localhost`. */
export function isLoopback (host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '')
  if (h === 'localhost' || h === '::1' || h === '0:0:0:0:0:0:0:1') return true
  const v4 = h.startsWith('::ffff:') ? h.slice(7) : h
  return isIP(v4) === 4 && v4.startsWith('127.')
}

export interface AnonymousPolicy {
  allowed: boolean
  /** What decided it: the listener's own setting, `broker.auth.allowAnonymous`, or the address. */
  source: 'listener' | 'auth' | 'address'
}

/** The listener's `allowAnonymous`, else the global one, else: only on loopback addresses. */
export function anonymousPolicy (listener: { host: string, allowAnonymous?: boolean | undefined }, global: boolean | undefined): AnonymousPolicy {
  if (listener.allowAnonymous !== undefined) return { allowed: listener.allowAnonymous, source: 'listener' }
  if (global !== undefined) return { allowed: global, source: 'auth' }
  return { allowed: isLoopback(listener.host), source: 'address' }
}
