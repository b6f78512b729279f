/**
 * Syntax tree -> closures. Each closure evaluates one sub-expression against an event and reports
 * errors into a shared slot; nothing is allocated on the success path.
 *
 * Error rules ([CESQL 3.3], fail fast mode of [CESQL 4.1]):
 * - operands are evaluated left to right; an operand that raised an error stops the operator,
 *   which returns the zero value of its own return type (false, 0 or ''), so only the first error
 *   of an evaluation is reported (the slot keeps it);
 * - AND and OR short-circuit [CESQL 3.6]: the right operand is not evaluated when the left decides;
 * - a function that raises an error itself still returns the value it chose (LEFT('abc', -2) is
 *   'abc' with a FunctionEvaluationError, ABS(-2147483648) is 2147483647 with a MathError).
 *
 * Every closure returns the zero value of its static type when it has recorded an error, and
 * callers check `slot.error` right after each operand.
 */
import type { ArithmeticOp, ComparisonOp, LogicOp, Node } from './ast.js'
import { cesqlError } from './errors.js'
import { type CesqlEvent, NOT_ATTRIBUTES, REQUIRED_ATTRIBUTES, coerceAttribute, hasAttribute } from './event.js'
import { type FunctionDef, missingFunctionError, resolveFunction } from './functions.js'
import { compileLike, likeShape } from './like.js'
import { arithmetic, compare, negate } from './operators.js'
import {
  type CesqlType, type CesqlValue, type EvalSlot, type StaticType,
  castTo, fail, internalize, parseInt32, toBool, toInt, toStr, typeOfValue, zeroValue
} from './values.js'

export type Fn = (ev: CesqlEvent, slot: EvalSlot) => CesqlValue
type BoolFn = (ev: CesqlEvent, slot: EvalSlot) => boolean
type IntFn = (ev: CesqlEvent, slot: EvalSlot) => number
type StrFn = (ev: CesqlEvent, slot: EvalSlot) => string

export interface Compiled {
  readonly fn: Fn
  readonly type: StaticType
  /** Set for literals: the value is known at compile time. */
  readonly constant?: CesqlValue
  /**
   * Set when the node just reads one attribute, as is (`cast` absent) or through INT(): parents
   * then read the attribute inline for the common types and fall back to `fn` for the rest
   * (missing attribute, coercions, cast errors), which keeps the hot path to a single closure.
   */
  readonly attribute?: { readonly name: string, readonly cast?: 'Integer' }
}

export function compileNode (node: Node): Compiled {
  switch (node.type) {
    case 'literal': {
      const v = typeof node.value === 'string' ? internalize(node.value) : node.value
      return { fn: () => v, type: typeOfValue(v), constant: v }
    }
    case 'identifier': return compileIdentifier(node.name)
    case 'exists': return compileExists(node.name)
    case 'not': {
      const b = asBool(compileNode(node.operand))
      return { type: 'Boolean', fn: (ev, s) => { const v = b(ev, s); return s.error === null && !v } }
    }
    case 'negate': {
      const i = asInt(compileNode(node.operand))
      return { type: 'Integer', fn: (ev, s) => { const v = i(ev, s); return s.error === null ? negate(v, s) : 0 } }
    }
    case 'like': return compileLikeNode(compileNode(node.operand), node.pattern, node.negated)
    case 'in': return compileIn(compileNode(node.operand), node.set.map(compileNode), node.negated)
    case 'call': return compileCall(node.name, node.args.map(compileNode))
    case 'arithmetic': return compileArithmetic(node.operands.map(compileNode), node.ops)
    case 'comparison': return compileComparison(node.operands.map(compileNode), node.ops)
    case 'logic': return compileLogic(node.operands.map(compileNode), node.ops)
  }
}

// ---- implicit casts [CESQL 3.7] -------------------------------------------------------------

export function asBool (c: Compiled): BoolFn {
  const f = c.fn
  if (c.type === 'Boolean') return f as BoolFn
  return (ev, s) => { const v = f(ev, s); return s.error === null && toBool(v, s) }
}

export function asInt (c: Compiled): IntFn {
  const f = c.fn
  if (c.type === 'Integer') return f as IntFn
  return (ev, s) => { const v = f(ev, s); return s.error === null ? toInt(v, s) : 0 }
}

export function asStr (c: Compiled): StrFn {
  const f = c.fn
  if (c.type === 'String') return f as StrFn
  return (ev, s) => { const v = f(ev, s); return s.error === null ? toStr(v) : '' }
}

function asType (c: Compiled, t: StaticType): Fn {
  return t === 'Boolean' ? asBool(c) : t === 'Integer' ? asInt(c) : t === 'String' ? asStr(c) : c.fn
}

// ---- attributes -----------------------------------------------------------------------------

function compileIdentifier (name: string): Compiled {
  // [CESQL 3.2] a missing attribute: MissingAttributeError, and the zero value of the enclosing
  // sub-expression; on its own it is `false` (type unknown, so Boolean).
  const missing = cesqlError('missingAttribute', `attribute ${JSON.stringify(name)} is not present in the event`)
  if (NOT_ATTRIBUTES.has(name)) return { type: 'Any', fn: (_ev, s) => { fail(s, missing); return false } }
  return {
    type: 'Any',
    attribute: { name },
    fn: (ev, s) => {
      const v = ev[name]
      if (typeof v === 'string' || typeof v === 'boolean') return v
      if (typeof v === 'number' && (v | 0) === v) return v | 0
      const c = coerceAttribute(ev, name, v)
      if (c !== undefined) return c
      fail(s, missing)
      return false
    }
  }
}

function compileExists (name: string): Compiled {
  if (REQUIRED_ATTRIBUTES.has(name)) return { type: 'Boolean', fn: () => true, constant: true }
  if (NOT_ATTRIBUTES.has(name)) return { type: 'Boolean', fn: () => false, constant: false }
  return { type: 'Boolean', fn: (ev) => hasAttribute(ev, name) }
}

// ---- LIKE and IN ----------------------------------------------------------------------------

function compileLikeNode (operand: Compiled, pattern: string, negated: boolean): Compiled {
  const match = compileLike(pattern)
  const f = operand.fn
  // [CESQL 3.4.3] a non-String left operand is cast to String (that cast cannot fail).
  const fn: BoolFn = negated
    ? (ev, s) => { const v = f(ev, s); return s.error === null && !match(typeof v === 'string' ? v : toStr(v)) }
    : (ev, s) => { const v = f(ev, s); return s.error === null && match(typeof v === 'string' ? v : toStr(v)) }
  const attr = operand.attribute
  if (attr === undefined || attr.cast !== undefined) return { type: 'Boolean', fn }
  return { type: 'Boolean', fn: likeAttribute(attr.name, pattern, negated, match, fn) }
}

/** `attr [NOT] LIKE pattern`: strings are matched inline, simple shapes without a matcher call. */
function likeAttribute (name: string, pattern: string, negated: boolean, match: (s: string) => boolean, slow: BoolFn): BoolFn {
  const shape = likeShape(pattern)
  if (shape === undefined || shape.kind === 'all') {
    return (ev, s) => { const v = ev[name]; return typeof v === 'string' ? match(v) !== negated : slow(ev, s) }
  }
  const t = shape.text
  switch (shape.kind) {
    case 'exact': return (ev, s) => { const v = ev[name]; return typeof v === 'string' ? (v === t) !== negated : slow(ev, s) }
    case 'prefix': return (ev, s) => { const v = ev[name]; return typeof v === 'string' ? v.startsWith(t) !== negated : slow(ev, s) }
    case 'suffix': return (ev, s) => { const v = ev[name]; return typeof v === 'string' ? v.endsWith(t) !== negated : slow(ev, s) }
    case 'contains': return (ev, s) => { const v = ev[name]; return typeof v === 'string' ? v.includes(t) !== negated : slow(ev, s) }
  }
}

/**
 * [CESQL 3.4.5] `x IN (y1, ...)`: `=` semantics with x's type as the target type of the casts.
 * Elements are evaluated left to right and the search stops at the first match, like a chain of
 * ORed equalities: an element after the match is not evaluated, and a cast or attribute error in
 * an element before it makes the result false with that error.
 */
function compileIn (left: Compiled, set: readonly Compiled[], negated: boolean): Compiled {
  const lf = left.fn
  if (set.every(c => c.constant !== undefined)) {
    const lookup = precomputeSet(set.map(c => c.constant!))
    return {
      type: 'Boolean',
      fn: (ev, s) => {
        const v = lf(ev, s)
        if (s.error !== null) return false
        const entry = lookup[typeOfValue(v)]
        if (entry.values.has(v)) return !negated
        if (entry.failure !== null) { fail(s, entry.failure); return false }
        return negated
      }
    }
  }
  const items = set.map(c => c.fn)
  return {
    type: 'Boolean',
    fn: (ev, s) => {
      const v = lf(ev, s)
      if (s.error !== null) return false
      const t = typeOfValue(v)
      for (let i = 0; i < items.length; i++) {
        const w = items[i]!(ev, s)
        if (s.error !== null) return false
        const c = typeof w === typeof v ? w : castTo(w, t, s)
        if (s.error !== null) return false
        if (c === v) return !negated
      }
      return negated
    }
  }
}

interface SetLookup {
  /** The elements cast to the target type, up to the first one that cannot be cast. */
  readonly values: ReadonlySet<CesqlValue>
  readonly failure: EvalSlot['error']
}

function precomputeSet (items: readonly CesqlValue[]): Record<CesqlType, SetLookup> {
  const build = (t: CesqlType): SetLookup => {
    const values = new Set<CesqlValue>()
    const slot: EvalSlot = { value: false, error: null }
    for (const item of items) {
      const c = castTo(item, t, slot)
      if (slot.error !== null) break
      values.add(c)
    }
    return { values, failure: slot.error }
  }
  return { Boolean: build('Boolean'), Integer: build('Integer'), String: build('String') }
}

// ---- function calls [CESQL 3.5] -------------------------------------------------------------

function compileCall (name: string, args: readonly Compiled[]): Compiled {
  const def = resolveFunction(name, args.length)
  if (def === undefined) {
    // [CESQL 3.5] "When a function invocation cannot be dispatched, the return value is false,
    // and a MissingFunctionError is also returned."
    const err = missingFunctionError(name, args.length)
    return { type: 'Boolean', fn: (_ev, s) => { fail(s, err); return false } }
  }
  // The casting functions are the implicit casts themselves: no argument array needed.
  if (def.name === 'INT') {
    const arg = args[0]!
    const attribute = arg.attribute !== undefined ? { name: arg.attribute.name, cast: 'Integer' as const } : undefined
    return { type: 'Integer', fn: asInt(arg), ...(attribute !== undefined ? { attribute } : {}) }
  }
  if (def.name === 'BOOL') return { type: 'Boolean', fn: asBool(args[0]!) }
  if (def.name === 'STRING') return { type: 'String', fn: asStr(args[0]!) }
  return { type: def.returns, fn: callFn(def, args) }
}

function callFn (def: FunctionDef, args: readonly Compiled[]): Fn {
  // [CESQL 3.7] arguments are cast to the parameter types.
  const fns = args.map((a, i) => asType(a, def.params[i] ?? def.variadic ?? 'Any'))
  const zero = zeroValue(def.returns)
  const impl = def.fn
  const n = fns.length
  // Reused between evaluations: evaluation is synchronous and a call node cannot re-enter itself.
  const buf: CesqlValue[] = new Array<CesqlValue>(n).fill(false)
  if (n === 1) {
    const a0 = fns[0]!
    return (ev, s) => {
      const v = a0(ev, s)
      if (s.error !== null) return zero
      buf[0] = v
      return impl(buf, s)
    }
  }
  return (ev, s) => {
    for (let i = 0; i < n; i++) {
      const v = fns[i]!(ev, s)
      if (s.error !== null) return zero
      buf[i] = v
    }
    return impl(buf, s)
  }
}

// ---- binary operator chains -----------------------------------------------------------------

function compileArithmetic (operands: readonly Compiled[], ops: readonly ArithmeticOp[]): Compiled {
  const fns = operands.map(asInt)
  if (fns.length === 2) {
    const a = fns[0]!
    const b = fns[1]!
    const op = ops[0]!
    const k = operands[1]!.constant
    const probe: EvalSlot = { value: false, error: null }
    const kb = k === undefined ? 0 : toInt(k, probe)
    if (k !== undefined && probe.error === null) {
      return { type: 'Integer', fn: (ev, s) => { const x = a(ev, s); return s.error === null ? arithmetic(op, x, kb, s) : 0 } }
    }
    return {
      type: 'Integer',
      fn: (ev, s) => {
        const x = a(ev, s)
        if (s.error !== null) return 0
        const y = b(ev, s)
        return s.error === null ? arithmetic(op, x, y, s) : 0
      }
    }
  }
  return {
    type: 'Integer',
    fn: (ev, s) => {
      let acc = fns[0]!(ev, s)
      if (s.error !== null) return 0
      for (let i = 1; i < fns.length; i++) {
        const y = fns[i]!(ev, s)
        if (s.error !== null) return 0
        acc = arithmetic(ops[i - 1]!, acc, y, s)
        if (s.error !== null) return 0
      }
      return acc
    }
  }
}

function compileComparison (operands: readonly Compiled[], ops: readonly ComparisonOp[]): Compiled {
  const first = compareTwo(operands[0]!, ops[0]!, operands[1]!)
  if (operands.length === 2) return { type: 'Boolean', fn: first }
  // `a < b = c ...`: past the first step the left side is a Boolean, whose casts cannot fail.
  const fns = operands.map(c => c.fn)
  return {
    type: 'Boolean',
    fn: (ev, s) => {
      let acc: CesqlValue = first(ev, s)
      if (s.error !== null) return false
      for (let i = 2; i < fns.length; i++) {
        const y = fns[i]!(ev, s)
        if (s.error !== null) return false
        acc = compare(ops[i - 1]!, acc, y, s)
        if (s.error !== null) return false
      }
      return acc
    }
  }
}

function compareTwo (left: Compiled, op: ComparisonOp, right: Compiled): BoolFn {
  const lf = left.fn
  const k = right.constant
  const equality = op === '=' || op === '!=' || op === '<>'
  const eq = op === '='
  if (k !== undefined && equality) {
    // The right operand's type is known: cast the left one to it (a literal has no side effects,
    // so casting before "evaluating" it changes nothing).
    if (typeof k === 'string') {
      const slow: BoolFn = (ev, s) => {
        const v = lf(ev, s)
        if (s.error !== null) return false
        return ((typeof v === 'string' ? v : toStr(v)) === k) === eq
      }
      const attr = left.attribute
      if (attr === undefined || attr.cast !== undefined) return slow
      const name = attr.name
      return (ev, s) => {
        const v = ev[name]
        return typeof v === 'string' ? (v === k) === eq : slow(ev, s)
      }
    }
    const target = typeOfValue(k)
    const cast = asType(left, target)
    const slow: BoolFn = (ev, s) => { const v = cast(ev, s); return s.error === null && (v === k) === eq }
    if (typeof k === 'number' && left.attribute !== undefined) return intAttributeCompare(left.attribute.name, op, k, slow)
    return slow
  }
  if (k !== undefined) {
    const probe: EvalSlot = { value: false, error: null }
    const ki = toInt(k, probe)
    if (probe.error !== null) {
      // `x < 'abc'`: x is evaluated and cast first (its errors come first), then 'abc' fails.
      return (ev, s) => {
        const v = lf(ev, s)
        if (s.error === null) toInt(v, s)
        if (s.error === null) toInt(k, s)
        return false
      }
    }
    const li = asInt(left)
    let slow: BoolFn
    switch (op) {
      case '<': slow = (ev, s) => { const v = li(ev, s); return s.error === null && v < ki }; break
      case '<=': slow = (ev, s) => { const v = li(ev, s); return s.error === null && v <= ki }; break
      case '>': slow = (ev, s) => { const v = li(ev, s); return s.error === null && v > ki }; break
      default: slow = (ev, s) => { const v = li(ev, s); return s.error === null && v >= ki }
    }
    return left.attribute !== undefined ? intAttributeCompare(left.attribute.name, op, ki, slow) : slow
  }
  if (!equality) {
    // Integer only: each operand is cast as soon as it is evaluated, as for arithmetic.
    const li = asInt(left)
    const ri = asInt(right)
    return (ev, s) => {
      const a = li(ev, s)
      if (s.error !== null) return false
      const b = ri(ev, s)
      return s.error === null && compare(op, a, b, s)
    }
  }
  const rf = right.fn
  return (ev, s) => {
    const a = lf(ev, s)
    if (s.error !== null) return false
    const b = rf(ev, s)
    if (s.error !== null) return false
    return compare(op, a, b, s)
  }
}

/**
 * AND/OR/XOR chain, right-associative: o0 op0 (o1 op1 (o2 ...)) (see parser.ts). Walking it left
 * to right: an AND whose left side is false, or an OR whose left side is true, decides the rest
 * of the chain; XORs on the way accumulate into `flip`, which is applied to that result.
 */
function compileLogic (operands: readonly Compiled[], ops: readonly LogicOp[]): Compiled {
  const fns = operands.map(asBool)
  const n = fns.length
  const allSame = ops.every(o => o === ops[0])
  if (allSame && ops[0] === 'AND') {
    // a false operand (or one that raised an error, which returns false) ends the chain
    if (n === 2) {
      const [a, b] = fns as [BoolFn, BoolFn]
      return { type: 'Boolean', fn: (ev, s) => a(ev, s) && b(ev, s) }
    }
    if (n === 3) {
      const [a, b, c] = fns as [BoolFn, BoolFn, BoolFn]
      return { type: 'Boolean', fn: (ev, s) => a(ev, s) && b(ev, s) && c(ev, s) }
    }
    return { type: 'Boolean', fn: (ev, s) => { for (let i = 0; i < n; i++) if (!fns[i]!(ev, s)) return false; return true } }
  }
  if (allSame && ops[0] === 'OR') {
    if (n === 2) {
      const [a, b] = fns as [BoolFn, BoolFn]
      return { type: 'Boolean', fn: (ev, s) => { const v = a(ev, s); return s.error === null && (v || b(ev, s)) } }
    }
    return {
      type: 'Boolean',
      fn: (ev, s) => {
        for (let i = 0; i < n; i++) {
          const v = fns[i]!(ev, s)
          if (s.error !== null) return false
          if (v) return true
        }
        return false
      }
    }
  }
  const codes = ops.map(o => o === 'AND' ? 0 : o === 'OR' ? 1 : 2)
  return {
    type: 'Boolean',
    fn: (ev, s) => {
      let flip = false
      for (let i = 0; i < n; i++) {
        const v = fns[i]!(ev, s)
        if (s.error !== null) return false
        if (i === n - 1) return v !== flip
        const code = codes[i]!
        if (code === 0) {
          if (!v) return flip
        } else if (code === 1) {
          if (v) return !flip
        } else {
          flip = flip !== v
        }
      }
      return flip // not reached: the loop returns at its last operand
    }
  }
}

/**
 * `attr OP k` (or `INT(attr) OP k`) with an Integer constant k, where the attribute is cast to
 * Integer: reads a native int32 or a decimal string inline; anything else (missing attribute,
 * booleans, strings that are no integer) goes to `slow`, which raises the errors.
 */
function intAttributeCompare (name: string, op: ComparisonOp, k: number, slow: BoolFn): BoolFn {
  const read = (v: unknown): number => {
    if (typeof v === 'string') return parseInt32(v)
    return typeof v === 'number' && (v | 0) === v ? v : NaN
  }
  switch (op) {
    case '<': return (ev, s) => { const n = read(ev[name]); return n === n ? n < k : slow(ev, s) }
    case '<=': return (ev, s) => { const n = read(ev[name]); return n === n ? n <= k : slow(ev, s) }
    case '>': return (ev, s) => { const n = read(ev[name]); return n === n ? n > k : slow(ev, s) }
    case '>=': return (ev, s) => { const n = read(ev[name]); return n === n ? n >= k : slow(ev, s) }
    case '=': return (ev, s) => { const n = read(ev[name]); return n === n ? n === k : slow(ev, s) }
    default: return (ev, s) => { const n = read(ev[name]); return n === n ? n !== k : slow(ev, s) }
  }
}
