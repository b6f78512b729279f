/** MQTT topic filters (MQTT 3.1.1 section 4.7), for the live tail's filter. Pure. */

/** Why `filter` is not a valid MQTT topic filter, or undefined when it is. */
export function filterProblem (filter: string): string | undefined {
  if (filter === '') return 'a topic filter cannot be empty'
  const levels = filter.split('/')
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i] ?? ''
    // [MQTT-4.7.1-2] '#' alone in its level and last; [MQTT-4.7.1-3] '+' alone in its level
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return "'#' must be a whole level and the last one"
    if (level.includes('+') && level !== '+') return "'+' must be a whole level"
  }
  return undefined
}

/** Whether `topic` matches `filter`. Wildcards at the first level do not match topics starting with '$' [MQTT-4.7.2-1]. */
export function topicMatches (filter: string, topic: string): boolean {
  if (topic.startsWith('$') && (filter.startsWith('+') || filter.startsWith('#'))) return false
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i++) {
    const level = f[i]
    if (level === '#') return true
    if (i >= t.length) return false
    if (level !== '+' && level !== t[i]) return false
  }
  return f.length === t.length
}
