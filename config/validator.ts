/**
 * The config schema and its validator, as the gateway uses them at run time. Building the schema
 * with TypeBox (config/schema.ts) and compiling it with Ajv are the two most expensive things a
 * start would do (TypeBox alone loads some 260 modules: 0.13 s on a fast x86 core, several times
 * that on a Pi), so `npm run build` does both ahead of time (scripts/build-config-validator.ts):
 * dist/config/config-validator.generated.js holds the schema as plain JSON Schema, Ajv's standalone
 * validator for it and the hash of the schema it was built from. A test checks that the hash is
 * that of config/schema.ts. Where the build step has not run, the schema is built and compiled
 * here on first use instead.
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type { Options, ValidateFunction } from 'ajv'
import { distUrl } from './paths.js'
import type { Config } from './schema.js'

/** The options both ways of compiling use; defaults are filled in by the validator itself. */
export const AJV_OPTIONS: Options = { allErrors: true, useDefaults: true, strict: true, allowUnionTypes: true }
/** The schema keyword that marks a value as a secret (kept out of logs and printed config). */
export const SECRET_KEYWORD = 'secret'
export const GENERATED_FILE = 'config-validator.generated.js'

/** A JSON Schema node, as far as the config loader walks it. */
export interface SchemaNode {
  type?: string
  secret?: boolean
  properties?: Record<string, SchemaNode>
  items?: SchemaNode
  additionalProperties?: boolean | SchemaNode
}

/** Identifies a schema: generated validators carry the hash of the one they were built from. */
export function schemaHash (schema: unknown): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('hex')
}

interface Generated { schemaHash: string, schema: SchemaNode, validate: ValidateFunction<Config> }

async function generated (): Promise<Generated | undefined> {
  try {
    return await import(distUrl(`config/${GENERATED_FILE}`).href) as Generated
  } catch {
    return undefined
  }
}

const ahead = await generated()

/** Whether the schema and validator in use were built ahead of time. */
export const precompiled = ahead !== undefined
/** The hash of the schema the generated validator was built from. */
export const generatedHash = ahead?.schemaHash

/** The config schema as JSON Schema. */
export const configSchema: SchemaNode = ahead?.schema ?? JSON.parse(JSON.stringify((await import('./schema.js')).ConfigSchema)) as SchemaNode

let compiled: ValidateFunction<Config> | undefined

/** The validator: the one built ahead of time, or the schema compiled now (once). */
export function configValidator (): ValidateFunction<Config> {
  if (ahead !== undefined) return ahead.validate
  compiled ??= compileValidator(configSchema)
  return compiled
}

/** Compiles a schema now. */
export function compileValidator (schema: object): ValidateFunction<Config> {
  // loaded only when needed: an installed gateway never loads Ajv's compiler
  const { Ajv } = createRequire(import.meta.url)('ajv') as typeof import('ajv')
  const ajv = new Ajv(AJV_OPTIONS)
  ajv.addKeyword({ keyword: SECRET_KEYWORD, schemaType: 'boolean' })
  return ajv.compile<Config>(schema)
}
