/** MQTT topic filters (`+` one level, `#` the rest) compiled into matchers. [MQTT-4.7] */
import { ConfigValueError } from '../config/index.js'

export type TopicMatcher = (topic: string) => boolean

function compileOne (filter: string, path: string): TopicMatcher {
  const levels = filter.split('/')
  levels.forEach((level, i) => {
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) throw new ConfigValueError(path, `"#" must be a whole level at the end of the filter: ${JSON.stringify(filter)}`)
    if (level.includes('+') && level !== '+') throw new ConfigValueError(path, `"+" must be a whole level: ${JSON.stringify(filter)}`)
  })
  if (filter === '#') return topic => !topic.startsWith('$') // [MQTT-4.7.2-1]
  if (!filter.includes('+') && !filter.includes('#')) return topic => topic === filter
  const multi = levels[levels.length - 1] === '#'
  const fixed = multi ? levels.slice(0, -1) : levels
  const wildFirst = fixed[0] === '+' || multi
  return topic => {
    if (wildFirst && topic.startsWith('$')) return false
    const parts = topic.split('/')
    if (multi ? parts.length < fixed.length : parts.length !== fixed.length) return false
    for (let i = 0; i < fixed.length; i++) {
      const f = fixed[i] as string
      if (f !== '+' && f !== parts[i]) return false
    }
    return true
  }
}

/** A matcher for any of `filters`; errors name `path[i]`. */
export function compileTopicFilters (filters: readonly string[], path = ''): TopicMatcher {
  const matchers = filters.map((f, i) => compileOne(f, `${path}[${i}]`))
  if (matchers.length === 1) return matchers[0] as TopicMatcher
  return topic => matchers.some(m => m(topic))
}
