// CESQL behaviour the TCK does not pin down: precedence, limits, Unicode, overflow, error
// positions, attribute reading and the `flowgate cesql` command. See bridges/cesql/NOTES.md.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import t from 'tap'
import { type CesqlCliIo, runCesql } from '../../bridges/cesql/cli.js'
import {
  type CesqlEvent, type EvaluationResult, type ParseError, MAX_DEPTH, compile, evaluate
} from '../../bridges/cesql/index.js'

const EVENT: CesqlEvent = Object.freeze({ specversion: '1.0', id: 'e1', source: 'urn:test', type: 'test.type' })

function run (expression: string, event: CesqlEvent = EVENT): { value: unknown, error: string | null } {
  const r = evaluate(expression, event)
  return { value: r.value, error: r.error?.kind ?? null }
}

function ok (value: unknown): { value: unknown, error: null } {
  return { value, error: null }
}

function parseFailure (expression: string): ParseError {
  const c = compile(expression)
  if (c.ok) throw new Error(`expected a parse error for ${expression}`)
  return c
}

t.test('arithmetic precedence and associativity', async t => {
  t.strictSame(run('1 + 2 * 3'), ok(7))
  t.strictSame(run('(1 + 2) * 3'), ok(9))
  t.strictSame(run('10 - 4 - 3'), ok(3), '- is left-associative')
  t.strictSame(run('100 / 10 / 5'), ok(2), '/ is left-associative')
  t.strictSame(run('2 * 3 % 4'), ok(2), '* and % share a level, left to right')
  t.strictSame(run('7 / 2'), ok(3), 'division truncates')
  t.strictSame(run('-7 / 2'), ok(-3), 'towards zero')
  t.strictSame(run('-7 % 3'), ok(-1), '% takes the sign of the dividend')
  t.strictSame(run('5-3'), ok(2), 'a sign after an operand is the binary operator')
  t.strictSame(run('5 -3'), ok(2))
  t.strictSame(run('5 - -3'), ok(8))
  t.strictSame(run('1 + +2'), ok(3), '+2 is a literal where an operand is expected')
})

t.test('unary minus', async t => {
  t.strictSame(run('-2 * 3'), ok(-6))
  t.strictSame(run('- 2 * 3'), ok(-6))
  t.strictSame(run('-(2 + 3)'), ok(-5))
  t.strictSame(run('--10'), ok(10))
  t.strictSame(run('- 0'), ok(0))
  t.ok(Object.is(run('-0').value, 0), 'no negative zero')
  t.ok(Object.is(run('0 * -1').value, 0), 'no negative zero from *')
  t.strictSame(run("- 1 LIKE '-%'"), ok(true), 'unary minus binds tighter than LIKE')
})

t.test('comparison and logical precedence', async t => {
  t.strictSame(run('1 + 2 = 3'), ok(true), 'arithmetic before comparison')
  t.strictSame(run('1 < 2 = TRUE'), ok(true), '(1 < 2) = TRUE')
  t.strictSame(run('1 = 1 AND 2 = 2'), ok(true), 'comparison before AND')
  t.strictSame(run('NOT 0 + 5'), ok(6), 'NOT binds tighter than + (spec 3.6 order)')
  t.strictSame(run('1 + 1 IN (1)'), ok(2), 'IN binds tighter than +')
  t.strictSame(run("'a' LIKE 'a' = TRUE"), ok(true))
  t.strictSame(run('NOT EXISTS subject'), ok(true))
})

t.test('AND, OR, XOR: one level, right-associative like the spec grammar', async t => {
  t.strictSame(run('TRUE OR FALSE AND FALSE'), ok(true), 'TRUE OR (FALSE AND FALSE)')
  t.strictSame(run('(TRUE OR FALSE) AND FALSE'), ok(false))
  t.strictSame(run('FALSE AND TRUE OR TRUE'), ok(false), 'FALSE AND (TRUE OR TRUE)')
  t.strictSame(run('TRUE XOR TRUE AND FALSE'), ok(true), 'TRUE XOR (TRUE AND FALSE)')
  t.strictSame(run('TRUE AND TRUE XOR TRUE'), ok(false), 'TRUE AND (TRUE XOR TRUE)')
  t.strictSame(run('FALSE XOR TRUE OR FALSE'), ok(true), 'FALSE XOR (TRUE OR FALSE)')
  t.strictSame(run('TRUE XOR FALSE XOR TRUE'), ok(false))
  t.strictSame(run('FALSE AND missing'), ok(false), 'AND short-circuits')
  t.strictSame(run('TRUE OR missing'), ok(true), 'OR short-circuits')
  t.strictSame(run('TRUE OR missing AND TRUE'), ok(true), 'the whole right side is skipped')
  t.strictSame(run('missing OR TRUE'), { value: false, error: 'missingAttribute' })
  t.strictSame(run('TRUE XOR missing AND TRUE'), { value: false, error: 'missingAttribute' })
  t.strictSame(run('FALSE XOR TRUE AND 1 / 0 = 0'), { value: false, error: 'math' })
})

t.test('error model: zero values, first error kept', async t => {
  t.strictSame(run('missing + 1'), { value: 0, error: 'missingAttribute' })
  t.strictSame(run("missing LIKE 'a%'"), { value: false, error: 'missingAttribute' })
  t.strictSame(run("missing NOT LIKE 'a%'"), { value: false, error: 'missingAttribute' })
  t.strictSame(run('CONCAT(missing)'), { value: '', error: 'missingAttribute' })
  t.strictSame(run('missing'), { value: false, error: 'missingAttribute' }, 'unknown type: Boolean')
  t.strictSame(run("LEFT('abc', -1)"), { value: 'abc', error: 'functionEvaluation' })
  t.strictSame(run("LENGTH(LEFT('abc', -1))"), { value: 0, error: 'functionEvaluation' })
  t.strictSame(run("INT('x') + 1 / 0"), { value: 0, error: 'cast' })
  const first = evaluate('first + second', EVENT)
  t.match(first.error?.message, /"first"/, 'the first missing attribute is the one reported')
  t.strictSame(run("'abc' < 1"), { value: false, error: 'cast' })
  t.strictSame(run("1 < 'abc'"), { value: false, error: 'cast' })
  t.strictSame(run("'abc' + 1"), { value: 0, error: 'cast' })
  t.strictSame(run("1 + 'abc'"), { value: 0, error: 'cast' })
  t.strictSame(run("1 = 'abc'"), ok(false), "1 is cast to '1'")
  t.strictSame(run("'abc' = 1"), { value: false, error: 'cast' })
  t.strictSame(run('FOO(1)'), { value: false, error: 'missingFunction' })
  t.strictSame(run('LENGTH()'), { value: false, error: 'missingFunction' }, 'known name, wrong arity')
  t.strictSame(run('NOT FOO()'), { value: false, error: 'missingFunction' })
  const e = evaluate('1 / 0', EVENT).error
  t.match(e, { kind: 'math', code: 'FG_ERR_CESQL_MATH' }, 'errors carry a stable code')
})

t.test('IN', async t => {
  t.strictSame(run('1 IN (1, missing)'), ok(true), 'stops at the first match')
  t.strictSame(run('1 IN (missing, 1)'), { value: false, error: 'missingAttribute' })
  t.strictSame(run("1 IN ('1', 'x')"), ok(true))
  t.strictSame(run("1 IN ('x', '1')"), { value: false, error: 'cast' })
  t.strictSame(run("1 NOT IN ('2', '3')"), ok(true))
  t.strictSame(run('id IN (source, type, id)'), ok(true))
  t.strictSame(run('id NOT IN (source, type)'), ok(true))
  t.strictSame(run('missing IN (1)'), { value: false, error: 'missingAttribute' })
  t.strictSame(run('missing NOT IN (1)'), { value: false, error: 'missingAttribute' })
  t.equal(parseFailure('1 IN ()').kind, 'parse', 'an empty set is a parse error')
})

t.test('32-bit integer overflow', async t => {
  const math = (value: number): { value: number, error: string } => ({ value, error: 'math' })
  t.strictSame(run('2147483647 + 1'), math(2147483647))
  t.strictSame(run('-2147483648 - 1'), math(-2147483648))
  t.strictSame(run('65536 * 65536'), math(2147483647))
  t.strictSame(run('65536 * -65536'), math(-2147483648))
  t.strictSame(run('-2147483648 * -1'), math(2147483647))
  t.strictSame(run('-2147483648 / -1'), math(2147483647))
  t.strictSame(run('- -2147483648'), math(2147483647))
  t.strictSame(run('ABS(-2147483648)'), math(2147483647))
  t.strictSame(run('-2147483648 % -1'), ok(0))
  t.strictSame(run('2147483647 + 1 > 0'), { value: false, error: 'math' }, 'zero value of the enclosing operator')
  t.strictSame(run('2147483647 + 0'), ok(2147483647))
  t.strictSame(run('-2147483648'), ok(-2147483648))
  t.strictSame(run('-2147483647 - 1'), ok(-2147483648))
  t.strictSame(run('ABS(-2147483647)'), ok(2147483647))
  t.match(parseFailure('2147483648'), { kind: 'parse', position: { offset: 0 } })
  t.match(parseFailure('-2147483649'), { kind: 'parse' })
  t.match(parseFailure('- 2147483648'), { kind: 'parse', position: { offset: 2 } }, 'the sign is not part of the literal')
  t.strictSame(run("INT('2147483648')"), { value: 0, error: 'cast' })
  t.strictSame(run("INT('-2147483648')"), ok(-2147483648))
  t.strictSame(run("INT('+17')"), ok(17))
  t.strictSame(run("INT(' 17')"), { value: 0, error: 'cast' })
  t.strictSame(run("INT('')"), { value: 0, error: 'cast' })
  t.strictSame(run('big', { ...EVENT, big: 2 ** 31 }), ok('2147483648'), 'a number beyond int32 is a String')
})

t.test('strings and Unicode', async t => {
  t.strictSame(run("'héllo wörld ✓'"), ok('héllo wörld ✓'))
  t.strictSame(run('"日本語"'), ok('日本語'))
  t.strictSame(run("LENGTH('😀')"), ok(1), 'an emoji is one code point')
  t.strictSame(run("LENGTH('a😀b')"), ok(3))
  t.strictSame(run("LENGTH('👍🏽')"), ok(2), 'emoji plus skin-tone modifier: two code points')
  t.strictSame(run("LEFT('😀😁😂', 2)"), ok('😀😁'))
  t.strictSame(run("RIGHT('😀😁😂', 1)"), ok('😂'))
  t.strictSame(run("SUBSTRING('a😀b', 2, 1)"), ok('😀'))
  t.strictSame(run("SUBSTRING('a😀b', -2)"), ok('😀b'))
  t.strictSame(run("SUBSTRING('abc', 0, -1)"), { value: '', error: 'functionEvaluation' })
  t.strictSame(run("SUBSTRING('abc', 2, -1)"), { value: '', error: 'functionEvaluation' })
  t.strictSame(run("'😀' LIKE '_'"), ok(true), '_ matches one code point')
  t.strictSame(run("'a😀c' LIKE 'a_c'"), ok(true))
  t.strictSame(run("'a😀😀c' LIKE 'a%_c'"), ok(true))
  t.strictSame(run("'a😀' LIKE 'a__'"), ok(false))
  t.strictSame(run("UPPER('straße')"), ok('STRASSE'))
  t.strictSame(run("LOWER('ÀÉÎ')"), ok('àéî'))
  t.strictSame(run("TRIM('\u00a0\u3000\u0085 x \t\n')"), ok('x'), 'Unicode White_Space')
  t.strictSame(run("TRIM('\ufeffx')"), ok('\ufeffx'), 'U+FEFF is not White_Space')
  t.strictSame(run("'it''s'"), ok("it's"), 'doubled delimiter')
  t.strictSame(run(String.raw`"say \"hi\""`), ok('say "hi"'))
  t.strictSame(run(String.raw`'ab\c'`), ok(String.raw`ab\c`), 'other backslashes are kept')
  t.strictSame(run(String.raw`'100%' LIKE '100\%'`), ok(true))
  t.strictSame(run(String.raw`'100x' LIKE '100\%'`), ok(false))
  t.strictSame(run(String.raw`'\x' LIKE '\%'`), ok(false), 'an escaped % matches only %')
  t.strictSame(run(String.raw`'a\b' LIKE 'a\b'`), ok(true), 'a backslash before another character is literal')
  t.strictSame(run("'abcabc' LIKE '%b%c'"), ok(true))
  t.strictSame(run("'abcab' LIKE '%b%c'"), ok(false))
  t.strictSame(run("'aXbXc' LIKE 'a%b%c'"), ok(true))
  t.strictSame(run("'abc' LIKE 'a%%c'"), ok(true))
  t.strictSame(run("'' LIKE '%'"), ok(true))
  t.strictSame(run("'' LIKE ''"), ok(true))
  t.strictSame(run("'ABC' LIKE 'abc'"), ok(false), 'case-sensitive')
  t.strictSame(run("'banana' LIKE '%an_'"), ok(true))
  t.strictSame(run("'ab' LIKE 'a%b%'"), ok(true))
})

t.test('attributes', async t => {
  const ev: CesqlEvent = {
    ...EVENT,
    myint: 10,
    mybool: true,
    myfloat: 1.5,
    nothing: null,
    when: new Date('2024-06-13T10:00:00Z'),
    bytes: new Uint8Array([1, 2, 3]),
    data: 'payload'
  }
  t.strictSame(run('myint + 1', ev), ok(11))
  t.strictSame(run("myint = '10'", ev), ok(true), 'left cast to the right type: String')
  t.strictSame(run('mybool AND TRUE', ev), ok(true))
  t.strictSame(run('myfloat', ev), ok('1.5'))
  t.strictSame(run('nothing', ev), { value: false, error: 'missingAttribute' }, 'null is absent')
  t.strictSame(run('EXISTS nothing', ev), ok(false))
  t.strictSame(run('when', ev), ok('2024-06-13T10:00:00.000Z'))
  t.strictSame(run('bytes', ev), ok('AQID'), 'binary as base64')
  t.strictSame(run('data', ev), { value: false, error: 'missingAttribute' }, 'data is not an attribute')
  t.strictSame(run('EXISTS data', ev), ok(false))
  t.strictSame(run('constructor', ev), { value: false, error: 'missingAttribute' }, 'inherited members are not attributes')
  t.strictSame(run('EXISTS constructor', ev), ok(false))
  t.strictSame(run('MYINT', ev), ok(10), 'identifiers are lowercased')
  t.strictSame(run('EXISTS id', { specversion: '1.0' }), ok(true), 'required attributes always exist')
  t.strictSame(run('time', { ...EVENT, time: '2018-04-26T14:48:09+02:00' }), ok('2018-04-26T14:48:09+02:00'))
  t.strictSame(run('lower(Type) = "test.type" AND Concat_Ws(":", id, source) = "e1:urn:test"'), ok(true), 'function names are case-insensitive')
  const frozenBefore = JSON.stringify(ev)
  evaluate('myint + 1 = 11 AND id LIKE "e%"', ev)
  t.equal(JSON.stringify(ev), frozenBefore, 'the event is not mutated')
})

t.test('fast paths agree with the general evaluation', async t => {
  // `x OP k` reads the attribute inline; STRING(x) / x + 0 take the general path with the same
  // meaning. Both must give the same value and error for every kind of attribute value.
  const values: unknown[] = [undefined, null, 'th-1', 'TH-1', '', '5', '-7', '+3', '007', '2147483648', 'abc',
    'true', 'FALSE', 5, -7, 0, 2147483647, true, false, 1.5, new Date(0)]
  const pairs: Array<[string, string]> = [
    ["x LIKE 'th-%'", "STRING(x) LIKE 'th-%'"],
    ["x NOT LIKE 'th-%'", "STRING(x) NOT LIKE 'th-%'"],
    ["x LIKE '%1'", "STRING(x) LIKE '%1'"],
    ["x LIKE '%h-%'", "STRING(x) LIKE '%h-%'"],
    ["x LIKE 'abc'", "STRING(x) LIKE 'abc'"],
    ["x LIKE '%'", "STRING(x) LIKE '%'"],
    ["x LIKE 't_-%'", "STRING(x) LIKE 't_-%'"],
    ["x = 'th-1'", "STRING(x) = 'th-1'"],
    ["x != '5'", "STRING(x) != '5'"],
    ['x = 5', 'x + 0 = 5'],
    ['x <> -7', 'x + 0 <> -7'],
    ['x > 4', 'x + 0 > 4'],
    ['x >= 5', 'x + 0 >= 5'],
    ['x < 0', 'x + 0 < 0'],
    ['x <= 0', 'x + 0 <= 0'],
    ['INT(x) > 4', 'x + 0 > 4'],
    ['INT(x) = 7', 'x + 0 = 7'],
    ['x = TRUE', 'BOOL(x) = TRUE'],
    ['x IN (5, 7)', 'x IN (5, 7 + 0)'],
    ["x IN ('th-1', 'abc')", "x IN ('th-1', CONCAT('abc'))"]
  ]
  for (const value of values) {
    const event = value === undefined ? EVENT : { ...EVENT, x: value }
    for (const [fast, general] of pairs) {
      t.strictSame(evaluate(fast, event), evaluate(general, event), `${fast} with x = ${String(value)}`)
    }
  }
})

t.test('parse errors carry positions', async t => {
  t.match(parseFailure('ABC('), { ok: false, kind: 'parse', code: 'FG_ERR_CESQL_PARSE', position: { offset: 4, line: 1, column: 5 } })
  t.match(parseFailure('1 +\n  * 2'), { position: { offset: 6, line: 2, column: 3 } })
  t.match(parseFailure('1 +\r\n\r\n *'), { position: { line: 3, column: 2 } })
  t.match(parseFailure("'unterminated"), { position: { offset: 0, line: 1, column: 1 }, message: /unterminated/ })
  t.match(parseFailure('x LIKE 123'), { position: { offset: 7 }, message: /string literal/ })
  t.match(parseFailure("'😀' = @"), { position: { offset: 7, column: 7 }, message: /"@"/ }, 'column counts code points')
  t.match(parseFailure(''), { position: { offset: 0 }, message: /empty/ })
  t.match(parseFailure('1 2'), { position: { offset: 2 } })
  t.match(parseFailure('(1 + 2'), { position: { offset: 6 } })
  t.match(parseFailure('my_ext = 1'), { position: { offset: 0 }, message: /attribute name/ })
  t.match(parseFailure('id1(2)'), { position: { offset: 0 }, message: /function name/ })
  t.match(parseFailure('a NOT b'), { position: { offset: 6 } })
  t.match(parseFailure('a ! b'), { position: { offset: 2 } })
  t.match(parseFailure('EXISTS 1'), { position: { offset: 7 } })
  t.match(parseFailure('ABS(1,)'), { position: { offset: 6 } })
  t.strictSame(run('x LIKE 123'), { value: false, error: 'parse' }, 'evaluate() reports it too')
  t.equal(compile(' \t\r\n1 ').ok, true, 'space, tab, CR and LF are whitespace')
})

t.test('deep nesting gets a clean parse error past MAX_DEPTH', async t => {
  t.equal(MAX_DEPTH, 256)
  const nest = (n: number, open: string, inner: string, close: string): string => open.repeat(n) + inner + close.repeat(n)
  t.strictSame(run(nest(MAX_DEPTH, '(', '1', ')')), ok(1), `${MAX_DEPTH} nested parentheses work`)
  t.match(parseFailure(nest(MAX_DEPTH + 1, '(', '1', ')')), { kind: 'parse', message: /nested more than 256/ })
  t.match(parseFailure(nest(1000, '(', '1', ')')), { kind: 'parse', position: { offset: MAX_DEPTH } }, '1000 parentheses')
  t.match(parseFailure(nest(100_000, '(', '1', ')')), { kind: 'parse' }, '100,000 parentheses')
  t.match(parseFailure('NOT '.repeat(10_000) + 'TRUE'), { kind: 'parse' }, '10,000 NOTs')
  t.match(parseFailure('-'.repeat(10_000) + '1'), { kind: 'parse' }, '10,000 minus signs')
  t.match(parseFailure(nest(1000, 'ABS(', '1', ')')), { kind: 'parse' }, '1000 nested calls')
  t.match(parseFailure("'a'" + " LIKE 'a'".repeat(1000)), { kind: 'parse' }, '1000 chained LIKEs')
  t.strictSame(run('NOT '.repeat(200) + 'TRUE'), ok(true))
  t.strictSame(run(nest(200, '(1 + ', '1', ')')), ok(201), 'nested arithmetic')
})

t.test('very long flat expressions use loops, not recursion', async t => {
  const n = 10_000
  const terms = Array.from({ length: n }, (_, i) => `id = 'x${i}'`)
  const orExpr = terms.join(' OR ')
  t.ok(orExpr.length > 100_000)
  const c = compile(orExpr)
  if (!c.ok) throw new Error(c.message)
  t.strictSame(c.evaluate({ ...EVENT, id: `x${n - 1}` }), ok(true), 'the last of 10,000 ORed terms matches')
  t.strictSame(c.evaluate({ ...EVENT, id: 'nope' }), ok(false))
  t.strictSame(run(Array.from({ length: n }, () => 'TRUE').join(' AND ')), ok(true), '10,000 ANDs')
  t.strictSame(run(Array.from({ length: n }, () => 'TRUE').join(' XOR ')), ok(false), '10,000 XORs (even count)')
  t.strictSame(run(Array.from({ length: n }, (_, i) => i % 2 === 0 ? 'TRUE' : 'FALSE').join(' AND ') + ' OR TRUE'), ok(false))
  t.strictSame(run(Array.from({ length: n }, () => '1').join(' + ')), ok(n), '10,000 additions')
  t.strictSame(run(Array.from({ length: n }, () => '1').join(' = ')), ok(true), 'a 10,000-term comparison chain')
  t.strictSame(run(`CONCAT(${Array.from({ length: n }, () => "'a'").join(', ')}) = '${'a'.repeat(n)}'`), ok(true), '10,000 arguments')
  t.strictSame(run(`5000 IN (${Array.from({ length: n }, (_, i) => String(i)).join(', ')})`), ok(true), '10,000 set elements')
})

t.test('compile once, evaluate many', async t => {
  const c = compile("type LIKE 'test.%' AND INT(seq) > 100")
  if (!c.ok) throw new Error(c.message)
  t.equal(c.type, 'Boolean')
  t.equal(c.expression, "type LIKE 'test.%' AND INT(seq) > 100")
  t.strictSame(c.evaluate({ ...EVENT, seq: '101' }), ok(true))
  t.strictSame(c.evaluate({ ...EVENT, seq: 101 }), ok(true))
  t.strictSame(c.evaluate({ ...EVENT, seq: '99' }), ok(false))
  t.strictSame(c.evaluate({ ...EVENT, seq: 'x' }), { value: false, error: { kind: 'cast', code: 'FG_ERR_CESQL_CAST', message: 'cannot cast String "x" to Integer' } })
  t.strictSame(c.evaluate(EVENT), { value: false, error: { kind: 'missingAttribute', code: 'FG_ERR_CESQL_MISSING_ATTRIBUTE', message: 'attribute "seq" is not present in the event' } })
  t.strictSame(c.evaluate({ ...EVENT, seq: '101' }), ok(true), 'an earlier error does not leak into the next evaluation')
  t.equal(c.matches({ ...EVENT, seq: '101' }), true)
  t.equal(c.matches({ ...EVENT, seq: 'x' }), false)
  t.equal(c.matches(EVENT), false)
  const n = compile('1')
  if (!n.ok) throw new Error(n.message)
  t.equal(n.type, 'Integer')
  t.equal(n.matches(EVENT), false, 'only Boolean true passes a filter')
  const id = compile('id')
  t.equal(id.ok && id.type, 'Any')
  const r: EvaluationResult = c.evaluate({ ...EVENT, seq: '101' })
  t.ok(Object.isFrozen(r), 'shared results are frozen')
  t.throws(() => compile(42 as unknown as string), TypeError)
})

// ---- the CLI ---------------------------------------------------------------------------------

function collector (): { stream: PassThrough, text: () => string } {
  const stream = new PassThrough()
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  return { stream, text: () => Buffer.concat(chunks).toString('utf8') }
}

async function cli (args: string[], stdinText = ''): Promise<{ code: number, out: string, err: string, lines: () => unknown[] }> {
  const stdout = collector()
  const stderr = collector()
  const io: CesqlCliIo = {
    stdin: Readable.from([stdinText]),
    stdout: stdout.stream,
    stderr: stderr.stream,
    readFile: async (path) => readFile(path, 'utf8')
  }
  const code = await runCesql(args, io)
  const out = stdout.text()
  const lines = (): unknown[] => out.split('\n').filter(l => l !== '').map(l => JSON.parse(l) as unknown)
  return { code, out, err: stderr.text(), lines }
}

t.test('cli: EXPR with the default event and with --event FILE', async t => {
  const dir = await mkdtemp(join(tmpdir(), 'flowgate-cesql-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'event.json')
  await writeFile(file, JSON.stringify({
    specversion: '1.0', id: 'a1', source: 'urn:s', type: 't', subject: 'sensors/7', sequence: 12, data: { x: 1 }
  }))

  let r = await cli(['EXISTS subject'])
  t.equal(r.code, 0)
  t.equal(r.out, '{"value":false,"error":null}\n', 'one line, exactly this shape')
  r = await cli(['EXISTS id AND EXISTS source AND EXISTS type AND specversion = "1.0"'])
  t.strictSame(r.lines(), [{ value: true, error: null }], 'the default event has the required attributes')

  r = await cli(["subject LIKE 'sensors/%' AND sequence + 1 = 13", '--event', file])
  t.equal(r.code, 0)
  t.strictSame(r.lines(), [{ value: true, error: null }])
  r = await cli([`--event=${file}`, 'CONCAT(id, "/", subject)'])
  t.strictSame(r.lines(), [{ value: 'a1/sensors/7', error: null }])
  r = await cli(['EXISTS data', '--event', file])
  t.strictSame(r.lines(), [{ value: false, error: null }], 'data is not an attribute')

  r = await cli(['nope + 1'])
  t.strictSame(r.lines(), [{ value: 0, error: { kind: 'missingAttribute', message: 'attribute "nope" is not present in the event' } }])
  r = await cli(['1 +'])
  t.equal(r.code, 0, 'a parse error is a result, not a usage error')
  t.match(r.lines(), [{ value: false, error: { kind: 'parse', message: String, position: { offset: 3, line: 1, column: 4 } } }])
  r = await cli(['-5'])
  t.strictSame(r.lines(), [{ value: -5, error: null }], 'an expression that starts with -')
  r = await cli(['--', '-missing'])
  t.strictSame(r.lines(), [{ value: 0, error: { kind: 'missingAttribute', message: 'attribute "missing" is not present in the event' } }])

  const bad = join(dir, 'bad.json')
  await writeFile(bad, '{ not json')
  r = await cli(['TRUE', '--event', bad])
  t.equal(r.code, 1)
  t.equal(r.out, '')
  t.match(r.err, /not valid JSON/)
  await writeFile(bad, '[1, 2]')
  r = await cli(['TRUE', '--event', bad])
  t.equal(r.code, 1)
  t.match(r.err, /JSON object/)
  r = await cli(['TRUE', '--event', join(dir, 'absent.json')])
  t.equal(r.code, 1)
  t.match(r.err, /cannot read event file/)
})

t.test('cli: --jsonl', async t => {
  const input = [
    JSON.stringify({ expression: "type LIKE 'com.%'", event: { specversion: '1.0', id: '1', source: 's', type: 'com.x' } }),
    '{ this is not json',
    '',
    JSON.stringify({ expression: 'myint * 2', event: { specversion: '1.0', id: '2', source: 's', type: 't', myint: 21 } }),
    JSON.stringify({ expression: 'ABC(' }),
    JSON.stringify({ event: {} }),
    JSON.stringify([1, 2]),
    JSON.stringify({ expression: 'TRUE', event: 'nope' }),
    JSON.stringify({ expression: 'EXISTS subject' }),
    JSON.stringify({ expression: "type LIKE 'com.%'", event: { specversion: '1.0', id: '3', source: 's', type: 'org.x' } })
  ].join('\r\n') + '\n'
  const r = await cli(['--jsonl'], input)
  t.equal(r.code, 0)
  t.equal(r.lines().length, 9, 'one result per non-blank input line')
  t.match(r.lines(), [
    { value: true, error: null },
    { value: false, error: { kind: 'generic', message: /input line 2: not valid JSON/ } },
    { value: 42, error: null },
    { value: false, error: { kind: 'parse', position: { offset: 4 } } },
    { value: false, error: { kind: 'generic', message: /line 6: "expression" must be a string/ } },
    { value: false, error: { kind: 'generic', message: /line 7/ } },
    { value: false, error: { kind: 'generic', message: /"event" must be a JSON object/ } },
    { value: false, error: null },
    { value: false, error: null }
  ])
  const empty = await cli(['--jsonl'], '')
  t.equal(empty.code, 0)
  t.equal(empty.out, '')
})

t.test('cli: --jsonl keeps up with a large stream and backpressure', async t => {
  const n = 5000
  const lines = Array.from({ length: n }, (_, i) => JSON.stringify({ expression: `seq > ${i % 10}`, event: { ...EVENT, seq: 5 } }))
  const stdout = new PassThrough({ highWaterMark: 64 })
  let count = 0
  let buffered = ''
  stdout.on('data', (c: Buffer) => {
    buffered += c.toString('utf8')
    const parts = buffered.split('\n')
    buffered = parts.pop() ?? ''
    count += parts.length
  })
  const code = await runCesql(['--jsonl'], {
    stdin: Readable.from(lines.map(l => l + '\n')),
    stdout,
    readFile: async () => ''
  })
  t.equal(code, 0)
  t.equal(count, n)
})

t.test('cli: usage errors exit with 2', async t => {
  for (const args of [[], ['a', 'b'], ['--bogus', 'TRUE'], ['TRUE', '--event'], ['--jsonl', 'TRUE'], ['-x']]) {
    const r = await cli(args)
    t.equal(r.code, 2, `args ${JSON.stringify(args)}`)
    t.equal(r.out, '', 'nothing on stdout')
    t.match(r.err, /usage: flowgate cesql/)
  }
  const help = await cli(['--help'])
  t.equal(help.code, 0)
  t.match(help.out, /usage: flowgate cesql EXPR/)
})
