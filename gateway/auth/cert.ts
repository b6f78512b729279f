/** The user name a verified client certificate carries. */
import type { TLSSocket } from 'node:tls'

export type CertIdentity =
  | { kind: 'none' }
  | { kind: 'user', user: string }
  /** A certificate was presented but is not trusted, or lacks a single value in the user field. */
  | { kind: 'refused', reason: string }

/** Reads `field` (`CN`, `emailAddress`, …) of the peer certificate's subject; only a certificate the CA verified counts. */
export function certIdentity (socket: TLSSocket, field: string): CertIdentity {
  const cert = socket.getPeerCertificate()
  if (cert === null || typeof cert !== 'object' || Object.keys(cert).length === 0) return { kind: 'none' }
  if (!socket.authorized) return { kind: 'refused', reason: `client certificate not trusted (${String(socket.authorizationError)})` }
  const value = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.[field]
  if (typeof value !== 'string' || value === '') return { kind: 'refused', reason: `client certificate has no single ${field} in its subject` }
  return { kind: 'user', user: value }
}
