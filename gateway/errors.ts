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
