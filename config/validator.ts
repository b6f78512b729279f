/**
 * The config schema's validator. Compiling the schema with Ajv costs more start-up time than any
 * other module (0.13 s of CPU on a fast x86 core, several times that on a Pi), so `npm run build`
 * compiles it ahead of time into dist/config/config-validator.generated.js
 * (scripts/build-config-validator.ts), stamped with a hash of the schema it was built from. A
 * validator built from another schema, or none (a build that skipped the step), is not used: the
 * schema is then compiled here on first use, as before.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Options, ValidateFunction } from 'ajv'
import { ConfigSchema, type Config } from './schema.js'

/** The options both ways of compiling use; defaults are filled in by the validator itself. */
export const AJV_OPTIONS: Options = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true }
/** The schema keyword that marks a value as a secret (kept out of logs and printed config). */
export const SECRET_KEYWORD = 'secret'
export const GENERATED_FILE = 'config-validator.generated.js'

/** Identifies the schema a generated validator was built from. */
export function schemaHash (): string {
  return createHash('sha256').update(JSON.stringify(ConfigSchema)).digest('hex')
}

interface Generated { schemaHash: string, validate: ValidateFunction<Config> }

let compiled: ValidateFunction<Config> | undefined

async function generated (): Promise<ValidateFunction<Config> | undefined> {
  try {
    const mod = await import(new URL(GENERATED_FILE, import.meta.url).href) as Generated
    return mod.schemaHash === schemaHash() ? mod.validate : undefined
  } catch {
    return undefined
  }
}

const ahead = await generated()

/** Whether the validator in use was compiled at build time. */
export const precompiled = ahead !== undefined

/** The validator: the one built ahead of time, or the schema compiled now (once). */
export function configValidator (): ValidateFunction<Config> {
  if (ahead !== undefined) return ahead
  compiled ??= compileValidator()
  return compiled
}

/** Compiles the schema now. */
export function compileValidator (): ValidateFunction<Config> {
  // loaded only when needed: an installed gateway never loads Ajv's compiler
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv')
  const ajv = new Ajv(AJV_OPTIONS)
  ajv.addKeyword({ keyword: SECRET_KEYWORD, schemaType: 'boolean' })
  return ajv.compile<Config>(ConfigSchema)
}
