/**
 * Topic patterns: `devices/{deviceid}/{kind}`. Each `/`-separated level of the pattern is a
 * literal, `+` (any one level, MQTT style) or `{name}` (any one non-empty level, captured).
 * Compiled once; matching walks the topic with indexOf, no regex and no split per call.
 */
import { ConfigValueError } from '../../config/index.js'

const enum Kind { Literal, Any, Capture }

interface Level {
  kind: Kind
  /** Literal text for Kind.Literal. */
  text: string
}

export interface TopicPattern {
  /** Names of the `{name}` levels, in order. */
  readonly names: readonly string[]
  /** The captured levels, in the order of `names`, or undefined when `topic` does not match. */
  match (topic: string): string[] | undefined
}

/**
 * Compiles `pattern`. `checkName` returns a problem with a capture name (or undefined).
 * Throws ConfigValueError (path '') naming the level that is wrong.
 */
export function compileTopicPattern (pattern: string, checkName: (name: string) => string | undefined): TopicPattern {
  if (typeof pattern !== 'string' || pattern === '') throw new ConfigValueError('', 'topicPattern must be a non-empty string')
  const levels: Level[] = []
  const names: string[] = []
  for (const part of pattern.split('/')) {
    if (part === '+') {
      levels.push({ kind: Kind.Any, text: '' })
    } else if (part.startsWith('{') && part.endsWith('}') && part.length > 2) {
      const name = part.slice(1, -1)
      const bad = checkName(name)
      if (bad !== undefined) throw new ConfigValueError('', `topicPattern level "${part}": ${bad}`)
      if (names.includes(name)) throw new ConfigValueError('', `topicPattern names {${name}} twice`)
      names.push(name)
      levels.push({ kind: Kind.Capture, text: '' })
    } else if (part === '#') {
      throw new ConfigValueError('', 'topicPattern: "#" is not supported; use "+" for one level or {name} to capture one')
    } else if (/[+#{}]/.test(part)) {
      throw new ConfigValueError('', `topicPattern level "${part}": a level is a literal, "+" or a whole {name}; "+", "#", "{" and "}" cannot be mixed with other text`)
    } else {
      levels.push({ kind: Kind.Literal, text: part })
    }
  }
  const count = names.length

  function match (topic: string): string[] | undefined {
    const caps: string[] = count === 0 ? [] : new Array<string>(count)
    let c = 0
    let pos = 0
    for (let l = 0; l < levels.length; l++) {
      if (l > 0) {
        if (topic.charCodeAt(pos) !== 0x2f) return undefined
        pos++
      }
      let end = topic.indexOf('/', pos)
      if (end === -1) end = topic.length
      const level = levels[l] as Level
      if (level.kind === Kind.Literal) {
        if (end - pos !== level.text.length || !topic.startsWith(level.text, pos)) return undefined
      } else if (level.kind === Kind.Capture) {
        if (end === pos) return undefined
        caps[c++] = topic.slice(pos, end)
      }
      pos = end
    }
    return pos === topic.length ? caps : undefined
  }

  return { names, match }
}
