import { EXIT_FAILURE, EXIT_OK } from '../errors.js'
import { loadGatewayConfig } from '../config.js'
import { createGateway } from '../gateway.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

export const start: Command = {
  usage: 'start [--config FILE]          run the gateway (embedded defaults without --config)',
  async run (args) {
    const { values } = parseOptions(args, { config: { type: 'string', short: 'c' } })
    const loaded = await loadGatewayConfig(typeof values.config === 'string' ? values.config : undefined)
    let onFatal: (err: Error) => void = () => {}
    const gateway = await createGateway(loaded.config, { onFatal: err => onFatal(err) })
    return await new Promise<number>(resolve => {
      let stopping = false
      const stop = (reason: string, code: number): void => {
        if (stopping) return
        stopping = true
        gateway.logger.info({ event: 'stopping', reason }, `stopping: ${reason}`)
        gateway.close().then(() => resolve(code), () => resolve(EXIT_FAILURE))
      }
      onFatal = err => stop(err.message, EXIT_FAILURE)
      process.once('SIGINT', () => stop('SIGINT', EXIT_OK))
      process.once('SIGTERM', () => stop('SIGTERM', EXIT_OK))
    })
  }
}
