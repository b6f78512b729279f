/**
 * Errors of config/: a configuration file that cannot be read or is invalid. Each carries a
 * stable code; callers match `code`, never the message. gateway/errors.ts gathers these codes
 * into the one table. A leaf: it imports nothing.
 */

export const ConfigErrorCodes = {
  FG_ERR_CONFIG_INVALID: 'the configuration file is invalid',
  FG_ERR_CONFIG_READ: 'the configuration file cannot be read, is not a regular file or is larger than 1 MiB'
} as const

export type ConfigErrorCode = keyof typeof ConfigErrorCodes

export interface ConfigIssue {
  /** Dotted key path, `storage.retention.maxAge`, `broker.listeners[0].port`; empty for the whole file. */
  path: string
  /** 1-based line in the file, when the key is in the file. */
  line?: number | undefined
  message: string
}

/** Problems listed in one error; the rest are counted. */
export const MAX_ISSUES = 20

/**
 * A configuration that cannot be used: the problems found, each naming its key path (and line);
 * past MAX_ISSUES (and the `more` the finder did not list), a count.
 */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode
  readonly issues: ConfigIssue[]

  constructor (issues: ConfigIssue[], file?: string, options?: { code?: ConfigErrorCode, cause?: unknown, more?: number }) {
    const where = file ?? 'config'
    const omitted = (options?.more ?? 0) + Math.max(0, issues.length - MAX_ISSUES)
    const lines = issues.slice(0, MAX_ISSUES).map(i => `${where}${i.line !== undefined ? `:${i.line}` : ''}: ${i.path === '' ? '' : i.path + ': '}${i.message}`)
    if (omitted > 0) lines.push(`${where}: … and ${omitted} more problems`)
    super(lines.join('\n'), options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'ConfigError'
    this.code = options?.code ?? 'FG_ERR_CONFIG_INVALID'
    this.issues = issues
  }
}

/**
 * One configuration value a stage cannot compile (a bridge's filters, templates, topic pattern).
 * `path` is relative to the value the stage was given (`topicPattern`, `[1].any[0]`, or '' for
 * the value itself); whoever gave it the value prefixes that value's key path with `atPath()`.
 */
export class ConfigValueError extends ConfigError {
  /** Relative key path, `type`, `[1].any[0]`, `[0].exact.subject`; '' for the value itself. */
  readonly path: string
  /** The problem without the path, e.g. `unknown filter dialect "regex"`. */
  readonly detail: string

  constructor (path: string, detail: string, options?: { cause?: unknown }) {
    super([{ path, message: detail }], undefined, options)
    this.message = path === '' ? detail : `${path}: ${detail}`
    this.name = 'ConfigValueError'
    this.path = path
    this.detail = detail
  }

  /** The same error with `prefix` (the key path of the compiled value) in front of its path. */
  atPath (prefix: string): ConfigValueError {
    return new ConfigValueError(joinPath(prefix, this.path), this.detail, { cause: this.cause })
  }
}

/** Joins key paths: `bridges[0].filters` + `[1].any[0]`, `bridges[0].event` + `type`. */
function joinPath (prefix: string, path: string): string {
  if (prefix === '') return path
  if (path === '') return prefix
  return path.startsWith('[') ? prefix + path : `${prefix}.${path}`
}
