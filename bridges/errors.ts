/**
 * Every error code bridges/ owns: the CloudEvents stages' and the CESQL engine's.
 * gateway/errors.ts gathers this table with the other folders'. New bridge codes go here
 * (or in the error module of the stage that raises them, gathered here).
 */
import { CesqlErrorCodes } from './cesql/index.js'
import { CloudEventErrorCodes } from './cloudevents/index.js'
import { SigningErrorCodes } from './signing/index.js'

export const BridgeErrorCodes = Object.freeze({ ...CloudEventErrorCodes, ...CesqlErrorCodes, ...SigningErrorCodes })

export type BridgeErrorCode = keyof typeof BridgeErrorCodes
