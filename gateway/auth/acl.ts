/**
 * Access rules: which topics a client may publish to and subscribe within.
 * Rules are read in order and the first whose filter matches decides: allow,
 * or refuse when the rule says `deny`. When none matches, a list with any
 * allow rule refuses (an allowlist); a list of deny rules only allows (a
 * blocklist). No rules: everything is allowed.
 *
 * A subscription matches a rule when it lies within one of the rule's filters.
 * One that only overlaps a deny filter (`#` beside a denied `secret/#`) is
 * not refused, but messages on the denied topics are not delivered to it.
 *
 * `%u` (user name) and `%c` (client id) are substituted once per connection.
 * A substituted value is only ever a literal inside one topic level: a value
 * that is empty, starts with `$` or holds `/`, `+`, `#` or NUL would change the
 * filter's shape. An allow filter that needs such a value is dropped for that
 * client; in a deny filter the level becomes `+`, so it denies that level for
 * every value. Either way the client gets less, never more.
 */

export interface AclRuleConfig {
  user?: string | undefined
  /** Refuse what the rule's filters match instead of allowing it. */
  deny?: boolean | undefined
  publish: readonly string[]
  subscribe: readonly string[]
}

export interface Identity {
  /** The verified user name (password or client certificate); undefined for anonymous clients. */
  user?: string | undefined
  clientId: string
}

/** What one connected client may do. */
export interface ClientAcl {
  canPublish (topic: string): boolean
  canSubscribe (filter: string): boolean
  /** Whether a message on `topic` may be delivered to the client; only deny rules can say no. */
  canReceive (topic: string): boolean
  /** False when canReceive is always true (no deny rule with subscribe filters applies). */
  readonly filtersDeliveries: boolean
}

const ALLOW_ALL: ClientAcl = Object.freeze({ canPublish: () => true, canSubscribe: () => true, canReceive: () => true, filtersDeliveries: false })

/** Why `filter` is not a valid MQTT topic filter [MQTT-4.7.1]; undefined when it is. */
export function filterProblem (filter: string): string | undefined {
  if (filter.length === 0) return 'a topic filter cannot be empty'
  if (filter.includes('\u0000')) return 'a topic filter cannot contain NUL'
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] as string
    if (level === '#' && i !== levels.length - 1) return '`#` must be the last level of a topic filter'
    if (level !== '#' && level !== '+' && (level.includes('#') || level.includes('+'))) return '`+` and `#` must stand alone in a topic level'
  }
  return undefined
}

/** A substituted value that cannot change a filter's shape. */
function safeValue (value: string | undefined): value is string {
  return value !== undefined && value !== '' && !value.startsWith('$') && !/[/+#]/.test(value) && !value.includes('\u0000')
}

/** `filter` with `%u`/`%c` replaced in one pass, or undefined when a value is not safe. */
export function substitute (filter: string, id: Identity): string | undefined {
  let ok = true
  const out = filter.replace(/%[uc]/g, m => {
    const value = m === '%u' ? id.user : id.clientId
    if (!safeValue(value)) {
      ok = false
      return ''
    }
    return value
  })
  return ok ? out : undefined
}

/** `filter` with every level that holds `%u` or `%c` made `+`: what a deny filter becomes when a value is not safe. */
function widen (filter: string): string {
  return filter.split('/').map(level => /%[uc]/.test(level) ? '+' : level).join('/')
}

interface ClientRule {
  deny: boolean
  publish: string[][]
  subscribe: string[][]
}

/** The first rule with a filter that `test` accepts decides; otherwise `fallback`. */
function decide (rules: readonly ClientRule[], action: 'publish' | 'subscribe', test: (filter: string[]) => boolean, fallback: boolean): boolean {
  for (const rule of rules) {
    if (rule[action].some(test)) return !rule.deny
  }
  return fallback
}

const isWildcard = (level: string | undefined): boolean => level === '+' || level === '#'

/** Does `filter` match the topic name `topic` [MQTT-4.7]? */
export function matches (filter: readonly string[], topic: readonly string[]): boolean {
  // [MQTT-4.7.2-1] a filter starting with a wildcard does not match topics starting with `$`
  if ((topic[0] ?? '').startsWith('$') && isWildcard(filter[0])) return false
  for (let i = 0; i < filter.length; i++) {
    const f = filter[i]
    if (f === '#') return true
    if (i >= topic.length) return false
    if (f !== '+' && f !== topic[i]) return false
  }
  return filter.length === topic.length
}

/** Does `outer` match every topic that `inner` matches (is the subscription `inner` within `outer`)? */
export function covers (outer: readonly string[], inner: readonly string[]): boolean {
  if ((inner[0] ?? '').startsWith('$') && isWildcard(outer[0])) return false
  for (let i = 0; i < outer.length; i++) {
    const o = outer[i]
    if (o === '#') return true
    if (i >= inner.length) return false
    const s = inner[i]
    if (s === '#') return false
    if (o === '+') continue
    if (s !== o) return false // s is `+` (wider than a literal) or another literal
  }
  return outer.length === inner.length
}

export class Acl {
  private readonly rules: readonly AclRuleConfig[]
  /** What no rule matches: refused when any rule allows something (an allowlist), allowed when all deny. */
  private readonly fallback: boolean

  constructor (rules: readonly AclRuleConfig[]) {
    this.rules = rules
    this.fallback = rules.every(r => r.deny === true)
  }

  get enabled (): boolean {
    return this.rules.length > 0
  }

  /** The rules for one client, in order, substituted and split once, at login. */
  forClient (id: Identity): ClientAcl {
    if (this.rules.length === 0) return ALLOW_ALL
    const rules: ClientRule[] = []
    for (const rule of this.rules) {
      if (rule.user !== undefined && rule.user !== id.user) continue
      const deny = rule.deny === true
      const compile = (filters: readonly string[]): string[][] => {
        const out: string[][] = []
        for (const f of filters) {
          const s = substitute(f, id) ?? (deny ? widen(f) : undefined)
          if (s !== undefined) out.push(s.split('/'))
        }
        return out
      }
      rules.push({ deny, publish: compile(rule.publish), subscribe: compile(rule.subscribe) })
    }
    const fallback = this.fallback
    return {
      canPublish (topic) {
        const levels = topic.split('/')
        return decide(rules, 'publish', f => matches(f, levels), fallback)
      },
      canSubscribe (filter) {
        const levels = filter.split('/')
        return decide(rules, 'subscribe', f => covers(f, levels), fallback)
      },
      canReceive (topic) {
        const levels = topic.split('/')
        return decide(rules, 'subscribe', f => matches(f, levels), fallback)
      },
      filtersDeliveries: rules.some(r => r.deny && r.subscribe.length > 0)
    }
  }
}
