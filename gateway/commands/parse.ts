import { parseArgs } from 'node:util'
import { FlowgateError } from '../errors.js'

export type OptionSpec = Record<string, { type: 'string' | 'boolean', short?: string }>

/** Parses options strictly; a mistake is FG_ERR_USAGE (exit 2). */
export function parseOptions (args: string[], options: OptionSpec, allowPositionals = false): { values: Record<string, string | boolean | undefined>, positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options, allowPositionals, strict: true })
    return { values, positionals }
  } catch (cause) {
    throw new FlowgateError('FG_ERR_USAGE', (cause as Error).message, { cause })
  }
}
