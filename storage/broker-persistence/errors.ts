/** Operational errors of the broker state store; their codes are storage/'s (storage/errors.ts). */
import { StorageError, StorageErrorCodes } from '../errors.js'

export type BrokerStateErrorCode = 'FG_ERR_BROKER_STATE_WRITE' | 'FG_ERR_BROKER_STATE_CLOSED' | 'FG_ERR_BROKER_STATE_CORRUPT' | 'FG_ERR_BROKER_NO_SUCH_PACKET'

export const BrokerStateErrorCodes: Readonly<Record<BrokerStateErrorCode, string>> = {
  FG_ERR_BROKER_STATE_WRITE: StorageErrorCodes.FG_ERR_BROKER_STATE_WRITE,
  FG_ERR_BROKER_STATE_CLOSED: StorageErrorCodes.FG_ERR_BROKER_STATE_CLOSED,
  FG_ERR_BROKER_STATE_CORRUPT: StorageErrorCodes.FG_ERR_BROKER_STATE_CORRUPT,
  FG_ERR_BROKER_NO_SUCH_PACKET: StorageErrorCodes.FG_ERR_BROKER_NO_SUCH_PACKET
}

export class BrokerStateError extends StorageError {
  declare readonly code: BrokerStateErrorCode

  constructor (code: BrokerStateErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options)
    this.name = 'BrokerStateError'
  }
}

export function isBrokerStateError (err: unknown, code?: BrokerStateErrorCode): err is BrokerStateError {
  return err instanceof BrokerStateError && (code === undefined || err.code === code)
}
