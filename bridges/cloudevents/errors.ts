/**
 * Errors raised by the pure bridge stages (CloudEvents mapping and codecs, filters).
 *
 * Callers match `code`, never the message. A stage's configuration error carries
 * `FG_ERR_CONFIG_INVALID`, the code config/ owns, so the CLI treats both alike (exit code 2).
 * This module is a leaf: it imports nothing, so every bridge stage can use it.
 */

export const CloudEventErrorCodes = {
  FG_ERR_CE_INVALID: 'a message is not a valid CloudEvent or CloudEvents HTTP request',
  FG_ERR_CE_ENCODE: 'an event cannot be encoded in the requested format'
} as const

export type CloudEventErrorCode = keyof typeof CloudEventErrorCodes

/**
 * A configuration value a bridge stage cannot compile. `path` is relative to the value the
 * stage was given (`topicPattern`, `[1].any[0]`, or '' for the value itself); the config
 * loader prefixes the key path of that value with `atPath()`.
 */
export class ConfigError extends Error {
  readonly code = 'FG_ERR_CONFIG_INVALID' as const
  /** Relative key path, `type`, `[1].any[0]`, `[0].exact.subject`; '' for the value itself. */
  readonly path: string
  /** The problem without the path, e.g. `unknown filter dialect "regex"`. */
  readonly detail: string

  constructor (path: string, detail: string, options?: { cause?: unknown }) {
    super(path === '' ? detail : `${path}: ${detail}`, options)
    this.name = 'ConfigError'
    this.path = path
    this.detail = detail
  }

  /** The same error with `prefix` (the key path of the compiled value) in front of its path. */
  atPath (prefix: string): ConfigError {
    return new ConfigError(joinPath(prefix, this.path), this.detail, { cause: this.cause })
  }
}

/** Joins key paths: `bridges[0].filters` + `[1].any[0]`, `bridges[0].event` + `type`. */
export function joinPath (prefix: string, path: string): string {
  if (prefix === '') return path
  if (path === '') return prefix
  return path.startsWith('[') ? prefix + path : `${prefix}.${path}`
}

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
