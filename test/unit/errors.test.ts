// One table of error codes (gateway/errors.ts, gathered from each folder's error module), held
// in both directions against the README's table and against the FG_ERR_… codes the source
// really uses.
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { BridgeErrorCodes } from '../../bridges/index.js'
import { CESQL_ERROR_CODES, type CesqlErrorKind } from '../../bridges/cesql/index.js'
import { ConfigError, ConfigErrorCodes } from '../../config/index.js'
import { ErrorCodes, FlowgateError, GatewayErrorCodes, isFlowgateError } from '../../gateway/index.js'
import { StorageError, StorageErrorCodes } from '../../storage/index.js'
import { CloudEventError } from '../../bridges/cloudevents/index.js'
import { repoRoot } from '../helpers/paths.js'
import { callsWithLiteral, sourceFiles, stringLiterals } from '../helpers/source.js'

const FOLDERS = ['storage', 'config', 'bridges', 'gateway']
/** The modules that define the tables (or restate a part): a code written there is declared, not used. */
const TABLE_MODULES = new Set([
  'storage/errors.ts', 'storage/broker-persistence/errors.ts', 'config/errors.ts',
  'bridges/errors.ts', 'bridges/cloudevents/errors.ts', 'bridges/cesql/errors.ts', 'gateway/errors.ts'
])
/** Functions that make an error of one code, called from the code that raises it. */
const MAKERS: Readonly<Record<string, (first: string) => string | undefined>> = {
  cesqlError: kind => CESQL_ERROR_CODES[kind as Exclude<CesqlErrorKind, 'parse'>] as string | undefined,
  parseError: () => CESQL_ERROR_CODES.parse,
  invalid: () => 'FG_ERR_CE_INVALID'
}
const CODE = /FG_ERR_[A-Z0-9_]+/g

const table = new Set(Object.keys(ErrorCodes))
const files = sourceFiles(FOLDERS)

function sorted (codes: Iterable<string>): string[] {
  return [...codes].sort()
}

t.test('the table gathers every folder\'s codes, each owned by one folder', async t => {
  const folders = { storage: StorageErrorCodes, config: ConfigErrorCodes, bridges: BridgeErrorCodes, gateway: GatewayErrorCodes }
  const owners = new Map<string, string[]>()
  for (const [folder, codes] of Object.entries(folders)) {
    for (const code of Object.keys(codes)) owners.set(code, [...(owners.get(code) ?? []), folder])
  }
  const shared = [...owners].filter(([, by]) => by.length > 1).map(([code, by]) => `${code}: ${by.join(', ')}`)
  t.strictSame(shared, [], 'no code is declared by two folders')
  t.strictSame(sorted(table), sorted(owners.keys()), 'ErrorCodes is exactly the folders\' codes')
  for (const [code, meaning] of Object.entries(ErrorCodes)) t.ok(meaning.length > 10, `${code} says what it means`)
})

t.test('the README lists exactly the table\'s codes', async t => {
  const readme = await readFile(join(repoRoot, 'README.md'), 'utf8')
  const listed = new Set([...readme.matchAll(/^\| `(FG_ERR_[A-Z0-9_]+)` \|/gm)].map(m => m[1] as string))
  t.strictSame(sorted([...table].filter(c => !listed.has(c))), [], 'every code in the table has a README row')
  t.strictSame(sorted([...listed].filter(c => !table.has(c))), [], 'every README row is a code in the table')
})

t.test('every FG_ERR_ code written in the source is in the table', async t => {
  const unknown: string[] = []
  for (const file of files) {
    file.text.split('\n').forEach((line, i) => {
      for (const m of line.matchAll(CODE)) if (!table.has(m[0])) unknown.push(`${file.path}:${i + 1}: ${m[0]}`)
    })
  }
  t.strictSame(unknown, [], 'codes thrown or sent must be added to the table (and the README)')
})

t.test('every code in the table is used outside the table modules', async t => {
  const used = new Set<string>()
  for (const file of files) {
    if (TABLE_MODULES.has(file.path)) continue
    for (const literal of stringLiterals(file)) for (const m of literal.text.matchAll(CODE)) used.add(m[0])
    // errors made by a helper: `cesqlError('math', …)`, `parseError(…)`, `invalid(…)`
    for (const [maker, codeOf] of Object.entries(MAKERS)) {
      for (const call of callsWithLiteral(file, maker)) {
        const code = codeOf(call.text)
        if (code !== undefined) used.add(code)
      }
    }
  }
  t.strictSame(sorted([...table].filter(c => !used.has(c))), [], 'a code nothing raises is dead: remove it from the table and the README')
})

t.test('isFlowgateError knows the errors of every folder by their code', async t => {
  const errors = [
    new StorageError('FG_ERR_STORE_FULL', 'full'),
    new ConfigError([{ path: 'a', message: 'b' }]),
    new CloudEventError('FG_ERR_CE_INVALID', 'bad'),
    new FlowgateError('FG_ERR_USAGE', 'usage')
  ]
  for (const err of errors) t.ok(isFlowgateError(err), `${err.name} ${err.code}`)
  t.ok(isFlowgateError(errors[0], 'FG_ERR_STORE_FULL'))
  t.notOk(isFlowgateError(errors[0], 'FG_ERR_STORE_CLOSED'), 'another code')
  t.notOk(isFlowgateError(Object.assign(new Error('x'), { code: 'ENOENT' })), 'a system error is not ours')
  t.notOk(isFlowgateError({ code: 'FG_ERR_USAGE', message: 'x' }), 'not an Error')
  t.notOk(isFlowgateError(Object.assign(new Error('x'), { code: 'FG_ERR_NOT_A_CODE' })), 'a code outside the table')
})
