/**
 * Built-in functions. [CESQL 3.5.1] and [CESQL 3.5.2] are the MUSTs: LENGTH, CONCAT, CONCAT_WS,
 * LOWER, UPPER, TRIM, LEFT, RIGHT, SUBSTRING (2 and 3 arguments) and ABS.
 * The casting functions INT, BOOL and STRING are not in v1's tables but [CESQL 3.7] refers to
 * "the same semantics of INT"/"STRING" and the TCK calls them; IS_INT and IS_BOOL come from the
 * 0.1 draft and sdk-go ("can this value be cast without error").
 *
 * "Character" means Unicode code point throughout (LENGTH('😀') = 1).
 * Functions are resolved by upper-cased name and arity [CESQL 3.5]; a variadic overload is used
 * only when no fixed-arity one matches and there are at least its fixed arguments.
 */
import { type CesqlError, cesqlError } from './errors.js'
import {
  type CesqlType, type CesqlValue, type EvalSlot, type StaticType,
  INT_MAX, INT_MIN, canCastToBool, canCastToInt, fail, toBool, toInt, toStr
} from './values.js'

export interface FunctionDef {
  readonly name: string
  /** Parameter types; `Any` takes the argument as is. */
  readonly params: readonly StaticType[]
  /** Type of each argument past `params`, for a variadic function. */
  readonly variadic?: CesqlType
  readonly returns: CesqlType
  /**
   * Called with already-cast arguments. Reports an error with `fail(slot, ...)` and still returns
   * a value of the return type [CESQL 3.5.3].
   */
  readonly fn: (args: readonly CesqlValue[], slot: EvalSlot) => CesqlValue
}

const ABS_OVERFLOW = cesqlError('math', 'ABS(-2147483648) overflows the 32-bit range; returning 2147483647')

/** Code points in `s`. */
export function codePointLength (s: string): number {
  let n = s.length
  for (let i = 0; i < s.length - 1; i++) {
    const c = s.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = s.charCodeAt(i + 1)
      if (d >= 0xdc00 && d <= 0xdfff) { n--; i++ }
    }
  }
  return n
}

/** UTF-16 index just after `count` code points of `s` read from index `from`. */
function indexAfterCodePoints (s: string, count: number, from = 0): number {
  let i = from
  for (let k = 0; k < count && i < s.length; k++) {
    const c = s.charCodeAt(i)
    const d = s.charCodeAt(i + 1)
    i += c >= 0xd800 && c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff ? 2 : 1
  }
  return i
}

/** Code-point substring [from, to) with 0-based code point indexes. */
function cpSlice (s: string, from: number, to: number): string {
  const start = indexAfterCodePoints(s, from)
  const end = to === Infinity ? s.length : indexAfterCodePoints(s, to - from, start)
  return s.slice(start, end)
}

// [CESQL 3.5.1] TRIM removes "whitespaces (as defined by unicode)": the White_Space property.
// JS String#trim differs (it strips U+FEFF and keeps U+0085), so use the property explicitly.
const TRIM_RE = /^\p{White_Space}+|\p{White_Space}+$/gu

function trim (s: string): string {
  if (s.length === 0) return s
  const a = s.charCodeAt(0)
  const b = s.charCodeAt(s.length - 1)
  // fast path: printable ASCII at both ends
  if (a > 32 && a < 127 && b > 32 && b < 127) return s
  return s.replace(TRIM_RE, '')
}

function leftRight (which: 'LEFT' | 'RIGHT') {
  return (args: readonly CesqlValue[], slot: EvalSlot): CesqlValue => {
    const x = args[0] as string
    const y = args[1] as number
    if (y < 0) {
      fail(slot, cesqlError('functionEvaluation', `${which}: the length argument is negative (${y})`))
      return x
    }
    if (x.length <= y) return x
    const len = codePointLength(x)
    if (len <= y) return x
    return which === 'LEFT' ? cpSlice(x, 0, y) : cpSlice(x, len - y, Infinity)
  }
}

function substring (args: readonly CesqlValue[], slot: EvalSlot): CesqlValue {
  const x = args[0] as string
  const pos = args[1] as number
  const count = args.length > 2 ? args[2] as number : Infinity
  if (count < 0) {
    fail(slot, cesqlError('functionEvaluation', `SUBSTRING: the length argument is negative (${count})`))
    return ''
  }
  if (pos === 0) return ''
  const len = codePointLength(x)
  if (pos > len || pos < -len) {
    fail(slot, cesqlError('functionEvaluation', `SUBSTRING: position ${pos} is outside a string of length ${len}`))
    return ''
  }
  const begin = pos < 0 ? len + pos : pos - 1
  return cpSlice(x, begin, count === Infinity ? Infinity : Math.min(len, begin + count))
}

const BUILTINS: readonly FunctionDef[] = [
  { name: 'LENGTH', params: ['String'], returns: 'Integer', fn: (a) => codePointLength(a[0] as string) },
  { name: 'CONCAT', params: [], variadic: 'String', returns: 'String', fn: (a) => a.join('') },
  {
    name: 'CONCAT_WS',
    params: ['String'],
    variadic: 'String',
    returns: 'String',
    fn: (a) => a.length <= 1 ? '' : a.slice(1).join(a[0] as string)
  },
  { name: 'LOWER', params: ['String'], returns: 'String', fn: (a) => (a[0] as string).toLowerCase() },
  { name: 'UPPER', params: ['String'], returns: 'String', fn: (a) => (a[0] as string).toUpperCase() },
  { name: 'TRIM', params: ['String'], returns: 'String', fn: (a) => trim(a[0] as string) },
  { name: 'LEFT', params: ['String', 'Integer'], returns: 'String', fn: leftRight('LEFT') },
  { name: 'RIGHT', params: ['String', 'Integer'], returns: 'String', fn: leftRight('RIGHT') },
  { name: 'SUBSTRING', params: ['String', 'Integer'], returns: 'String', fn: substring },
  { name: 'SUBSTRING', params: ['String', 'Integer', 'Integer'], returns: 'String', fn: substring },
  {
    name: 'ABS',
    params: ['Integer'],
    returns: 'Integer',
    fn: (a, slot) => {
      const x = a[0] as number
      // [CESQL 3.5.2] ABS(-2147483648) returns 2147483647 and a MathError.
      if (x === INT_MIN) {
        fail(slot, ABS_OVERFLOW)
        return INT_MAX
      }
      return x < 0 ? -x : x
    }
  },
  { name: 'INT', params: ['Any'], returns: 'Integer', fn: (a, slot) => toInt(a[0]!, slot) },
  { name: 'BOOL', params: ['Any'], returns: 'Boolean', fn: (a, slot) => toBool(a[0]!, slot) },
  { name: 'STRING', params: ['Any'], returns: 'String', fn: (a) => toStr(a[0]!) },
  { name: 'IS_INT', params: ['Any'], returns: 'Boolean', fn: (a) => canCastToInt(a[0]!) },
  { name: 'IS_BOOL', params: ['Any'], returns: 'Boolean', fn: (a) => canCastToBool(a[0]!) }
]

interface Overloads {
  readonly fixed: Map<number, FunctionDef>
  variadic?: FunctionDef
}

const TABLE = new Map<string, Overloads>()
for (const def of BUILTINS) {
  let entry = TABLE.get(def.name)
  if (entry === undefined) {
    entry = { fixed: new Map() }
    TABLE.set(def.name, entry)
  }
  if (def.variadic !== undefined) entry.variadic = def
  else entry.fixed.set(def.params.length, def)
}

export function resolveFunction (name: string, arity: number): FunctionDef | undefined {
  const entry = TABLE.get(name.toUpperCase())
  if (entry === undefined) return undefined
  const fixed = entry.fixed.get(arity)
  if (fixed !== undefined) return fixed
  const v = entry.variadic
  return v !== undefined && arity >= v.params.length ? v : undefined
}

export function missingFunctionError (name: string, arity: number): CesqlError {
  const known = TABLE.get(name.toUpperCase())
  const detail = known === undefined ? 'no such function' : 'no overload takes that many arguments'
  return cesqlError('missingFunction', `${name.toUpperCase()} with ${arity} argument${arity === 1 ? '' : 's'}: ${detail}`)
}
