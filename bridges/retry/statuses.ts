/**
 * `retry.deadLetterStatuses`: the response statuses that dead-letter an event, as a list of
 * statuses (`413`) and ranges (`"430-499"`). Pure.
 */

export interface StatusSet {
  has: (status: number) => boolean
}

/**
 * 400 and every other 4xx except those that say the bridge is wrong (401, 403, 404, 407, 408,
 * 409, 410, 429). Kept in step with the schema's default (config/schema-bridges.ts).
 */
export const DEFAULT_DEAD_LETTER_STATUSES: ReadonlyArray<number | string> = [400, 402, '405-406', '411-428', '430-499']

/** An entry of a status list that is not a status or range of 400-599; `index` is its place in the list. */
export class StatusListError extends TypeError {
  readonly index: number
  constructor (index: number, message: string) {
    super(message)
    this.name = 'StatusListError'
    this.index = index
  }
}

const ENTRY = /^([0-9]{3})(?:-([0-9]{3}))?$/

/** Compiles a status list; throws a StatusListError for an entry that is not a status or range of 400-599. */
export function statusSet (list: ReadonlyArray<number | string>): StatusSet {
  const ranges: Array<[number, number]> = []
  list.forEach((entry, i) => {
    let lo: number
    let hi: number
    if (typeof entry === 'number') {
      lo = hi = entry
    } else {
      const m = ENTRY.exec(entry.trim())
      if (m === null) throw new StatusListError(i, `${JSON.stringify(entry)} is not a status or a range such as "430-499"`)
      lo = Number(m[1])
      hi = Number(m[2] ?? m[1])
    }
    if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 400 || hi > 599 || lo > hi) {
      throw new StatusListError(i, `${JSON.stringify(entry)} must be a status or a range (low-high) within 400-599`)
    }
    ranges.push([lo, hi])
  })
  const statuses = new Set<number>()
  for (const [lo, hi] of ranges) for (let s = lo; s <= hi; s++) statuses.add(s)
  return { has: status => statuses.has(status) }
}
