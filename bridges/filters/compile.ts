/**
 * CloudEvents Subscriptions API filter dialects [SUB 3.2.4]: exact, prefix, suffix, all, any,
 * not, and sql through a hook (the CESQL engine lives elsewhere). A filter list is compiled
 * once into a predicate over mapped CloudEvents; a list is ANDed.
 * https://github.com/cloudevents/spec/blob/main/subscriptions/spec.md#324-filters
 */
import { ConfigValueError } from '../../config/index.js'
import { attributeGetter, attributeNameProblem, type AttributeGetter, type CloudEvent } from '../cloudevents/index.js'

export type EventPredicate = (event: CloudEvent) => boolean

/** Compiles a CESQL expression; throws (any error) when the expression is invalid. */
export type SqlCompiler = (expression: string) => EventPredicate

export interface CompileFiltersOptions {
  /** Engine for `sql` filters; without it a `sql` filter is a configuration error. */
  sql?: SqlCompiler | undefined
}

export const FILTER_DIALECTS = ['exact', 'prefix', 'suffix', 'all', 'any', 'not', 'sql'] as const
export type FilterDialect = typeof FILTER_DIALECTS[number]

const ALWAYS: EventPredicate = () => true

function isPlainObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function describe (v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`
}

type Compare = (actual: string, expected: string) => boolean
const COMPARE: Record<'exact' | 'prefix' | 'suffix', Compare> = {
  exact: (a, e) => a === e,
  prefix: (a, e) => a.startsWith(e),
  suffix: (a, e) => a.endsWith(e)
}

/**
 * [SUB 3.2.4.1.1] exact / prefix / suffix: every named attribute must be present and its
 * canonical string must equal / start with / end with the value (case-sensitive). A missing
 * attribute does not match. Names and values must be non-empty strings.
 */
function compileMatch (dialect: 'exact' | 'prefix' | 'suffix', spec: unknown, path: string): EventPredicate {
  if (!isPlainObject(spec)) throw new ConfigValueError(path, `${dialect} takes an object of attribute: value, got ${describe(spec)}`)
  const names = Object.keys(spec)
  if (names.length === 0) throw new ConfigValueError(path, `${dialect} must name at least one attribute`)
  const getters: AttributeGetter[] = []
  const values: string[] = []
  for (const name of names) {
    const bad = attributeNameProblem(name)
    if (bad !== undefined) throw new ConfigValueError(path, bad)
    const value = spec[name]
    if (typeof value !== 'string' || value === '') {
      throw new ConfigValueError(`${path}.${name}`, `must be a non-empty string (attribute values compare as strings; quote numbers and booleans in YAML), got ${describe(value)}`)
    }
    getters.push(attributeGetter(name))
    values.push(value)
  }
  const compare = COMPARE[dialect]
  if (getters.length === 1) {
    const get = getters[0] as AttributeGetter
    const expected = values[0] as string
    return event => {
      const actual = get(event)
      return actual !== undefined && compare(actual, expected)
    }
  }
  return event => {
    for (let i = 0; i < getters.length; i++) {
      const actual = (getters[i] as AttributeGetter)(event)
      if (actual === undefined || !compare(actual, values[i] as string)) return false
    }
    return true
  }
}

function compileList (dialect: 'all' | 'any', list: unknown, path: string, options: CompileFiltersOptions): EventPredicate {
  if (!Array.isArray(list)) throw new ConfigValueError(path, `${dialect} takes a list of filters, got ${describe(list)}`)
  // [SUB 3.2.4.1.1] there MUST be at least one filter expression in the array.
  if (list.length === 0) throw new ConfigValueError(path, `${dialect} needs at least one filter`)
  const preds = list.map((f, i) => compileFilter(f, options, `${path}[${i}]`))
  if (preds.length === 1) return preds[0] as EventPredicate
  return dialect === 'all'
    ? event => { for (const p of preds) if (!p(event)) return false; return true }
    : event => { for (const p of preds) if (p(event)) return true; return false }
}

/** [SUB 3.2.4.1.2] sql: true only when the expression yields TRUE; errors and non-booleans are false. */
function compileSql (expression: unknown, path: string, options: CompileFiltersOptions): EventPredicate {
  if (typeof expression !== 'string' || expression.trim() === '') throw new ConfigValueError(path, `sql takes a CESQL expression string, got ${describe(expression)}`)
  if (options.sql === undefined) throw new ConfigValueError(path, 'sql filters need a CESQL engine and none is configured')
  let fn: EventPredicate
  try {
    fn = options.sql(expression)
  } catch (err) {
    throw new ConfigValueError(path, `invalid CESQL expression: ${err instanceof Error ? err.message : String(err)}`, { cause: err })
  }
  return event => {
    try {
      return fn(event) === true
    } catch {
      return false
    }
  }
}

/**
 * Compiles one filter object (exactly one dialect key). `path` is where the filter sits,
 * used in ConfigValueError paths: `[1]`, `[1].any[0]`, `[0].not`.
 */
export function compileFilter (filter: unknown, options: CompileFiltersOptions = {}, path = ''): EventPredicate {
  if (!isPlainObject(filter)) throw new ConfigValueError(path, `a filter is an object with one dialect key (${FILTER_DIALECTS.join(', ')}), got ${describe(filter)}`)
  const keys = Object.keys(filter)
  if (keys.length !== 1) {
    throw new ConfigValueError(path, keys.length === 0
      ? `a filter needs one dialect key (${FILTER_DIALECTS.join(', ')})`
      : `a filter has exactly one dialect, found ${keys.length}: ${keys.join(', ')}`)
  }
  const dialect = keys[0] as string
  const spec = filter[dialect]
  const at = `${path === '' ? '' : path + '.'}${dialect}`
  switch (dialect) {
    case 'exact': case 'prefix': case 'suffix':
      return compileMatch(dialect, spec, at)
    case 'all': case 'any':
      return compileList(dialect, spec, at, options)
    case 'not': {
      const inner = compileFilter(spec, options, at)
      return event => !inner(event)
    }
    case 'sql':
      return compileSql(spec, at, options)
    default:
      // [SUB 3.2.4] an unsupported dialect MUST be rejected.
      throw new ConfigValueError(path, `unknown filter dialect "${dialect}"; supported: ${FILTER_DIALECTS.join(', ')}`)
  }
}

/**
 * Compiles a bridge's `filters` list into one predicate: every filter must match (AND).
 * An absent or empty list matches every event. Throws ConfigValueError whose `path` is relative
 * to the list (`[1].any[0]`); prefix it with the list's key path via `err.atPath(...)`.
 */
export function compileFilters (filters: unknown, options: CompileFiltersOptions = {}): EventPredicate {
  if (filters === undefined || filters === null) return ALWAYS
  if (!Array.isArray(filters)) throw new ConfigValueError('', `filters must be a list of filters, got ${describe(filters)}`)
  const preds = filters.map((f, i) => compileFilter(f, options, `[${i}]`))
  if (preds.length === 0) return ALWAYS
  if (preds.length === 1) return preds[0] as EventPredicate
  return event => {
    for (const p of preds) if (!p(event)) return false
    return true
  }
}
