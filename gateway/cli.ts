#!/usr/bin/env node
/**
 * The `flowgate` command. Each subcommand returns an exit code; only main() exits.
 */
import { parseArgs } from 'node:util'
import { defaultConfig, loadConfig, printConfig, type LoadedConfig } from '../config/index.js'
import { EXIT_FAILURE, EXIT_INVALID, EXIT_OK, FlowgateError, isFlowgateError } from './errors.js'
import { createGateway } from './gateway.js'

const USAGE = `usage: flowgate <command> [options]

commands:
  start [--config FILE]          run the gateway (embedded defaults without --config)
  check-config --config FILE     validate a config file and print the effective config, secrets redacted
`

type Command = (args: string[]) => Promise<number>

const commands: Record<string, Command> = {
  start: startCommand,
  'check-config': checkConfigCommand
}

function fail (err: unknown): number {
  if (isFlowgateError(err)) {
    process.stderr.write(`flowgate: ${err.code}: ${err.message}\n`)
    return err.code === 'FG_ERR_CONFIG_INVALID' || err.code === 'FG_ERR_CONFIG_READ' || err.code === 'FG_ERR_USAGE'
      ? EXIT_INVALID
      : EXIT_FAILURE
  }
  process.stderr.write(`flowgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  return EXIT_FAILURE
}

function parse (args: string[], options: Record<string, { type: 'string' | 'boolean', short?: string }>): Record<string, string | boolean | undefined> {
  try {
    return parseArgs({ args, options, allowPositionals: false, strict: true }).values
  } catch (cause) {
    throw new FlowgateError('FG_ERR_USAGE', (cause as Error).message, { cause })
  }
}

async function configFrom (file: string | boolean | undefined): Promise<LoadedConfig> {
  return typeof file === 'string' ? await loadConfig(file) : defaultConfig()
}

async function startCommand (args: string[]): Promise<number> {
  const values = parse(args, { config: { type: 'string', short: 'c' } })
  const loaded = await configFrom(values.config)
  let onFatal: (err: Error) => void = () => {}
  const gateway = await createGateway(loaded.config, { onFatal: err => onFatal(err) })
  return await new Promise<number>(resolve => {
    let stopping = false
    const stop = (reason: string, code: number): void => {
      if (stopping) return
      stopping = true
      gateway.logger.info({ event: 'stopping', reason }, `stopping: ${reason}`)
      gateway.close().then(() => resolve(code), (err: unknown) => resolve(fail(err)))
    }
    onFatal = err => stop(err.message, EXIT_FAILURE)
    process.once('SIGINT', () => stop('SIGINT', EXIT_OK))
    process.once('SIGTERM', () => stop('SIGTERM', EXIT_OK))
  })
}

async function checkConfigCommand (args: string[]): Promise<number> {
  const values = parse(args, { config: { type: 'string', short: 'c' } })
  if (typeof values.config !== 'string') throw new FlowgateError('FG_ERR_USAGE', 'check-config needs --config FILE')
  const loaded = await loadConfig(values.config)
  process.stdout.write(printConfig(loaded))
  return EXIT_OK
}

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(USAGE)
    return name === undefined ? EXIT_INVALID : EXIT_OK
  }
  const command = commands[name]
  if (command === undefined) {
    process.stderr.write(`flowgate: unknown command ${JSON.stringify(name)}\n${USAGE}`)
    return EXIT_INVALID
  }
  try {
    return await command(rest)
  } catch (err) {
    return fail(err)
  }
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => { process.exitCode = fail(err) })
