// CESQL evaluation throughput against a hand-written JS predicate doing the same check.
// Run: npm run bench:cesql (or node dist/scripts/bench/cesql.js after tsc).
// The two run alternately, several rounds in one process; each prints its median and the ratio.
import { compile } from '../../bridges/cesql/index.js'

const EXPRESSION = "deviceid LIKE 'th-%' AND kind = 'telemetry' AND INT(sequence) > 100"
const ROUNDS = 15
const WARMUP_ROUNDS = 5
const EVENTS = 1024
const PASSES_PER_ROUND = 300 // EVENTS * PASSES evaluations per round and side

type Event = Record<string, unknown>

function makeEvents (): Event[] {
  const kinds = ['telemetry', 'status', 'telemetry', 'alert']
  const prefixes = ['th-', 'th-', 'hu-', 'th-', 'pr-']
  const events: Event[] = []
  let seed = 42
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return seed % n
  }
  for (let i = 0; i < EVENTS; i++) {
    events.push({
      specversion: '1.0',
      id: `evt-${i}`,
      source: `urn:flowgate:site-${rnd(8)}`,
      type: 'dev.flowgate.reading',
      time: '2024-06-13T10:00:00Z',
      deviceid: `${prefixes[rnd(prefixes.length)]}${1000 + rnd(9000)}`,
      kind: kinds[rnd(kinds.length)],
      // mostly strings (MQTT payload fields), some native integers
      sequence: rnd(4) === 0 ? rnd(300) : String(rnd(300))
    })
  }
  return events
}

// What a developer would write by hand for the same filter.
function handWritten (e: Event): boolean {
  const d = e.deviceid
  if (typeof d !== 'string' || !d.startsWith('th-')) return false
  if (e.kind !== 'telemetry') return false
  const s = e.sequence
  const n = typeof s === 'number' ? s : Number.parseInt(String(s), 10)
  return n > 100
}

function run (pred: (e: Event) => boolean, events: Event[]): { opsPerSec: number, hits: number } {
  let hits = 0
  const start = process.hrtime.bigint()
  for (let p = 0; p < PASSES_PER_ROUND; p++) {
    for (let i = 0; i < events.length; i++) if (pred(events[i]!)) hits++
  }
  const ns = Number(process.hrtime.bigint() - start)
  return { opsPerSec: (PASSES_PER_ROUND * events.length) / (ns / 1e9), hits }
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

function fmt (opsPerSec: number): string {
  return `${(opsPerSec / 1e6).toFixed(2)} M evals/s`
}

const compiled = compile(EXPRESSION)
if (!compiled.ok) throw new Error(`bench expression does not parse: ${compiled.message}`)
const events = makeEvents()

// The two must agree before their speed is worth comparing.
const viaEvaluate = (e: Event): boolean => {
  const r = compiled.evaluate(e)
  return r.value === true && r.error === null
}
for (const e of events) {
  if (viaEvaluate(e) !== handWritten(e) || compiled.matches(e) !== handWritten(e)) {
    throw new Error(`CESQL and the hand-written predicate disagree on ${JSON.stringify(e)}`)
  }
}
const passing = events.filter(handWritten).length

const sides: Record<string, { pred: (e: Event) => boolean, samples: number[] }> = {
  'hand-written JS': { pred: handWritten, samples: [] },
  'CESQL evaluate()': { pred: viaEvaluate, samples: [] },
  'CESQL matches()': { pred: (e) => compiled.matches(e), samples: [] }
}

function measure (): void {
  for (const side of Object.values(sides)) side.samples.length = 0
  // warm-up, so every side is optimised before measuring
  for (let round = 0; round < WARMUP_ROUNDS; round++) {
    for (const side of Object.values(sides)) run(side.pred, events)
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const side of Object.values(sides)) side.samples.push(run(side.pred, events).opsPerSec)
  }
}

function report (): number {
  const baseline = median(sides['hand-written JS']!.samples)
  for (const [name, side] of Object.entries(sides)) {
    const m = median(side.samples)
    console.log(`  ${name.padEnd(18)} median ${fmt(m).padStart(18)}   ratio ${(m / baseline).toFixed(2)}x`)
  }
  return median(sides['CESQL evaluate()']!.samples) / baseline
}

console.log(`expression: ${EXPRESSION}`)
console.log(`${events.length} varied events (${passing} pass), ${ROUNDS} alternating rounds of ${PASSES_PER_ROUND * events.length} evaluations each`)
console.log('\n1. the only expression compiled in the process (the target case):')
measure()
const ratio = report()
console.log(`  target: CESQL evaluate() >= 0.50x hand-written: ${ratio >= 0.5 ? 'met' : 'NOT met'} (${ratio.toFixed(2)}x)`)

// Closures created from the same source share V8's type feedback, so the engine's call sites see
// every expression a process has compiled. This phase checks it stays fast once many different
// filters exist, as in a gateway with many subscriptions. Informational, not part of the target.
const attrs = ['deviceid', 'kind', 'sequence', 'source', 'type', 'id', 'subject', 'region']
for (let i = 0; i < 60; i++) {
  const a = attrs[i % attrs.length]!
  const b = attrs[(i * 3 + 1) % attrs.length]!
  const c = attrs[(i + 2) % attrs.length]!
  for (const other of [
    `${a} LIKE '${i}%' AND ${b} = 'x${i}' AND INT(${c}) > ${i}`,
    `${a} LIKE '%${i}' OR ${b} != 'y' OR LENGTH(${a}) < ${i}`
  ]) {
    const compiledOther = compile(other)
    if (compiledOther.ok) for (const e of events) compiledOther.evaluate(e)
  }
}
console.log('\n2. after 120 other expressions were compiled and run (informational):')
measure()
report()
