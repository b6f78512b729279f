/**
 * LIKE patterns, compiled once into a matcher. [CESQL 3.4.3]:
 * - `%` matches zero or more characters, `_` exactly one character (one Unicode code point, the
 *   same unit LENGTH counts);
 * - `\%` and `\_` match a literal `%` / `_`; a backslash before anything else is a literal
 *   backslash (the spec defines no other escape);
 * - every other character matches itself, case-sensitively.
 */

import { internalize } from './values.js'

export type Matcher = (text: string) => boolean

type Token = { readonly kind: 'lit', readonly text: string } | { readonly kind: 'one' } | { readonly kind: 'any' }

export function tokenizePattern (pattern: string): Token[] {
  const tokens: Token[] = []
  let lit = ''
  const pushLiteral = (): void => {
    if (lit !== '') tokens.push({ kind: 'lit', text: lit })
    lit = ''
  }
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!
    if (c === '\\') {
      const next = pattern[i + 1]
      if (next === '%' || next === '_') {
        lit += next
        i++
      } else {
        lit += c
      }
    } else if (c === '%') {
      pushLiteral()
      // consecutive % are one %
      if (tokens.length === 0 || tokens[tokens.length - 1]!.kind !== 'any') tokens.push({ kind: 'any' })
    } else if (c === '_') {
      pushLiteral()
      tokens.push({ kind: 'one' })
    } else {
      lit += c
    }
  }
  pushLiteral()
  return tokens
}

export type LikeShape =
  | { readonly kind: 'exact' | 'prefix' | 'suffix' | 'contains', readonly text: string }
  | { readonly kind: 'all' }

/** The simple pattern shapes that callers may inline: `abc`, `abc%`, `%abc`, `%abc%`, `%`. */
export function likeShape (pattern: string): LikeShape | undefined {
  const tokens = tokenizePattern(pattern)
  let text = ''
  for (const t of tokens) if (t.kind === 'lit') text = internalize(t.text)
  switch (tokens.map(t => t.kind).join(',')) {
    case '': return { kind: 'exact', text: '' }
    case 'lit': return { kind: 'exact', text }
    case 'lit,any': return { kind: 'prefix', text }
    case 'any,lit': return { kind: 'suffix', text }
    case 'any,lit,any': return { kind: 'contains', text }
    case 'any': return { kind: 'all' }
    default: return undefined
  }
}

export function compileLike (pattern: string): Matcher {
  const tokens = tokenizePattern(pattern)
  if (tokens.some(t => t.kind === 'one')) return generalMatcher(tokens)
  // Only literals and %: split into the literal segments between the % signs.
  const segments: string[] = ['']
  for (const t of tokens) {
    if (t.kind === 'any') segments.push('')
    else if (t.kind === 'lit') segments[segments.length - 1] += t.text
  }
  for (let i = 0; i < segments.length; i++) segments[i] = internalize(segments[i]!)
  if (segments.length === 1) {
    const exact = segments[0]!
    return (s) => s === exact
  }
  const first = segments[0]!
  const last = segments[segments.length - 1]!
  if (segments.length === 2) {
    if (last === '') return first === '' ? () => true : (s) => s.startsWith(first)
    if (first === '') return (s) => s.endsWith(last)
    const min = first.length + last.length
    return (s) => s.length >= min && s.startsWith(first) && s.endsWith(last)
  }
  const middle = segments.slice(1, -1)
  if (segments.length === 3 && first === '' && last === '') {
    const needle = middle[0]!
    return (s) => s.includes(needle)
  }
  const min = segments.reduce((a, seg) => a + seg.length, 0)
  return (s) => {
    if (s.length < min || !s.startsWith(first) || !s.endsWith(last)) return false
    const end = s.length - last.length
    let at = first.length
    for (let i = 0; i < middle.length; i++) {
      const seg = middle[i]!
      const found = s.indexOf(seg, at)
      if (found < 0 || found + seg.length > end) return false
      at = found + seg.length
    }
    return true
  }
}

/**
 * Wildcard matching with single-star backtracking: linear for patterns with one `%`, O(n*m) in the
 * worst case, no allocation. `_` steps over a whole surrogate pair.
 */
function generalMatcher (tokens: readonly Token[]): Matcher {
  const n = tokens.length
  const kinds = tokens.map(t => t.kind === 'lit' ? 0 : t.kind === 'one' ? 1 : 2)
  const texts = tokens.map(t => t.kind === 'lit' ? t.text : '')
  return (s) => {
    const len = s.length
    let ti = 0
    let pi = 0
    let starPi = -1
    let starTi = 0
    while (ti < len) {
      if (pi < n) {
        const k = kinds[pi]!
        if (k === 2) {
          starPi = pi++
          starTi = ti
          continue
        }
        if (k === 1) {
          ti += codePointWidth(s, ti)
          pi++
          continue
        }
        const lit = texts[pi]!
        if (s.startsWith(lit, ti)) {
          ti += lit.length
          pi++
          continue
        }
      }
      if (starPi < 0) return false
      pi = starPi + 1
      starTi += codePointWidth(s, starTi)
      ti = starTi
    }
    while (pi < n && kinds[pi] === 2) pi++
    return pi === n
  }
}

function codePointWidth (s: string, i: number): number {
  const c = s.charCodeAt(i)
  if (c >= 0xd800 && c <= 0xdbff) {
    const d = s.charCodeAt(i + 1)
    if (d >= 0xdc00 && d <= 0xdfff) return 2
  }
  return 1
}
