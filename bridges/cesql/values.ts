/**
 * CESQL values and casts. [CESQL 3.1]: three primitive types, Boolean, Integer (32-bit signed)
 * and String, represented here as JS boolean, number (always an int32, never -0) and string.
 * [CESQL 3.7]: every cast between them is a MUST; the semantics below follow its table.
 */
import { type CesqlError, cesqlError } from './errors.js'

export type CesqlValue = boolean | number | string
export type CesqlType = 'Boolean' | 'Integer' | 'String'
/** Static type of a sub-expression; `Any` when only known at evaluation (attributes). */
export type StaticType = CesqlType | 'Any'

export const INT_MIN = -2147483648
export const INT_MAX = 2147483647

/** The mutable slot one evaluation reports into; the first error raised wins. */
export interface EvalSlot {
  value: CesqlValue
  error: CesqlError | null
}

export function fail (slot: EvalSlot, error: CesqlError): void {
  if (slot.error === null) slot.error = error
}

export function typeOfValue (v: CesqlValue): CesqlType {
  return typeof v === 'string' ? 'String' : typeof v === 'number' ? 'Integer' : 'Boolean'
}

export function zeroValue (t: StaticType): CesqlValue {
  // [CESQL 3.2] when the return type cannot be determined, assume Boolean.
  return t === 'Integer' ? 0 : t === 'String' ? '' : false
}

/** Integer -> String and Boolean -> String never fail. */
export function toStr (v: CesqlValue): string {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : (v ? 'true' : 'false')
}

/**
 * String -> Integer: base 10, optional leading '+' or '-', ASCII digits only, no blanks.
 * Overflow or any other character is a CastError with the value 0.
 * Returns NaN when the string is not an integer so callers can report without allocating.
 */
export function parseInt32 (s: string): number {
  const n = s.length
  if (n === 0) return NaN
  let i = 0
  let neg = false
  const c0 = s.charCodeAt(0)
  if (c0 === 45 /* - */ || c0 === 43 /* + */) {
    neg = c0 === 45
    i = 1
    if (n === 1) return NaN
  }
  let acc = 0
  for (; i < n; i++) {
    const d = s.charCodeAt(i) - 48
    if (d < 0 || d > 9) return NaN
    acc = acc * 10 + d
    if (acc > 2147483648) return NaN
  }
  if (neg) return acc === 0 ? 0 : -acc
  return acc > INT_MAX ? NaN : acc
}

export function toInt (v: CesqlValue, slot: EvalSlot): number {
  if (typeof v === 'number') return v
  if (typeof v === 'boolean') return v ? 1 : 0
  const n = parseInt32(v)
  if (n === n) return n // not NaN
  fail(slot, cesqlError('cast', `cannot cast String ${quote(v)} to Integer`))
  return 0
}

export function toBool (v: CesqlValue, slot: EvalSlot): boolean {
  if (typeof v === 'boolean') return v
  if (typeof v === 'number') return v !== 0
  if (v === 'true') return true
  if (v === 'false') return false
  const lower = v.toLowerCase()
  if (lower === 'true') return true
  if (lower === 'false') return false
  fail(slot, cesqlError('cast', `cannot cast String ${quote(v)} to Boolean`))
  return false
}

export function canCastToInt (v: CesqlValue): boolean {
  return typeof v !== 'string' || parseInt32(v) === parseInt32(v)
}

export function canCastToBool (v: CesqlValue): boolean {
  if (typeof v !== 'string') return true
  const lower = v.toLowerCase()
  return lower === 'true' || lower === 'false'
}

/** Casts `v` to `t`; on failure records a CastError in `slot` and returns the zero value. */
export function castTo (v: CesqlValue, t: CesqlType, slot: EvalSlot): CesqlValue {
  return t === 'String' ? toStr(v) : t === 'Integer' ? toInt(v, slot) : toBool(v, slot)
}

/** A short JSON rendering of a value for error messages (bounded in length). */
export function quote (s: string): string {
  return JSON.stringify(s.length > 64 ? s.slice(0, 61) + '...' : s)
}

/**
 * The internalized copy of `s` (V8 internalizes property keys). Event attribute values parsed
 * from JSON or literals in source are usually internalized too, so `===` against a constant
 * often succeeds on identity instead of comparing characters.
 */
export function internalize (s: string): string {
  return Object.keys({ [s]: 0 })[0] ?? s
}
