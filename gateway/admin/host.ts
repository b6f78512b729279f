/**
 * DNS rebinding: a page whose own name is made to resolve to the gateway can have the operator's
 * browser talk to the admin API and read its answers (the browser takes it for the page's own
 * origin), but the requests carry the page's name in `Host`. So a request naming a host other than
 * `localhost`, the listen address or one of `admin.allowedHosts` is refused (403). IP addresses are
 * accepted: no page can rebind one. Requests without `Host` are not from a browser.
 */
import { isIP } from 'node:net'

/** The host name in a `Host` header (`[::1]:9080` -> `::1`), lower case. */
export function hostName (host: string): string {
  const h = host.trim().toLowerCase()
  if (h.startsWith('[')) {
    const end = h.indexOf(']')
    return h.slice(1, end === -1 ? undefined : end)
  }
  const colon = h.indexOf(':')
  // one colon: a port; more: an IPv6 address without brackets (no port)
  return colon !== -1 && colon === h.lastIndexOf(':') ? h.slice(0, colon) : h
}

export interface HostPolicy {
  /** `admin.host`, the address the API listens on. */
  listen: string
  allowed: readonly string[]
}

/** Why a request naming `host` is refused; undefined when it is accepted. */
export function hostProblem (host: string | undefined, policy: HostPolicy): string | undefined {
  if (host === undefined) return undefined
  const name = hostName(host)
  if (name === 'localhost' || isIP(name) !== 0 || name === policy.listen.toLowerCase()) return undefined
  if (policy.allowed.some(a => a.toLowerCase() === name)) return undefined
  return `the Host header names ${JSON.stringify(name)}, which is not an address of this API (add it to admin.allowedHosts)`
}
