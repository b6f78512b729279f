/**
 * Access rules: which topics a client may publish to and subscribe within.
 * No rules: everything is allowed. Any rule: what no rule allows is denied.
 *
 * `%u` (user name) and `%c` (client id) are substituted once per connection.
 * A substituted value is only ever a literal inside one topic level: a value
 * that is empty, starts with `$` or holds `/`, `+`, `#` or NUL would change the
 * filter's shape, so a filter that needs such a value is dropped for that
 * client instead (it can only narrow what the client may do, never widen it).
 */

export interface AclRuleConfig {
  user?: string | undefined
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
}

const ALLOW_ALL: ClientAcl = Object.freeze({ canPublish: () => true, canSubscribe: () => true })

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

  constructor (rules: readonly AclRuleConfig[]) {
    this.rules = rules
  }

  get enabled (): boolean {
    return this.rules.length > 0
  }

  /** The rules for one client, substituted and split once, at login. */
  forClient (id: Identity): ClientAcl {
    if (this.rules.length === 0) return ALLOW_ALL
    const publish: string[][] = []
    const subscribe: string[][] = []
    for (const rule of this.rules) {
      if (rule.user !== undefined && rule.user !== id.user) continue
      for (const f of rule.publish) {
        const s = substitute(f, id)
        if (s !== undefined) publish.push(s.split('/'))
      }
      for (const f of rule.subscribe) {
        const s = substitute(f, id)
        if (s !== undefined) subscribe.push(s.split('/'))
      }
    }
    return {
      canPublish (topic) {
        const levels = topic.split('/')
        return publish.some(f => matches(f, levels))
      },
      canSubscribe (filter) {
        const levels = filter.split('/')
        return subscribe.some(f => covers(f, levels))
      }
    }
  }
}
