/**
 * Every operational error flowgate reports, each with a stable code.
 * Callers match `code`, never the message. Programmer mistakes stay plain TypeErrors.
 *
 * This module is a leaf (it imports nothing of ours), so storage/, config/ and
 * bridges/ may import it directly.
 */

export const ErrorCodes = {
  FG_ERR_CONFIG_INVALID: 'the configuration file is invalid',
  FG_ERR_CONFIG_READ: 'the configuration file cannot be read',
  FG_ERR_DATA_DIR_LOCKED: 'the data directory is in use by another running gateway',
  FG_ERR_DATA_DIR_ACCESS: 'the data directory cannot be created or written',
  FG_ERR_STORE_WRITE: 'a commit to the event log failed (disk full or I/O error)',
  FG_ERR_STORE_CLOSED: 'the event log is closed (the gateway is stopping)',
  FG_ERR_STORE_FULL: 'the event log is full and storage.whenFull is reject-new',
  FG_ERR_BROKER_STATE_WRITE: 'a broker state write to LevelDB failed; the store refuses further changes',
  FG_ERR_BROKER_STATE_CLOSED: 'the broker state store is closed',
  FG_ERR_BROKER_STATE_CORRUPT: 'a stored broker state value cannot be decoded; the gateway does not start',
  FG_ERR_BROKER_NO_SUCH_PACKET: 'no stored broker packet matches (internal to the broker state store)',
  FG_ERR_LISTEN: 'a broker listener cannot bind its address',
  FG_ERR_TLS: 'a TLS listener\'s certificate, key or CA cannot be read or used',
  FG_ERR_AUTH_FILE: 'the password file (broker.auth.passwordFile) cannot be read or has an invalid line',
  FG_ERR_ACL_DENIED: 'a client published where broker.acl does not allow it; the client is disconnected',
  FG_ERR_LIMIT: 'a client exceeded a broker limit (broker.limits); the client is disconnected',
  FG_ERR_ADMIN_NOT_FOUND: 'admin API: no such bridge, route or item (404)',
  FG_ERR_ADMIN_BAD_REQUEST: 'admin API: a parameter is missing or invalid (400)',
  FG_ERR_ADMIN_UNAUTHORIZED: 'admin API: the bearer token is missing or wrong (401)',
  FG_ERR_ADMIN_CONFLICT: 'admin API: the request conflicts with the bridge\'s state (409)',
  FG_ERR_ADMIN_UNREACHABLE: 'a command cannot reach the admin API of a running gateway',
  FG_ERR_USAGE: 'the command line is not valid'
} as const

export type ErrorCode = keyof typeof ErrorCodes

/** Process exit code for each error class a command can end with. */
export const EXIT_OK = 0
export const EXIT_FAILURE = 1
export const EXIT_INVALID = 2

export class FlowgateError extends Error {
  readonly code: ErrorCode

  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'FlowgateError'
    this.code = code
  }
}

export function isFlowgateError (err: unknown, code?: ErrorCode): err is FlowgateError {
  return err instanceof FlowgateError && (code === undefined || err.code === code)
}
