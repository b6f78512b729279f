/** How the dashboard writes numbers, sizes, durations and times. Pure. */

const counts = new Intl.NumberFormat('en')

export function formatCount (n: number): string {
  return counts.format(n)
}

/** "1 event", "12 events". */
export function formatAmount (n: number, noun: string): string {
  return `${formatCount(n)} ${noun}${n === 1 ? '' : 's'}`
}

export function formatBytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let v = n
  let i = 0
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024
    i++
  }
  return i === 0 ? `${n} B` : `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i] ?? ''}`
}

/** 45 s, 12 min 3 s, 5 h 20 min, 3 d 4 h: the two largest units. */
export function formatDuration (seconds: number): string {
  const s = Math.max(0, Math.round(seconds))
  const parts: Array<[number, string]> = [[Math.floor(s / 86400), 'd'], [Math.floor(s / 3600) % 24, 'h'], [Math.floor(s / 60) % 60, 'min'], [s % 60, 's']]
  const first = parts.findIndex(([v]) => v > 0)
  if (first < 0) return '0 s'
  return parts.slice(first, first + 2).filter(([v]) => v > 0).map(([v, u]) => `${v} ${u}`).join(' ')
}

export function formatRate (perSecond: number): string {
  return `${perSecond >= 100 ? Math.round(perSecond) : perSecond >= 10 ? perSecond.toFixed(1) : perSecond.toFixed(2)}/s`
}

/** A time as the operator's clock shows it: the time alone today, with the date otherwise. */
export function formatTime (when: string | number | Date, now: Date = new Date()): string {
  const d = new Date(when)
  if (Number.isNaN(d.getTime())) return String(when)
  const pad = (n: number): string => String(n).padStart(2, '0')
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  const sameDay = d.getFullYear() === now.getFullYear() && d.getMonth() === now.getMonth() && d.getDate() === now.getDate()
  return sameDay ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`
}

/** The bytes of UTF-8 text in base64. */
export function textToBase64 (text: string): string {
  let binary = ''
  for (const b of new TextEncoder().encode(text)) binary += String.fromCharCode(b)
  return btoa(binary)
}

/** At most `max` characters, marked when cut. */
export function excerpt (text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${formatCount(text.length - max)} more characters)`
}
