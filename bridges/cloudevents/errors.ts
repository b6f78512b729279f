/**
 * Errors raised by the pure bridge stages (CloudEvents mapping and codecs, filters).
 *
 * Callers match `code`, never the message. A stage's configuration error is config/'s
 * ConfigValueError (`FG_ERR_CONFIG_INVALID`), so the CLI treats it as any bad config (exit code 2).
 * This module is a leaf: it imports nothing, so every bridge stage can use it.
 */

export const CloudEventErrorCodes = {
  FG_ERR_CE_INVALID: 'a message is not a valid CloudEvent or CloudEvents HTTP request',
  FG_ERR_CE_ENCODE: 'an event cannot be encoded in the requested format'
} as const

export type CloudEventErrorCode = keyof typeof CloudEventErrorCodes

/** A message that is not a valid CloudEvent, or an event that cannot be encoded. */
export class CloudEventError extends Error {
  readonly code: CloudEventErrorCode
  /** The attribute, header or member the problem is about, when there is one. */
  readonly attribute: string | undefined

  constructor (code: CloudEventErrorCode, message: string, attribute?: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'CloudEventError'
    this.code = code
    this.attribute = attribute
  }
}

export function invalid (message: string, attribute?: string, cause?: unknown): CloudEventError {
  return new CloudEventError('FG_ERR_CE_INVALID', message, attribute, cause === undefined ? undefined : { cause })
}
