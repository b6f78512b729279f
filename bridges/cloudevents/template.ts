/**
 * Attribute templates: `com.example.{kind}`, `/sites/kitchen/{deviceid}`. Compiled once into
 * literal parts and value slots; rendering is a loop of string concatenations.
 */
import { ConfigValueError } from '../../config/index.js'

/** What a template can refer to when it is rendered. */
export interface TemplateContext {
  /** Values of the topic pattern's `{name}` levels, in pattern order (undefined: no match). */
  caps: readonly string[] | undefined
  topic: string
  clientid: string
}

export interface Template {
  /** True when the template refers to a topic-pattern name (so it needs a matching topic). */
  readonly usesPattern: boolean
  render (ctx: TemplateContext): string
}

/** Slot numbers >= 0 index TemplateContext.caps; these negative ones name built-ins. */
const TOPIC = -1
const CLIENTID = -2

export interface TemplateScope {
  /** Names of the topic pattern's `{name}` levels. */
  patternNames: readonly string[]
  /** Value of `{gatewayid}`, fixed at compile time. */
  gatewayId: string
  /** Applied to every substituted value (e.g. URI percent-encoding for `source`). */
  encode?: ((value: string) => string) | undefined
}

export const BUILTIN_NAMES = ['topic', 'clientid', 'gatewayid'] as const

/**
 * Compiles `text`. Throws ConfigValueError (path '') for an empty template, an unbalanced brace or
 * a placeholder that names neither a topic-pattern level nor a built-in.
 */
export function compileTemplate (text: string, scope: TemplateScope): Template {
  if (typeof text !== 'string' || text === '') throw new ConfigValueError('', 'template must be a non-empty string')
  const encode = scope.encode ?? ((v: string) => v)
  const parts: Array<string | number> = []
  let usesPattern = false
  let literal = ''
  let i = 0
  while (i < text.length) {
    const open = text.indexOf('{', i)
    const close = text.indexOf('}', i)
    if (close !== -1 && (open === -1 || close < open)) throw new ConfigValueError('', `template "${text}" has "}" without "{"`)
    if (open === -1) {
      literal += text.slice(i)
      break
    }
    literal += text.slice(i, open)
    if (close === -1) throw new ConfigValueError('', `template "${text}" has "{" without "}"`)
    const name = text.slice(open + 1, close)
    const index = scope.patternNames.indexOf(name)
    if (index !== -1) {
      usesPattern = true
      parts.push(literal, index)
      literal = ''
    } else if (name === 'topic' || name === 'clientid') {
      parts.push(literal, name === 'topic' ? TOPIC : CLIENTID)
      literal = ''
    } else if (name === 'gatewayid') {
      literal += encode(scope.gatewayId)
    } else {
      const known = [...scope.patternNames, ...BUILTIN_NAMES].map(n => `{${n}}`).join(', ')
      throw new ConfigValueError('', `template "${text}" refers to unknown {${name}}; known placeholders: ${known}`)
    }
    i = close + 1
  }
  parts.push(literal)

  if (parts.length === 1) {
    const constant = parts[0] as string
    return { usesPattern, render: () => constant }
  }
  return {
    usesPattern,
    render (ctx: TemplateContext): string {
      let out = parts[0] as string
      for (let p = 1; p < parts.length; p += 2) {
        const slot = parts[p] as number
        const value = slot === TOPIC ? ctx.topic : slot === CLIENTID ? ctx.clientid : ctx.caps?.[slot] ?? ''
        out += encode(value) + (parts[p + 1] as string)
      }
      return out
    }
  }
}
