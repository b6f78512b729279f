/**
 * [RFC 9110 10.2.3] Retry-After: delay-seconds or an HTTP-date. The clock is passed in.
 */

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF = /^[A-Za-z]{3}, (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/
/** Obsolete RFC 850: `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850 = /^[A-Za-z]{6,9}, (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/
/** Obsolete asctime: `Sun Nov  6 08:49:37 1994` */
const ASCTIME = /^[A-Za-z]{3} ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/

function utc (year: number, month: string, day: number, h: number, m: number, s: number): number | undefined {
  const mo = MONTHS.indexOf(month.toLowerCase())
  if (mo === -1 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return undefined
  return Date.UTC(year, mo, day, h, m, s)
}

/** An HTTP-date (all three RFC 9110 forms, always UTC) as epoch milliseconds, or undefined. */
export function parseHttpDate (value: string): number | undefined {
  let m = IMF.exec(value)
  if (m !== null) return utc(Number(m[3]), m[2] as string, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  m = RFC850.exec(value)
  if (m !== null) {
    // [RFC 9110 5.6.7] a two-digit year more than 50 years in the future is in the past
    // century; with today's dates that is: 00-69 -> 20xx, 70-99 -> 19xx.
    const yy = Number(m[3])
    return utc(yy < 70 ? 2000 + yy : 1900 + yy, m[2] as string, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]))
  }
  m = ASCTIME.exec(value)
  if (m !== null) return utc(Number(m[6]), m[1] as string, Number((m[2] as string).trim()), Number(m[3]), Number(m[4]), Number(m[5]))
  return undefined
}

/**
 * Milliseconds to wait according to a Retry-After value, measured from `now` (epoch ms) for
 * HTTP-dates; 0 for a date in the past; undefined when the value is neither form.
 */
export function parseRetryAfter (value: string, now: number): number | undefined {
  const v = value.trim()
  if (/^\d+$/.test(v)) return Number(v) * 1000
  const at = parseHttpDate(v)
  return at === undefined ? undefined : Math.max(0, at - now)
}
