/**
 * The histograms the gateway keeps before the metrics library is loaded are written out by the
 * library's registry exactly as its own histograms with the same observations.
 */
import t from 'tap'
import { Histogram, Registry } from 'prom-client'
import { LiveHistogram } from '../../gateway/histogram.js'

const bounds = [0.001, 0.01, 0.1, 1]
const observations: Array<[number, string, string]> = [
  [0.0004, 'cloud', '2xx'], [0.001, 'cloud', '2xx'], [0.05, 'cloud', '5xx'], [0.7, 'backup', '2xx'], [3, 'cloud', '2xx'], [0.002, 'backup', 'timeout']
]

t.test('labelled: the same text as the library\'s histogram', async t => {
  const theirs = new Registry()
  const reference = new Histogram({ name: 'req_seconds', help: 'Request time.', labelNames: ['bridge', 'status_class'], buckets: bounds, registers: [theirs] })
  const ours = new Registry()
  const live = new LiveHistogram('req_seconds', 'Request time.', bounds, ['bridge', 'status_class'])
  live.registerIn(ours)
  t.equal(await ours.metrics(), await theirs.metrics(), 'no series before the first observation')
  for (const [v, bridge, statusClass] of observations) {
    reference.observe({ bridge, status_class: statusClass }, v)
    live.observe(v, bridge, statusClass)
  }
  const text = await ours.metrics()
  t.equal(text, await theirs.metrics())
  t.match(text, /req_seconds_bucket\{le="0.01",bridge="cloud",status_class="2xx"\} 2\n/, 'cumulative buckets')
  t.match(text, /req_seconds_bucket\{le="\+Inf",bridge="cloud",status_class="2xx"\} 3\n/, 'values over the last bound count in +Inf')
  t.match(text, /req_seconds_count\{bridge="backup",status_class="2xx"\} 1\n/)
})

t.test('without labels: zeros before the first observation, as the library\'s', async t => {
  const theirs = new Registry()
  const reference = new Histogram({ name: 'commit_records', help: 'Records per commit.', buckets: [1, 10, 100], registers: [theirs] })
  const ours = new Registry()
  const live = new LiveHistogram('commit_records', 'Records per commit.', [1, 10, 100])
  live.registerIn(ours)
  t.equal(await ours.metrics(), await theirs.metrics())
  t.match(await ours.metrics(), /commit_records_count 0\n/)
  for (const v of [1, 7, 7, 250]) { reference.observe(v); live.observe(v) }
  t.equal(await ours.metrics(), await theirs.metrics())
  t.match(await ours.metrics(), /commit_records_sum 265\n/)
})
