import type { DeadLetter } from '../../storage/index.js'
import { EXIT_OK, FlowgateError } from '../errors.js'
import { adminClient, ADMIN_OPTIONS } from './admin-client.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

export const deadLetters: Command = {
  usage: 'dead-letters BRIDGE [--redrive]  list a bridge\'s dead letters (one JSON line each), or send them again',
  async run (args) {
    const { values, positionals } = parseOptions(args, { ...ADMIN_OPTIONS, redrive: { type: 'boolean' } }, true)
    const [bridge] = positionals
    if (bridge === undefined) throw new FlowgateError('FG_ERR_USAGE', 'dead-letters needs BRIDGE')
    const client = adminClient(values)
    const path = `/api/bridges/${encodeURIComponent(bridge)}/dead-letters`
    if (values.redrive === true) {
      const r = await client.post(`${path}/redrive`) as { redriven: number, failed: unknown[] }
      process.stdout.write(`redriven ${r.redriven}, still failing ${r.failed.length}\n`)
      return EXIT_OK
    }
    let afterSeq: number | undefined
    for (;;) {
      const page = await client.get(`${path}?limit=1000${afterSeq !== undefined ? `&afterSeq=${afterSeq}` : ''}`) as { items: DeadLetter[], nextAfterSeq?: number }
      for (const item of page.items) process.stdout.write(JSON.stringify(item) + '\n')
      // a page ends at 1000 items or at its byte budget; nextAfterSeq says where the next one starts
      if (page.nextAfterSeq === undefined) return EXIT_OK
      afterSeq = page.nextAfterSeq
    }
  }
}
