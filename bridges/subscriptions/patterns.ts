/** The producer's patterns: event types, sink URLs, MQTT topic filters within others. Pure. */

/** A type pattern: exact, or a prefix ending in `*`. */
export function typeAllowed (type: string, patterns: readonly string[]): boolean {
  if (patterns.length === 0) return true
  return patterns.some(p => p.endsWith('*') ? type.startsWith(p.slice(0, -1)) : type === p)
}

const cache = new Map<string, RegExp>()

/** `*` matches within a host name, port or path segment (no `/`, `:`, `@`, `?`, `#`); `**` matches anything. */
function sinkRegExp (pattern: string): RegExp {
  let re = cache.get(pattern)
  if (re === undefined) {
    const body = pattern.split('**').map(part => part.split('*').map(s => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/:@?#]*')).join('.*')
    re = new RegExp(`^${body}$`)
    cache.set(pattern, re)
  }
  return re
}

/** Why `sink` is not a URL the patterns allow, or undefined when one does. The URL is compared as WHATWG URL normalises it. */
export function sinkProblem (sink: string, patterns: readonly string[]): string | undefined {
  let url: URL
  try {
    url = new URL(sink)
  } catch {
    return `sink ${JSON.stringify(sink)} is not a URL`
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return `sink ${JSON.stringify(sink)} is not an http or https URL`
  if (url.username !== '' || url.password !== '') return 'a sink URL must not carry credentials (use sinkcredential)'
  const href = url.href
  if (patterns.some(p => sinkRegExp(p).test(href))) return undefined
  return `sink ${href} is outside the sinks allowed to this consumer (${patterns.join(', ')})`
}

/** True when every topic `inner` matches is matched by `outer` (MQTT filters, `+` and `#`). */
export function filterWithin (inner: string, outer: string): boolean {
  const a = inner.split('/')
  const b = outer.split('/')
  for (let i = 0; i < b.length; i++) {
    const o = b[i] as string
    if (o === '#') return !(a[0]?.startsWith('$') === true && i === 0)
    const x = a[i]
    if (x === undefined) return false
    if (x === '#') return false
    if (o === '+') {
      if (i === 0 && x.startsWith('$')) return false
      continue
    }
    if (x === '+' || x !== o) return false
  }
  return a.length === b.length
}
