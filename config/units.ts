/** Sizes and durations are written as strings in the config (`1GiB`, `7d`) and parsed once here. */

const SIZE_UNITS: Record<string, number> = {
  B: 1,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4
}

const DURATION_UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 7 * 86_400_000
}

export const SIZE_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)?$'
export const DURATION_PATTERN = '^[0-9]+(\\.[0-9]+)?\\s*(ms|s|m|h|d|w)$'

const sizeRe = new RegExp(SIZE_PATTERN)
const durationRe = new RegExp(DURATION_PATTERN)

/** `1GiB` -> 1073741824. A bare number is bytes. */
export function parseSize (text: string): number {
  const m = sizeRe.exec(text.trim())
  if (m === null) throw new TypeError(`not a size: ${JSON.stringify(text)}`)
  const unit = SIZE_UNITS[m[2] ?? 'B'] ?? 1
  return Math.floor(Number.parseFloat(text) * unit)
}

/** `7d` -> 604800000 (milliseconds). */
export function parseDuration (text: string): number {
  const m = durationRe.exec(text.trim())
  if (m === null) throw new TypeError(`not a duration: ${JSON.stringify(text)}`)
  const unit = DURATION_UNITS[m[2] ?? 'ms'] ?? 1
  return Math.floor(Number.parseFloat(text) * unit)
}
