import { EXIT_OK, FlowgateError } from '../errors.js'
import { adminClient, ADMIN_OPTIONS } from './admin-client.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

export const replay: Command = {
  usage: 'replay BRIDGE --from TIME|SEQ  redeliver from an RFC 3339 time or a sequence number',
  async run (args) {
    const { values, positionals } = parseOptions(args, { ...ADMIN_OPTIONS, from: { type: 'string' } }, true)
    const [bridge] = positionals
    if (bridge === undefined || typeof values.from !== 'string') throw new FlowgateError('FG_ERR_USAGE', 'replay needs BRIDGE and --from TIME|SEQ')
    const body = /^\d+$/.test(values.from) ? { fromSeq: Number(values.from) } : { fromTime: values.from }
    const r = await adminClient(values).post(`/api/bridges/${encodeURIComponent(bridge)}/replay`, body) as { fromSeq: number, previousCursor: number }
    process.stdout.write(`bridge ${bridge} replaying from sequence ${r.fromSeq} (cursor was ${r.previousCursor})\n`)
    return EXIT_OK
  }
}
