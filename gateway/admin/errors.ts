import { FlowgateError } from '../errors.js'

/** An admin API error: a stable code and the HTTP status it answers with. */
export class AdminError extends FlowgateError {
  readonly status: number
  constructor (status: number, code: 'FG_ERR_ADMIN_NOT_FOUND' | 'FG_ERR_ADMIN_BAD_REQUEST' | 'FG_ERR_ADMIN_UNAUTHORIZED' | 'FG_ERR_ADMIN_CONFLICT' | 'FG_ERR_ADMIN_FORBIDDEN', message: string) {
    super(code, message)
    this.status = status
  }
}

export const notFound = (what: string): AdminError => new AdminError(404, 'FG_ERR_ADMIN_NOT_FOUND', what)
export const badRequest = (why: string): AdminError => new AdminError(400, 'FG_ERR_ADMIN_BAD_REQUEST', why)
