import { EXIT_OK } from '../errors.js'
import { adminClient, ADMIN_OPTIONS } from './admin-client.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

export const tail: Command = {
  usage: 'tail [--from SEQ]              follow new events in the log (one JSON line each)',
  async run (args) {
    const { values } = parseOptions(args, { ...ADMIN_OPTIONS, from: { type: 'string' } })
    const client = adminClient(values)
    let next: number
    if (typeof values.from === 'string') next = Number(values.from)
    else next = ((await client.get('/api/events?limit=0')) as { lastSeq: number }).lastSeq + 1
    let stopped = false
    const stop = (): void => { stopped = true }
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
    while (!stopped) {
      const page = await client.get(`/api/events?fromSeq=${next}&limit=1000&waitMs=1000`) as { events: Array<{ seq: number }> }
      for (const e of page.events) {
        process.stdout.write(JSON.stringify(e) + '\n')
        next = e.seq + 1
      }
    }
    return EXIT_OK
  }
}
