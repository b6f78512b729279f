/**
 * CESQL tokenizer. Follows the spec's ANTLR lexer (cesql/CESQLLexer.g4) with two deliberate
 * choices, both documented in NOTES.md:
 * - A sign directly followed by digits is part of the integer literal only where an operand is
 *   expected, so `-2147483648` is one literal [CESQL 2.2] while `5-3` is a subtraction (the ANTLR
 *   lexer would make `5` `-3` and fail).
 * - In a string literal `\<delimiter>` and a doubled delimiter both stand for the delimiter; any
 *   other backslash is kept verbatim (so LIKE escapes such as `\%` reach the pattern intact).
 */
import { ParseFailure, parseError } from './errors.js'
import { INT_MAX, INT_MIN } from './values.js'

export type TokenKind =
  | 'int' | 'string' | 'word' | 'true' | 'false'
  | 'AND' | 'OR' | 'XOR' | 'NOT' | 'LIKE' | 'EXISTS' | 'IN'
  | '(' | ')' | ','
  | '=' | '!=' | '<>' | '<' | '<=' | '>' | '>='
  | '+' | '-' | '*' | '/' | '%'
  | 'eof'

export interface Token {
  readonly kind: TokenKind
  /** Offset of the token's first character in the source. */
  readonly start: number
  /** Raw source text of the token. */
  readonly text: string
  /** Decoded value: the integer for 'int', the string for 'string'. */
  readonly value?: number | string
}

const KEYWORDS: ReadonlyMap<string, TokenKind> = new Map<string, TokenKind>([
  ['AND', 'AND'], ['OR', 'OR'], ['XOR', 'XOR'], ['NOT', 'NOT'], ['LIKE', 'LIKE'],
  ['EXISTS', 'EXISTS'], ['IN', 'IN'], ['TRUE', 'true'], ['FALSE', 'false']
])

/** Token kinds after which an operand is complete, so `-`/`+` is a binary operator. */
const ENDS_OPERAND: ReadonlySet<TokenKind> = new Set<TokenKind>(['int', 'string', 'word', 'true', 'false', ')'])

function isWordChar (c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95
}

function isDigit (c: number): boolean {
  return c >= 48 && c <= 57
}

function isAllDigits (s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!isDigit(s.charCodeAt(i))) return false
  return s.length > 0
}

export function tokenize (src: string): Token[] {
  const tokens: Token[] = []
  const fail = (offset: number, message: string): never => {
    throw new ParseFailure(parseError(src, offset, message))
  }
  const n = src.length
  let i = 0
  while (i < n) {
    const c = src.charCodeAt(i)
    // [CESQLLexer.g4] SPACE: [ \t\r\n]+ -> skip
    if (c === 32 || c === 9 || c === 10 || c === 13) { i++; continue }
    const start = i
    const prev = tokens.length > 0 ? tokens[tokens.length - 1]!.kind : 'eof'
    const operandExpected = !ENDS_OPERAND.has(prev)
    if ((c === 45 || c === 43) && operandExpected && isDigit(src.charCodeAt(i + 1))) {
      let j = i + 1
      while (j < n && isWordChar(src.charCodeAt(j))) j++
      const word = src.slice(i + 1, j)
      if (isAllDigits(word)) {
        tokens.push(intToken(src, start, j, fail))
        i = j
        continue
      }
      // `-1abc`: unary minus applied to the identifier `1abc`
    }
    if (isWordChar(c)) {
      let j = i
      while (j < n && isWordChar(src.charCodeAt(j))) j++
      const text = src.slice(i, j)
      i = j
      if (isAllDigits(text)) { tokens.push(intToken(src, start, j, fail)); continue }
      const kw = KEYWORDS.get(text.toUpperCase())
      tokens.push({ kind: kw ?? 'word', start, text })
      continue
    }
    if (c === 39 || c === 34) { // ' or "
      const { value, end } = readString(src, i, fail)
      tokens.push({ kind: 'string', start, text: src.slice(start, end), value })
      i = end
      continue
    }
    const c2 = src.charCodeAt(i + 1)
    let kind: TokenKind | undefined
    let len = 1
    switch (c) {
      case 40: kind = '('; break
      case 41: kind = ')'; break
      case 44: kind = ','; break
      case 61: kind = '='; break
      case 43: kind = '+'; break
      case 45: kind = '-'; break
      case 42: kind = '*'; break
      case 47: kind = '/'; break
      case 37: kind = '%'; break
      case 33: if (c2 === 61) { kind = '!='; len = 2 } break
      case 60:
        if (c2 === 61) { kind = '<='; len = 2 } else if (c2 === 62) { kind = '<>'; len = 2 } else kind = '<'
        break
      case 62:
        if (c2 === 61) { kind = '>='; len = 2 } else kind = '>'
        break
    }
    if (kind === undefined) {
      const cp = src.codePointAt(i) ?? c
      fail(start, `unexpected character ${JSON.stringify(String.fromCodePoint(cp))}`)
    } else {
      tokens.push({ kind, start, text: src.slice(i, i + len) })
      i += len
    }
  }
  tokens.push({ kind: 'eof', start: n, text: '' })
  return tokens
}

function intToken (src: string, start: number, end: number, fail: (o: number, m: string) => never): Token {
  const text = src.slice(start, end)
  // [CESQL 2.2] "Integer literals MUST be valid 32 bit signed integer values": else a parse error.
  const v = Number(text)
  if (!(v >= INT_MIN && v <= INT_MAX)) fail(start, `integer literal ${text} is outside the 32-bit signed range`)
  return { kind: 'int', start, text, value: v === 0 ? 0 : v }
}

function readString (src: string, start: number, fail: (o: number, m: string) => never): { value: string, end: number } {
  const q = src.charCodeAt(start)
  const quoteChar = String.fromCharCode(q)
  let out = ''
  let runStart = start + 1
  let i = start + 1
  const n = src.length
  while (i < n) {
    const c = src.charCodeAt(i)
    if (c === 92 /* \ */ && i + 1 < n) {
      // [CESQLLexer.g4] '\\'. : a backslash always pairs with the next character.
      if (src.charCodeAt(i + 1) === q) {
        out += src.slice(runStart, i) + quoteChar
        i += 2
        runStart = i
      } else {
        i += 2
      }
      continue
    }
    if (c === q) {
      if (src.charCodeAt(i + 1) === q) { // doubled delimiter, as in SQL: 'it''s'
        out += src.slice(runStart, i) + quoteChar
        i += 2
        runStart = i
        continue
      }
      return { value: out + src.slice(runStart, i), end: i + 1 }
    }
    i++
  }
  return fail(start, 'unterminated string literal')
}
