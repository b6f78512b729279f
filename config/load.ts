/**
 * Loads the one YAML config file: `${VAR}` substitution from the environment,
 * validation and defaults from the schema, errors that name the key path and line.
 */
import { hostname } from 'node:os'
import type { ErrorObject } from 'ajv'
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml'
import { ConfigError, MAX_ISSUES, type ConfigIssue } from './errors.js'
import { FileRefusedError, readBoundedText } from './read-bounded.js'
import type { Config } from './schema.js'
import { configSchema, configValidator, type SchemaNode } from './validator.js'

/** A config file is a few kilobytes; anything past this is a wrong path or an attack. */
export const MAX_CONFIG_BYTES = 1024 * 1024
/** YAML aliases expanded in one file: a few are handy, a billion laughs is an attack [yaml's default]. */
const MAX_ALIAS_COUNT = 100

export interface LoadedConfig {
  config: Readonly<Config>
  /** Key paths whose values are secrets: marked so in the schema or filled from `${VAR}`. */
  secretPaths: ReadonlySet<string>
  /** The file it came from; undefined for the embedded defaults. */
  file?: string | undefined
  /** The text held no settings (empty, or only comments): every value is a default. */
  empty?: boolean
}

type PathPart = string | number

export function formatPath (parts: readonly PathPart[]): string {
  let out = ''
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`
    else out += out === '' ? p : `.${p}`
  }
  return out
}

function pointerToParts (pointer: string): PathPart[] {
  if (pointer === '') return []
  return pointer.slice(1).split('/').map(s => {
    const key = s.replace(/~1/g, '/').replace(/~0/g, '~')
    return /^[0-9]+$/.test(key) ? Number(key) : key
  })
}

/** Replaces `${NAME}` in every string scalar; `$${` escapes a literal `${`. */
function substituteEnv (doc: Document, env: NodeJS.ProcessEnv, lines: LineCounter, issues: ConfigIssue[], secrets: Set<string>): void {
  const visit = (node: unknown, path: PathPart[]): void => {
    if (isMap(node)) {
      for (const pair of node.items) {
        const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
        visit(pair.value, [...path, key])
      }
    } else if (isSeq(node)) {
      node.items.forEach((item, i) => visit(item, [...path, i]))
    } else if (isScalar(node) && typeof node.value === 'string' && node.value.includes('${')) {
      let used = false
      node.value = node.value.replace(/\$?\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (whole, name: string) => {
        if (whole.startsWith('$$')) return whole.slice(1)
        const value = env[name]
        used = true
        if (value === undefined) {
          issues.push({ path: formatPath(path), line: lineOf(node, lines), message: `environment variable ${name} is not set` })
          return ''
        }
        return value
      })
      if (used) secrets.add(formatPath(path))
    }
  }
  visit(doc.contents, [])
}

/** A key given twice in one mapping, anywhere in the document. */
function findDuplicateKeys (node: unknown, path: PathPart[], lines: LineCounter, issues: ConfigIssue[]): void {
  if (isMap(node)) {
    const keys = new Set<string>()
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key)
      if (keys.has(key)) issues.push({ path: formatPath([...path, key]), line: lineOf(pair.key as Node, lines), message: 'duplicate key' })
      keys.add(key)
      if (isMap(pair.value) || isSeq(pair.value)) findDuplicateKeys(pair.value, [...path, key], lines, issues)
    }
  } else if (isSeq(node)) {
    node.items.forEach((item, i) => { if (isMap(item) || isSeq(item)) findDuplicateKeys(item, [...path, i], lines, issues) })
  }
}

function lineOf (node: Node | null | undefined, lines: LineCounter): number | undefined {
  const start = node?.range?.[0]
  return start === undefined ? undefined : lines.linePos(start).line
}

/** The line of the deepest node of `parts` present in the document. */
function lineOfPath (doc: Document, parts: PathPart[], lines: LineCounter): number | undefined {
  for (let n = parts.length; n >= 0; n--) {
    const node = doc.getIn(parts.slice(0, n), true) as Node | undefined
    if (node !== undefined && node !== null && typeof node === 'object' && 'range' in node) return lineOf(node, lines)
  }
  return undefined
}

function describe (err: ErrorObject): { extra?: PathPart, message: string } {
  const p = err.params as Record<string, unknown>
  switch (err.keyword) {
    case 'additionalProperties':
      return { extra: String(p.additionalProperty), message: 'unknown key' }
    case 'required':
      return { extra: String(p.missingProperty), message: 'is required' }
    case 'enum':
      return { message: `must be one of: ${(p.allowedValues as unknown[]).join(', ')}` }
    case 'pattern': {
      const pattern = String(p.pattern)
      if (pattern.includes('ms|s|m|h|d')) return { message: 'must be a duration such as 500ms, 30s, 5m, 7d' }
      if (pattern.includes('KiB')) return { message: 'must be a size such as 512KiB, 100MB, 1GiB' }
      return { message: `must match ${pattern}` }
    }
    default:
      return { message: err.message ?? 'is invalid' }
  }
}

export interface ParseOptions {
  env?: NodeJS.ProcessEnv
  file?: string
  /** Checks beyond the schema's shape (filters, templates); each issue names its key path. */
  check?: (config: Config) => ConfigIssue[]
}

/** `bridges[0].filters[1].any` -> ['bridges', 0, 'filters', 1, 'any'] */
export function parsePath (path: string): PathPart[] {
  const parts: PathPart[] = []
  for (const m of path.matchAll(/([^.[\]]+)|\[(\d+)\]/g)) {
    if (m[2] !== undefined) parts.push(Number(m[2]))
    else if (m[1] !== undefined) parts.push(m[1])
  }
  return parts
}

/** Parses and validates config text. Throws ConfigError listing every problem. */
export function parseConfig (text: string, opts: ParseOptions = {}): LoadedConfig {
  const lines = new LineCounter()
  // duplicate keys are found below, in one pass: yaml's uniqueKeys compares every key of a map with
  // every other, and a file of many keys took minutes
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: false })
  const issues: ConfigIssue[] = []
  for (const e of doc.errors) {
    issues.push({ path: '', line: lines.linePos(e.pos[0]).line, message: `YAML syntax: ${e.message.split('\n')[0] ?? ''}` })
  }
  if (issues.length === 0) findDuplicateKeys(doc.contents, [], lines, issues)
  if (issues.length > 0) throw new ConfigError(issues, opts.file)

  const secrets = new Set<string>()
  substituteEnv(doc, opts.env ?? process.env, lines, issues, secrets)
  if (issues.length > 0) throw new ConfigError(issues, opts.file)

  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) ?? {}
  } catch (err) {
    // yaml refuses to expand aliases past the count (a ReferenceError); nothing else throws here
    if (!(err instanceof ReferenceError)) throw err
    throw new ConfigError([{ path: '', message: `YAML aliases expand too far (more than ${MAX_ALIAS_COUNT} aliased nodes): ${err.message}` }], opts.file)
  }
  fillHostDefaults(value)
  const validate = configValidator()
  if (validate(value)) {
    const extra = opts.check?.(value) ?? []
    if (extra.length > 0) {
      for (const issue of extra) issues.push({ ...issue, line: issue.line ?? lineOfPath(doc, parsePath(issue.path), lines) })
      issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
      throw new ConfigError(issues, opts.file)
    }
    collectSchemaSecrets(configSchema, value, [], secrets)
    return { config: deepFreeze(value), secretPaths: secrets, file: opts.file, empty: doc.contents === null }
  }
  const seen = new Set<string>()
  let more = 0
  for (const err of validate.errors ?? []) {
    const parts = pointerToParts(err.instancePath)
    const { extra, message } = describe(err)
    if (extra !== undefined) parts.push(extra)
    const path = formatPath(parts)
    const key = `${path}\0${message}`
    if (seen.has(key)) continue
    seen.add(key)
    // finding a line walks the document: only for the problems reported, or a file of thousands of
    // unknown keys takes minutes
    if (issues.length < MAX_ISSUES) issues.push({ path, line: lineOfPath(doc, parts, lines), message })
    else more++
  }
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
  throw new ConfigError(issues, opts.file, { more })
}

/** Reads and validates a config file. */
export async function loadConfig (file: string, env: NodeJS.ProcessEnv = process.env, check?: ParseOptions['check']): Promise<LoadedConfig> {
  let text: string
  try {
    text = await readBoundedText(file, MAX_CONFIG_BYTES)
  } catch (cause) {
    const why = cause instanceof FileRefusedError ? `${cause.reason}; a config file is a regular file of at most 1 MiB` : (cause as NodeJS.ErrnoException).code ?? 'unknown error'
    throw new ConfigError([{ path: '', message: `cannot read config file (${why})` }], file, { code: 'FG_ERR_CONFIG_READ', cause })
  }
  return parseConfig(text, { env, file, ...(check !== undefined ? { check } : {}) })
}

/** Defaults that depend on the machine, filled before validation so the schema can still require them. */
function fillHostDefaults (value: unknown): void {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return
  const root = value as Record<string, unknown>
  root.gateway ??= {}
  const gateway = root.gateway
  if (gateway !== null && typeof gateway === 'object' && !Array.isArray(gateway)) {
    const g = gateway as Record<string, unknown>
    g.id ??= hostname().replace(/[^A-Za-z0-9._-]/g, '-') || 'flowgate'
  }
}

/** The embedded defaults, used by `flowgate start` without `--config`. */
export function defaultConfig (): LoadedConfig {
  return parseConfig('{}')
}

function collectSchemaSecrets (schema: SchemaNode, value: unknown, path: PathPart[], out: Set<string>): void {
  if (schema.secret === true) {
    out.add(formatPath(path))
    return
  }
  if (value === null || typeof value !== 'object') return
  if (Array.isArray(value)) {
    if (schema.items !== undefined) value.forEach((v, i) => collectSchemaSecrets(schema.items as SchemaNode, v, [...path, i], out))
    return
  }
  const record = value as Record<string, unknown>
  for (const [k, v] of Object.entries(record)) {
    const sub = schema.properties?.[k] ?? (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined)
    if (sub !== undefined) collectSchemaSecrets(sub, v, [...path, k], out)
  }
}

function deepFreeze<T> (value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v)
    Object.freeze(value)
  }
  return value
}
