/**
 * Errors of config/: a configuration file that cannot be read or is invalid. Each carries a
 * stable code; callers match `code`, never the message. gateway/errors.ts gathers these codes
 * into the one table. A leaf: it imports nothing.
 */

export const ConfigErrorCodes = {
  FG_ERR_CONFIG_INVALID: 'the configuration file is invalid',
  FG_ERR_CONFIG_READ: 'the configuration file cannot be read'
} as const

export type ConfigErrorCode = keyof typeof ConfigErrorCodes

export interface ConfigIssue {
  /** Dotted key path, `storage.retention.maxAge`, `broker.listeners[0].port`; empty for the whole file. */
  path: string
  /** 1-based line in the file, when the key is in the file. */
  line?: number | undefined
  message: string
}

/** A configuration that cannot be used: every problem found, each naming its key path (and line). */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode
  readonly issues: ConfigIssue[]

  constructor (issues: ConfigIssue[], file?: string, options?: { code?: ConfigErrorCode, cause?: unknown }) {
    const where = file ?? 'config'
    const lines = issues.map(i => `${where}${i.line !== undefined ? `:${i.line}` : ''}: ${i.path === '' ? '' : i.path + ': '}${i.message}`)
    super(lines.join('\n'), options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ConfigError'
    this.code = options?.code ?? 'FG_ERR_CONFIG_INVALID'
    this.issues = issues
  }
}
