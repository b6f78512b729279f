import { Type, type TUnsafe } from '@sinclair/typebox'

/** A closed set of strings, validated as a JSON Schema `enum` (one clear error instead of one per member). */
export function Enum<const T extends readonly string[]> (values: T, options: { default: T[number], description: string }): TUnsafe<T[number]> {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}
