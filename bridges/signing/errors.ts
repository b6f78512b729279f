/**
 * Errors of event signing and verification. A leaf module: imports nothing.
 */

export const SigningErrorCodes = {
  FG_ERR_SIGNING_KEY: 'a signing or verification key cannot be read or is not an ECDSA P-256 key',
  FG_ERR_VERIFY_FAILED: 'an event does not verify against its dssematerial (flowgate verify exits 1)'
} as const

export type SigningErrorCode = keyof typeof SigningErrorCodes

export class SigningError extends Error {
  readonly code: SigningErrorCode

  constructor (code: SigningErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'SigningError'
    this.code = code
  }
}
