/** The dashboard's pure helpers (compiled for the browser, run here in Node). */
import t from 'tap'
import { excerpt, formatAmount, formatBytes, formatDuration, formatRate, formatTime, textToBase64 } from '../../gateway/admin/dashboard/format.js'
import { filterProblem, topicMatches } from '../../gateway/admin/dashboard/topic.js'

t.test('topic filters match as MQTT says', async t => {
  const cases: Array<[string, string, boolean]> = [
    ['#', 'a/b', true],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/+', 'a/b', true],
    ['a/+', 'a/b/c', false],
    ['a/+/c', 'a//c', true],
    ['+/+', '/x', true],
    ['a/b', 'a/b', true],
    ['a/b', 'a/b/c', false],
    ['a/b/c', 'a/b', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true]
  ]
  for (const [filter, topic, want] of cases) t.equal(topicMatches(filter, topic), want, `${filter} ${want ? 'matches' : 'does not match'} ${topic}`)
})

t.test('invalid topic filters are explained', async t => {
  for (const ok of ['#', 'a/#', '+', 'a/+/c', '/']) t.equal(filterProblem(ok), undefined, ok)
  t.match(filterProblem(''), /empty/)
  t.match(filterProblem('a/#/c'), /'#'/)
  t.match(filterProblem('a#'), /'#'/)
  t.match(filterProblem('a/b+'), /'\+'/)
})

t.test('numbers, sizes, durations and rates read well', async t => {
  t.equal(formatAmount(1, 'event'), '1 event')
  t.equal(formatAmount(1200, 'event'), '1,200 events')
  t.equal(formatBytes(0), '0 B')
  t.equal(formatBytes(1023), '1023 B')
  t.equal(formatBytes(1536), '1.5 KiB')
  t.equal(formatBytes(64 * 1024 * 1024), '64 MiB')
  t.equal(formatBytes(1024 ** 3), '1.0 GiB')
  t.equal(formatDuration(0), '0 s')
  t.equal(formatDuration(45), '45 s')
  t.equal(formatDuration(723), '12 min 3 s')
  t.equal(formatDuration(3600 * 5 + 60 * 20 + 7), '5 h 20 min')
  t.equal(formatDuration(86400 * 3 + 3600 * 4), '3 d 4 h')
  t.equal(formatDuration(86400), '1 d')
  t.equal(formatRate(0), '0.00/s')
  t.equal(formatRate(12.345), '12.3/s')
  t.equal(formatRate(1234.5), '1235/s')
  const now = new Date(2026, 10, 27, 12, 0, 0)
  t.equal(formatTime(new Date(2026, 10, 27, 9, 5, 7), now), '09:05:07', 'today: the time')
  t.equal(formatTime(new Date(2026, 10, 26, 23, 59, 1), now), '2026-11-26 23:59:01', 'another day: with the date')
  t.equal(formatTime('not a time', now), 'not a time')
  t.equal(textToBase64('cold'), 'Y29sZA==')
  t.equal(textToBase64('€'), Buffer.from('€').toString('base64'), 'UTF-8 bytes')
  t.equal(excerpt('abc', 5), 'abc')
  t.equal(excerpt('abcdefgh', 3), 'abc… (5 more characters)')
})
