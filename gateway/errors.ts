/**
 * The one table of error codes: every operational error flowgate reports, each with a stable
 * code. Each folder owns the codes it raises in its own module (storage/errors.ts,
 * config/errors.ts, bridges/errors.ts); this module gathers them and holds the gateway's own
 * (listeners, authentication, limits, the admin API, the command line).
 * Callers match `code`, never the message. Programmer mistakes stay plain TypeErrors.
 */
import { BridgeErrorCodes } from '../bridges/index.js'
import { ConfigErrorCodes } from '../config/index.js'
import { StorageErrorCodes } from '../storage/index.js'

export const GatewayErrorCodes = {
  FG_ERR_LISTEN: 'a broker listener cannot bind its address',
  FG_ERR_TLS: 'a TLS listener\'s certificate, key or CA cannot be read or used',
  FG_ERR_AUTH_FILE: 'the password file (broker.auth.passwordFile) cannot be read or has an invalid line',
  FG_ERR_ACL_DENIED: 'a client published where broker.acl does not allow it; the client is disconnected',
  FG_ERR_LIMIT: 'a client exceeded a broker limit (broker.limits); the client is disconnected',
  FG_ERR_ADMIN_NOT_FOUND: 'admin API: no such bridge, route or item (404)',
  FG_ERR_ADMIN_BAD_REQUEST: 'admin API: a parameter is missing or invalid (400)',
  FG_ERR_ADMIN_UNAUTHORIZED: 'admin API: the bearer token is missing or wrong (401)',
  FG_ERR_ADMIN_CONFLICT: 'admin API: the request conflicts with the bridge\'s state (409)',
  FG_ERR_ADMIN_FORBIDDEN: 'admin API: a state-changing request from another origin, or a Host header that names no address of the API (403)',
  FG_ERR_ADMIN_TOO_LARGE: 'admin API: the request body (413), URL (414) or headers (431) are too large',
  FG_ERR_ADMIN_UNSUPPORTED_MEDIA_TYPE: 'admin API: a request body that is not application/json (415)',
  FG_ERR_ADMIN_UNAVAILABLE: 'admin API: what the request reads cannot be read for now (the state store, whose reopen on a full or failing disk failed); the message says why (503)',
  FG_ERR_ADMIN_INTERNAL: 'admin API: the request failed inside the gateway; the log has the cause (500)',
  FG_ERR_ADMIN_UNREACHABLE: 'a command cannot reach the admin API of a running gateway',
  FG_ERR_SUBSCRIPTION_INVALID: 'Subscriptions API: the request is not valid (an unsupported protocol or filter dialect, an invalid CESQL expression, an `?inline` the registry cannot inline…) (400)',
  FG_ERR_SUBSCRIPTION_UNAUTHORIZED: 'Subscriptions API: no valid bearer token or client certificate of a configured consumer (401)',
  FG_ERR_SUBSCRIPTION_FORBIDDEN: 'Subscriptions API: the request is outside the consumer\'s policy (sink, types, topics, number of subscriptions) (403)',
  FG_ERR_SUBSCRIPTION_NOT_FOUND: 'Subscriptions API: no such subscription, route or registry entity (404), or a method the route does not allow (405)',
  FG_ERR_FILE_EXISTS: 'flowgate init would overwrite an existing file (--force overwrites it)',
  FG_ERR_USAGE: 'the command line is not valid'
} as const

export type GatewayErrorCode = keyof typeof GatewayErrorCodes

/** Every code of every folder, with what it means. A code belongs to exactly one folder. */
export const ErrorCodes = Object.freeze({ ...StorageErrorCodes, ...ConfigErrorCodes, ...BridgeErrorCodes, ...GatewayErrorCodes })

export type ErrorCode = keyof typeof ErrorCodes

/** Process exit code for each error class a command can end with. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_INVALID = 2

/** An operational error the gateway itself raises. */
export class FlowgateError extends Error {
  readonly code: GatewayErrorCode

  constructor (code: GatewayErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FlowgateError'
    this.code = code
  }
}

/** An operational error of any folder: an Error whose `code` is in the table. */
export interface CodedError extends Error {
  readonly code: ErrorCode
}

/** True for an operational error of any folder (its code is in the table), optionally of one code. */
export function isFlowgateError (err: unknown, code?: ErrorCode): err is CodedError {
  if (!(err instanceof Error)) return false
  const actual = (err as { code?: unknown }).code
  return typeof actual === 'string' && Object.hasOwn(ErrorCodes, actual) && (code === undefined || actual === code)
}
