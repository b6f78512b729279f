import { stringify } from 'yaml'
import type { LoadedConfig } from './load.js'
import { formatPath } from './load.js'

export const REDACTED = '[redacted]'

/** A deep copy of the config with every secret value replaced by `[redacted]`. */
export function redactConfig (loaded: LoadedConfig): unknown {
  const walk = (value: unknown, path: Array<string | number>): unknown => {
    if (loaded.secretPaths.has(formatPath(path))) return REDACTED
    if (Array.isArray(value)) return value.map((v, i) => walk(v, [...path, i]))
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {}
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, [...path, k])
      return out
    }
    return value
  }
  return walk(loaded.config, [])
}

/** The effective config as YAML, secrets redacted: what `flowgate check-config` prints. */
export function printConfig (loaded: LoadedConfig): string {
  return stringify(redactConfig(loaded))
}
