/**
 * `flowgate cesql EXPR [--event FILE]` and `flowgate cesql --jsonl`.
 *
 * `args` are the arguments after `cesql`. Prints one line per evaluation:
 * {"value":…,"error":null|{"kind":…,"message":…[,"position":…]}}.
 * All I/O goes through `io`, so tests drive it with in-memory streams.
 * Exit codes: 0 when results were printed (also when they carry a CESQL error), 1 when the event
 * file cannot be read or is not a JSON object, 2 for usage errors.
 */
import { once } from 'node:events'
import { createInterface } from 'node:readline'
import {
  type CesqlError, type CesqlEvent, type CompiledExpression, type EvaluationResult, type ParseError,
  compile
} from './index.js'

export interface CesqlCliIo {
  stdin: NodeJS.ReadableStream
  stdout: NodeJS.WritableStream
  /** Usage and file errors; stdout when absent. */
  stderr?: NodeJS.WritableStream
  readFile (path: string): Promise<string>
}

/** Used when no event is given: the REQUIRED attributes only [CE 3.1]. */
export const DEFAULT_EVENT: CesqlEvent = Object.freeze({
  specversion: '1.0',
  id: 'flowgate-cesql',
  source: 'urn:flowgate:cesql',
  type: 'dev.flowgate.cesql'
})

export const USAGE = `usage: flowgate cesql EXPR [--event FILE]
       flowgate cesql --jsonl [--event FILE]

Evaluates a CloudEvents SQL (CESQL v1.0.0) expression and prints one line
{"value":...,"error":null|{"kind":...,"message":...}}.

  EXPR          the expression; put -- before it if it starts like an option (-- -x)
  --event FILE  a JSON object of CloudEvent attributes (default: specversion, id,
                source and type only); with --jsonl, the event of lines without one
  --jsonl       read lines {"expression":"...","event":{...}} on stdin and print one
                result line for each
`

const CACHE_LIMIT = 1024

interface Options {
  expression?: string
  eventPath?: string
  jsonl: boolean
  help: boolean
}

function parseArgs (args: readonly string[]): Options | string {
  const opts: Options = { jsonl: false, help: false }
  const positional: string[] = []
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') {
      positional.push(...args.slice(i + 1))
      break
    }
    if (a === '--jsonl') opts.jsonl = true
    else if (a === '-h' || a === '--help') opts.help = true
    else if (a === '--event' || a.startsWith('--event=')) {
      const value = a === '--event' ? args[++i] : a.slice('--event='.length)
      if (value === undefined || value === '') return '--event needs a file name'
      if (opts.eventPath !== undefined) return '--event given twice'
      opts.eventPath = value
    } else if (/^--?[A-Za-z]/.test(a)) {
      return `unknown option ${a}`
    } else {
      positional.push(a) // includes expressions such as -5 or --10
    }
  }
  if (opts.help) return opts
  if (opts.jsonl) {
    if (positional.length > 0) return '--jsonl reads expressions from stdin; no EXPR argument expected'
    return opts
  }
  if (positional.length === 0) return 'missing EXPR'
  if (positional.length > 1) return `expected one EXPR, got ${positional.length} arguments (quote the expression)`
  opts.expression = positional[0]
  return opts
}

export async function runCesql (args: string[], io: CesqlCliIo): Promise<number> {
  const errOut = io.stderr ?? io.stdout
  const opts = parseArgs(args)
  if (typeof opts === 'string') {
    await write(errOut, `flowgate cesql: ${opts}\n\n${USAGE}`)
    return 2
  }
  if (opts.help) {
    await write(io.stdout, USAGE)
    return 0
  }
  let event = DEFAULT_EVENT
  if (opts.eventPath !== undefined) {
    const loaded = await loadEvent(opts.eventPath, io)
    if (typeof loaded === 'string') {
      await write(errOut, `flowgate cesql: ${loaded}\n`)
      return 1
    }
    event = loaded
  }
  if (opts.jsonl) {
    await runJsonl(io, event)
    return 0
  }
  const compiled = compile(opts.expression!)
  await write(io.stdout, formatResult(compiled.ok ? compiled.evaluate(event) : failed(compiled)) + '\n')
  return 0
}

async function loadEvent (path: string, io: CesqlCliIo): Promise<CesqlEvent | string> {
  let text: string
  try {
    text = await io.readFile(path)
  } catch (err) {
    return `cannot read event file ${path}: ${(err as Error).message}`
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return `event file ${path} is not valid JSON: ${(err as Error).message}`
  }
  if (!isObject(parsed)) return `event file ${path} must hold a JSON object of CloudEvent attributes`
  return parsed
}

async function runJsonl (io: CesqlCliIo, defaultEvent: CesqlEvent): Promise<void> {
  const cache = new Map<string, CompiledExpression | ParseError>()
  const lines = createInterface({ input: io.stdin, crlfDelay: Infinity })
  let lineNo = 0
  for await (const line of lines) {
    lineNo++
    if (line.trim() === '') continue // blank lines (e.g. a trailing one) carry no request
    await write(io.stdout, formatResult(evaluateLine(line, lineNo, cache, defaultEvent)) + '\n')
  }
}

function evaluateLine (
  line: string, lineNo: number, cache: Map<string, CompiledExpression | ParseError>, defaultEvent: CesqlEvent
): EvaluationResult {
  let input: unknown
  try {
    input = JSON.parse(line)
  } catch (err) {
    return inputError(lineNo, `not valid JSON: ${(err as Error).message}`)
  }
  if (!isObject(input)) return inputError(lineNo, 'expected a JSON object {"expression":...,"event":{...}}')
  const { expression, event } = input
  if (typeof expression !== 'string') return inputError(lineNo, '"expression" must be a string')
  if (event !== undefined && !isObject(event)) return inputError(lineNo, '"event" must be a JSON object of CloudEvent attributes')
  let compiled = cache.get(expression)
  if (compiled === undefined) {
    compiled = compile(expression)
    if (cache.size >= CACHE_LIMIT) cache.clear()
    cache.set(expression, compiled)
  }
  return compiled.ok ? compiled.evaluate(event ?? defaultEvent) : failed(compiled)
}

function inputError (lineNo: number, message: string): EvaluationResult {
  // Not a CESQL error but a broken request line; `generic` is the spec's catch-all kind.
  return { value: false, error: { kind: 'generic', code: 'FG_ERR_CESQL_GENERIC', message: `input line ${lineNo}: ${message}` } }
}

function failed (error: ParseError): EvaluationResult {
  return { value: false, error }
}

export function formatResult (r: EvaluationResult): string {
  return JSON.stringify({ value: r.value, error: r.error === null ? null : formatError(r.error) })
}

function formatError (e: CesqlError): Record<string, unknown> {
  if (e.kind === 'parse' && 'position' in e) {
    return { kind: e.kind, message: e.message, position: (e as ParseError).position }
  }
  return { kind: e.kind, message: e.message }
}

function isObject (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

async function write (stream: NodeJS.WritableStream, chunk: string): Promise<void> {
  if (!stream.write(chunk)) await once(stream, 'drain')
}
