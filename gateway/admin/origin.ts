/**
 * A page on another site must not steer the gateway through the operator's browser. Browsers send
 * `Origin` with every cross-origin request and with same-origin POSTs, and a simple request (a form
 * or a text/plain fetch) reaches the server without a preflight; so a state-changing request whose
 * `Origin` is not the admin API's own is refused, token or not. Requests without `Origin` (curl,
 * `flowgate` commands) are not browsers acting for someone else, and pass.
 */
import type { FastifyRequest } from 'fastify'
import { AdminError } from './errors.js'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** Whether `origin` is the origin of the admin API as the request addressed it (`Host`). */
export function isOwnOrigin (origin: string, host: string | undefined): boolean {
  return host !== undefined && origin === `http://${host}`
}

export async function refuseCrossOrigin (req: FastifyRequest): Promise<void> {
  const origin = req.headers.origin
  if (SAFE_METHODS.has(req.method) || origin === undefined) return
  if (!isOwnOrigin(origin, req.headers.host)) {
    throw new AdminError(403, 'FG_ERR_ADMIN_FORBIDDEN', `a request from another origin (${origin}) may not change the gateway`)
  }
}
