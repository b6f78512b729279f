/**
 * CloudEvents SQL (CESQL) v1.0.0: parse once, evaluate per event. Pure: no I/O, no clock.
 *
 *   const expr = compile("type LIKE 'com.example.%' AND INT(sequence) > 100")
 *   if (!expr.ok) throw new Error(expr.message)          // ParseError, with position
 *   expr.evaluate(event)  // => { value: true, error: null }
 *   expr.matches(event)   // => true: Boolean true and no error, the filter rule of [CESQL 1.2]
 *
 * Spec: https://github.com/cloudevents/spec/blob/main/cesql/spec.md (tag cesql@v1.0.0).
 * Decisions where the spec is silent or ambiguous are listed in NOTES.md beside this file.
 */
import { compileNode } from './compiler.js'
import { type CesqlError, type ParseError, ParseFailure } from './errors.js'
import type { CesqlEvent } from './event.js'
import { parse } from './parser.js'
import type { CesqlValue, EvalSlot, StaticType } from './values.js'

export { CESQL_ERROR_CODES, CesqlErrorCodes, type CesqlError, type CesqlErrorCode, type CesqlErrorKind, type ParseError, type SourcePosition } from './errors.js'
export type { CesqlEvent } from './event.js'
export { MAX_DEPTH } from './parser.js'
export { INT_MAX, INT_MIN, type CesqlType, type CesqlValue, type StaticType } from './values.js'

export interface EvaluationResult {
  /** Always a CESQL value, also when `error` is set (then usually the zero value). */
  readonly value: CesqlValue
  /** The first error raised during the evaluation, or null. */
  readonly error: CesqlError | null
}

export interface CompiledExpression {
  readonly ok: true
  /** The source text. */
  readonly expression: string
  /** The type of the result when known before evaluation ('Any' for a bare attribute). */
  readonly type: StaticType
  /** Evaluates against one event; allocates only the returned object. */
  evaluate (event: CesqlEvent): EvaluationResult
  /** True when the result is Boolean true without error: whether the event passes a filter. */
  matches (event: CesqlEvent): boolean
}

const TRUE_RESULT: EvaluationResult = Object.freeze({ value: true, error: null })
const FALSE_RESULT: EvaluationResult = Object.freeze({ value: false, error: null })

/** Parses and compiles `expression`; returns the ParseError (`ok: false`) instead of throwing. */
export function compile (expression: string): CompiledExpression | ParseError {
  if (typeof expression !== 'string') throw new TypeError('CESQL expression must be a string')
  let root
  try {
    root = compileNode(parse(expression))
  } catch (err) {
    if (err instanceof ParseFailure) return err.error
    throw err
  }
  const fn = root.fn
  // Evaluation is synchronous, and events are plain data (no getters calling back into the
  // engine), so an expression is never re-entered and one slot per expression is enough.
  const scratch: EvalSlot = { value: false, error: null }
  return Object.freeze({
    ok: true as const,
    expression,
    type: root.type,
    evaluate (event: CesqlEvent): EvaluationResult {
      scratch.error = null
      const value = fn(event, scratch)
      const error = scratch.error
      if (error === null) {
        // Shared frozen results for the common outcomes of filters: no allocation.
        if (value === true) return TRUE_RESULT
        if (value === false) return FALSE_RESULT
        return { value, error: null }
      }
      scratch.error = null
      return { value, error }
    },
    matches (event: CesqlEvent): boolean {
      scratch.error = null
      const passed = fn(event, scratch) === true && scratch.error === null
      scratch.error = null
      return passed
    }
  })
}

/** Compiles and evaluates in one go; a parse error comes back as `{ value: false, error }`. */
export function evaluate (expression: string, event: CesqlEvent): EvaluationResult {
  const compiled = compile(expression)
  if (!compiled.ok) return { value: false, error: compiled }
  return compiled.evaluate(event)
}
