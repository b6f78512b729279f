import { FlowgateError } from '../errors.js'

export type AdminErrorCode =
  | 'FG_ERR_ADMIN_NOT_FOUND' | 'FG_ERR_ADMIN_BAD_REQUEST' | 'FG_ERR_ADMIN_UNAUTHORIZED' | 'FG_ERR_ADMIN_CONFLICT'
  | 'FG_ERR_ADMIN_FORBIDDEN' | 'FG_ERR_ADMIN_TOO_LARGE' | 'FG_ERR_ADMIN_UNSUPPORTED_MEDIA_TYPE' | 'FG_ERR_ADMIN_UNAVAILABLE'
  | 'FG_ERR_ADMIN_INTERNAL'

/** An admin API error: a stable code and the HTTP status it answers with. */
export class AdminError extends FlowgateError {
  readonly status: number
  constructor (status: number, code: AdminErrorCode, message: string) {
    super(code, message)
    this.status = status
  }
}

export const notFound = (what: string): AdminError => new AdminError(404, 'FG_ERR_ADMIN_NOT_FOUND', what)
export const badRequest = (why: string): AdminError => new AdminError(400, 'FG_ERR_ADMIN_BAD_REQUEST', why)
export const forbidden = (why: string): AdminError => new AdminError(403, 'FG_ERR_ADMIN_FORBIDDEN', why)

/** The documented error body: `{"error":{"code":"FG_ERR_…","message":"…"}}`. */
export function errorBody (err: AdminError): string {
  return JSON.stringify({ error: { code: err.code, message: err.message } })
}

/**
 * An error raised by the HTTP framework or Node's HTTP parser, as the admin API's own:
 * the status it carries, with our code for it.
 */
export function fromFramework (err: { statusCode?: number, code?: string, message: string, validation?: unknown }): AdminError | undefined {
  if (err.validation !== undefined) return badRequest(err.message)
  const status = err.statusCode
  if (status === undefined || status < 400 || status >= 500) return undefined
  switch (status) {
    case 413: return new AdminError(413, 'FG_ERR_ADMIN_TOO_LARGE', 'the request body is too large')
    case 414: return new AdminError(414, 'FG_ERR_ADMIN_TOO_LARGE', 'the URL is too long')
    case 431: return new AdminError(431, 'FG_ERR_ADMIN_TOO_LARGE', 'the request headers (or the URL) are too large')
    case 415: return new AdminError(415, 'FG_ERR_ADMIN_UNSUPPORTED_MEDIA_TYPE', 'a request body must be JSON (Content-Type: application/json)')
    case 404: return notFound(err.message)
    default: return badRequest(err.code === 'FST_ERR_BAD_URL' ? 'the URL is not validly percent-encoded' : err.message)
  }
}
