/**
 * Responses that return events are bounded in bytes as well as in count: a
 * log of large events must not make one request hold hundreds of megabytes.
 * Items are read a few at a time and serialised once, as they are added; the
 * page stops before the item that would take it past its byte budget. One
 * item is always returned, so a page can exceed the budget by one item that
 * is larger than the budget on its own.
 */

const COMMA = Buffer.from(',')

export interface Page<T> {
  /** The items as JSON, in pieces, commas between items included. */
  parts: Buffer[]
  /** Items in the page. */
  count: number
  /** The last item returned. */
  last: T | undefined
  /** Bytes of `parts`. */
  bytes: number
  /** The page stopped at the byte budget, with items left. */
  truncated: boolean
  /** The source has no items after the last one returned. */
  exhausted: boolean
}

/**
 * Reads items with `read(n)` (the next up to n items after those read so far) until `limit` items
 * or `maxBytes` of JSON. The first read takes a few items; later reads as many as the budget left
 * holds at the average size seen, so small items come in large reads and large ones in small reads.
 */
export async function readPage<T> (read: (n: number) => Promise<T[]>, serialize: (item: T) => Buffer[], opts: { limit: number, maxBytes: number }): Promise<Page<T>> {
  const page: Page<T> = { parts: [], count: 0, last: undefined, bytes: 0, truncated: false, exhausted: false }
  let want = Math.min(opts.limit, 8)
  while (page.count < opts.limit) {
    const items = await read(want)
    for (const item of items) {
      const pieces = serialize(item)
      let size = page.count > 0 ? 1 : 0
      for (const p of pieces) size += p.length
      if (page.count > 0 && page.bytes + size > opts.maxBytes) {
        page.truncated = true
        return page
      }
      if (page.count > 0) page.parts.push(COMMA)
      page.parts.push(...pieces)
      page.count++
      page.last = item
      page.bytes += size
    }
    if (items.length < want) {
      page.exhausted = true
      return page
    }
    const average = page.bytes / page.count
    want = Math.max(1, Math.min(opts.limit - page.count, 1000, Math.floor((opts.maxBytes - page.bytes) / average) + 1))
  }
  return page
}

/** `fields`, then `key` holding the page's items, as one JSON object. */
export function pageJson (fields: Record<string, unknown>, key: string, page: Page<unknown>): Buffer {
  const head = JSON.stringify(fields)
  return Buffer.concat([Buffer.from(`${head.slice(0, -1)}${head === '{}' ? '' : ','}${JSON.stringify(key)}:[`), ...page.parts, Buffer.from(']}')])
}
