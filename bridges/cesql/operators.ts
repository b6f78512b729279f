/**
 * Operator semantics on already-evaluated values. [CESQL 3.4.2] Integer operators work on 32-bit
 * signed values; the spec only spells out overflow for ABS ([CESQL 3.5.2]: MathError, result
 * clamped to the range). We apply the same rule to every Integer operator: a result outside the
 * range is a MathError and the value is clamped (2147483647 + 1 gives 2147483647 and a MathError).
 */
import type { ArithmeticOp, ComparisonOp } from './ast.js'
import { cesqlError } from './errors.js'
import { type CesqlValue, type EvalSlot, INT_MAX, INT_MIN, castTo, fail, toInt, typeOfValue } from './values.js'

const DIVISION_BY_ZERO = cesqlError('math', 'division by zero')
const MODULO_BY_ZERO = cesqlError('math', 'modulo by zero')

function overflow (a: number, op: string, b: number, exact: number, slot: EvalSlot): number {
  fail(slot, cesqlError('math', `integer overflow: ${a} ${op} ${b} is outside the 32-bit signed range`))
  return exact > 0 ? INT_MAX : INT_MIN
}

export function negate (a: number, slot: EvalSlot): number {
  if (a === INT_MIN) {
    fail(slot, cesqlError('math', 'integer overflow: -(-2147483648) is outside the 32-bit signed range'))
    return INT_MAX
  }
  return a === 0 ? 0 : -a
}

export function arithmetic (op: ArithmeticOp, a: number, b: number, slot: EvalSlot): number {
  let r: number
  switch (op) {
    case '+': r = a + b; break
    case '-': r = a - b; break
    case '*': r = a * b; break // |a*b| < 2^62: exact enough to detect overflow, exact when in range
    case '/':
      // [CESQL 3.4.2] rounded towards 0; 0 and a MathError when y = 0
      if (b === 0) { fail(slot, DIVISION_BY_ZERO); return 0 }
      r = Math.trunc(a / b)
      break
    case '%':
      // [CESQL 3.4.2] the result has the sign of x, as JS % does; 0 and a MathError when y = 0
      if (b === 0) { fail(slot, MODULO_BY_ZERO); return 0 }
      return (a % b) | 0 // | 0 also turns -0 into 0
  }
  if (r > INT_MAX || r < INT_MIN) return overflow(a, op, b, r, slot)
  return r | 0
}

/**
 * [CESQL 3.7] `=`, `!=` and `<>` are ambiguous (defined for all three types): the right operand's
 * type selects the definition and the left operand is cast to it. `<`, `<=`, `>`, `>=` are
 * Integer only. Returns false, with the cast error recorded, when a cast fails.
 */
export function compare (op: ComparisonOp, a: CesqlValue, b: CesqlValue, slot: EvalSlot): boolean {
  if (op === '=' || op === '!=' || op === '<>') {
    const left = typeof a === typeof b ? a : castTo(a, typeOfValue(b), slot)
    if (slot.error !== null) return false
    return (left === b) === (op === '=')
  }
  const x = toInt(a, slot)
  const y = toInt(b, slot)
  if (slot.error !== null) return false
  switch (op) {
    case '<': return x < y
    case '<=': return x <= y
    case '>': return x > y
    default: return x >= y
  }
}
