#!/usr/bin/env -S node --max-semi-space-size=8
/**
 * The `flowgate` command. Each subcommand returns an exit code; only this file sets it.
 */
import { allCommands, loadCommand } from './commands/index.js'
import { EXIT_FAILURE, EXIT_INVALID, EXIT_OK, isFlowgateError } from './errors.js'
import { VERSION } from './version.js'

const usage = async (): Promise<string> => `usage: flowgate <command> [options]\n       flowgate --version\n\ncommands:\n${(await allCommands()).map(c => `  ${c.usage}`).join('\n')}\n`

/** Exit 2: the config, a file it names (the password file) or the command line is wrong. */
const INVALID_INPUT = new Set(['FG_ERR_CONFIG_INVALID', 'FG_ERR_CONFIG_READ', 'FG_ERR_AUTH_FILE', 'FG_ERR_USAGE', 'FG_ERR_FILE_EXISTS'])

function fail (err: unknown): number {
  if (isFlowgateError(err)) {
    process.stderr.write(`flowgate: ${err.code}: ${err.message}\n`)
    return INVALID_INPUT.has(err.code) ? EXIT_INVALID : EXIT_FAILURE
  }
  process.stderr.write(`flowgate: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  return EXIT_FAILURE
}

export async function main (argv: string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${VERSION}\n`)
    return EXIT_OK
  }
  // cbor-extract's 32-bit ARM binary is built for ARMv7 (npm run check:prebuilds): on an ARMv6
  // board (Pi Zero, Pi 1) cbor-x decodes in JavaScript rather than run instructions the CPU lacks
  if (process.arch === 'arm' && String((process.config.variables as { arm_version?: unknown }).arm_version) === '6') {
    process.env.CBOR_NATIVE_ACCELERATION_DISABLED ??= 'true'
  }
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(await usage())
    return name === undefined ? EXIT_INVALID : EXIT_OK
  }
  const command = await loadCommand(name)
  if (command === undefined) {
    process.stderr.write(`flowgate: unknown command ${JSON.stringify(name)}\n${await usage()}`)
    return EXIT_INVALID
  }
  try {
    return await command.run(rest)
  } catch (err) {
    return fail(err)
  }
}

main(process.argv.slice(2)).then(code => { process.exitCode = code }, (err: unknown) => { process.exitCode = fail(err) })
