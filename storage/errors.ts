/**
 * Operational errors of storage/: the LevelDB and its data directory, the event log and the
 * broker state store. Each carries a stable code; callers match `code`, never the message.
 * gateway/errors.ts gathers these codes into the one table. A leaf: it imports nothing.
 */

export const StorageErrorCodes = {
  FG_ERR_DATA_DIR_LOCKED: 'the data directory is in use by another running gateway',
  FG_ERR_DATA_DIR_ACCESS: 'the data directory cannot be created or written',
  FG_ERR_STORE_CLOSED: 'the event log is closed (the gateway is stopping)',
  FG_ERR_STORE_FULL: 'the event log is full and storage.whenFull is reject-new',
  FG_ERR_STORE_UNAVAILABLE: 'the state store cannot be read for now: its reopen failed (a full or failing disk); a held write\'s retry reopens it',
  FG_ERR_BROKER_STATE_WRITE: 'a broker state write to LevelDB failed; the store refuses further changes',
  FG_ERR_BROKER_STATE_CLOSED: 'the broker state store is closed',
  FG_ERR_BROKER_STATE_CORRUPT: 'a stored broker state value cannot be decoded; the gateway does not start',
  FG_ERR_BROKER_NO_SUCH_PACKET: 'no stored broker packet matches (internal to the broker state store)'
} as const

export type StorageErrorCode = keyof typeof StorageErrorCodes

export class StorageError extends Error {
  readonly code: StorageErrorCode

  constructor (code: StorageErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StorageError'
    this.code = code
  }
}
