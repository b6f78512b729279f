import { printConfig } from '../../config/index.js'
import { EXIT_OK, FlowgateError } from '../errors.js'
import { loadGatewayConfig } from '../config.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

export const checkConfig: Command = {
  usage: 'check-config --config FILE     validate a config file and print the effective config, secrets redacted',
  async run (args) {
    const { values } = parseOptions(args, { config: { type: 'string', short: 'c' } })
    if (typeof values.config !== 'string') throw new FlowgateError('FG_ERR_USAGE', 'check-config needs --config FILE')
    process.stdout.write(printConfig(await loadGatewayConfig(values.config)))
    return EXIT_OK
  }
}
