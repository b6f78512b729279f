import { toJSONFormat } from '../../bridges/index.js'
import { EXIT_OK, FlowgateError } from '../errors.js'
import { startReceiver } from '../receiver.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

export const receive: Command = {
  usage: 'receive [--host H] [--port N]   a CloudEvents HTTP receiver: prints each event as one JSON line',
  async run (args) {
    const { values } = parseOptions(args, { host: { type: 'string' }, port: { type: 'string', short: 'p' } })
    const host = typeof values.host === 'string' ? values.host : '127.0.0.1'
    const port = typeof values.port === 'string' ? Number(values.port) : 9090
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new FlowgateError('FG_ERR_USAGE', `--port must be 0-65535, got ${String(values.port)}`)
    let receiver
    try {
      receiver = await startReceiver({
        host,
        port,
        onEvent: event => { process.stdout.write(JSON.stringify(toJSONFormat(event)) + '\n') },
        onInvalid: reason => { process.stderr.write(`flowgate receive: rejected a request: ${reason}\n`) }
      })
    } catch (cause) {
      throw new FlowgateError('FG_ERR_LISTEN', `cannot listen on ${host}:${port} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause })
    }
    process.stderr.write(`flowgate receive: listening on ${receiver.url}\n`)
    await new Promise<void>(resolve => {
      process.once('SIGINT', () => resolve())
      process.once('SIGTERM', () => resolve())
    })
    await receiver.close()
    return EXIT_OK
  }
}
