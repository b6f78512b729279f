/**
 * CESQL error model. [CESQL 3.3] lists the error types every engine MUST support; each kind here
 * carries a stable code so callers match codes (or kinds), never messages.
 *
 * Evaluation errors are plain frozen objects, not thrown `Error`s: an evaluation always yields a
 * value plus at most one error (the first one raised, see [CESQL 4.1] "fail fast mode").
 */

export type CesqlErrorKind =
  | 'parse'
  | 'math'
  | 'cast'
  | 'missingAttribute'
  | 'missingFunction'
  | 'functionEvaluation'
  | 'generic'

export const CESQL_ERROR_CODES = Object.freeze({
  parse: 'FG_ERR_CESQL_PARSE',
  math: 'FG_ERR_CESQL_MATH',
  cast: 'FG_ERR_CESQL_CAST',
  missingAttribute: 'FG_ERR_CESQL_MISSING_ATTRIBUTE',
  missingFunction: 'FG_ERR_CESQL_MISSING_FUNCTION',
  functionEvaluation: 'FG_ERR_CESQL_FUNCTION_EVALUATION',
  generic: 'FG_ERR_CESQL_GENERIC'
} as const)

export type CesqlErrorCode = typeof CESQL_ERROR_CODES[CesqlErrorKind]

/** What each code means, for the one table of codes (gateway/errors.ts) and the README. */
export const CesqlErrorCodes: Readonly<Record<CesqlErrorCode, string>> = Object.freeze({
  FG_ERR_CESQL_PARSE: 'a CESQL expression does not parse',
  FG_ERR_CESQL_MATH: 'CESQL evaluation: division by zero or 32-bit integer overflow',
  FG_ERR_CESQL_CAST: 'CESQL evaluation: a value cannot be cast to the type needed',
  FG_ERR_CESQL_MISSING_ATTRIBUTE: 'CESQL evaluation: the event has no such attribute',
  FG_ERR_CESQL_MISSING_FUNCTION: 'CESQL: no function of that name and arity',
  FG_ERR_CESQL_FUNCTION_EVALUATION: 'CESQL evaluation: a function rejected its arguments',
  FG_ERR_CESQL_GENERIC: 'CESQL evaluation: any other error'
})

export interface CesqlError {
  readonly kind: CesqlErrorKind
  readonly code: CesqlErrorCode
  readonly message: string
}

/** Where in the expression a parse error was found. */
export interface SourcePosition {
  /** 0-based index into the expression string (UTF-16 code units, as JS indexes strings). */
  readonly offset: number
  /** 1-based line; `\n`, `\r\n` and `\r` end a line. */
  readonly line: number
  /** 1-based column, counted in Unicode code points from the start of the line. */
  readonly column: number
}

/**
 * The result of a failed `compile()`. `ok: false` makes it the failing half of the
 * `CompiledExpression | ParseError` union.
 */
export interface ParseError extends CesqlError {
  readonly ok: false
  readonly kind: 'parse'
  readonly code: 'FG_ERR_CESQL_PARSE'
  readonly position: SourcePosition
}

export function cesqlError (kind: Exclude<CesqlErrorKind, 'parse'>, message: string): CesqlError {
  return Object.freeze({ kind, code: CESQL_ERROR_CODES[kind], message })
}

export function positionAt (source: string, offset: number): SourcePosition {
  let line = 1
  let lineStart = 0
  for (let i = 0; i < offset; i++) {
    const c = source.charCodeAt(i)
    if (c === 10 || (c === 13 && source.charCodeAt(i + 1) !== 10)) {
      line++
      lineStart = i + 1
    }
  }
  let column = 1
  for (let i = lineStart; i < offset; i++) {
    const c = source.charCodeAt(i)
    // A surrogate pair is one code point: count only its first half.
    if (!(c >= 0xdc00 && c <= 0xdfff && i > lineStart && isHighSurrogate(source.charCodeAt(i - 1)))) column++
  }
  return Object.freeze({ offset, line, column })
}

function isHighSurrogate (c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff
}

export function parseError (source: string, offset: number, message: string): ParseError {
  return Object.freeze({
    ok: false as const,
    kind: 'parse' as const,
    code: CESQL_ERROR_CODES.parse,
    message,
    position: positionAt(source, offset)
  })
}

/** Thrown inside the parser only; `compile()` catches it and returns the ParseError. */
export class ParseFailure extends Error {
  constructor (readonly error: ParseError) {
    super(error.message)
    this.name = 'ParseFailure'
  }
}
