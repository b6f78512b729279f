import { EXIT_OK, FlowgateError } from '../errors.js'
import { adminClient, ADMIN_OPTIONS } from './admin-client.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

interface Row { id: string, consumer: string, state: string, sink: string, types?: string[], reason?: string, createdat: string, delivery?: { state?: string, delivered?: number } }

const line = (s: Row): string => [s.id, s.consumer, s.state, s.sink, (s.types ?? ['*']).join(','), s.delivery?.state ?? '-', String(s.delivery?.delivered ?? '-'), s.reason ?? ''].join('\t')

/** `flowgate subscriptions list | approve ID | reject ID [--reason TEXT] | delete ID` through the admin API. */
export const subscriptions: Command = {
  usage: 'subscriptions list [--json] | approve ID | reject ID [--reason TEXT] | delete ID  the Subscriptions API\'s subscriptions: list them, accept a pending one (or resume a suspended one), reject or delete one',
  async run (args) {
    const { values, positionals } = parseOptions(args, { ...ADMIN_OPTIONS, json: { type: 'boolean' }, reason: { type: 'string' }, consumer: { type: 'string' }, state: { type: 'string' } }, true)
    const [action, id] = positionals
    const client = adminClient(values)
    if (action === 'list') {
      const q = new URLSearchParams()
      if (typeof values.consumer === 'string') q.set('consumer', values.consumer)
      if (typeof values.state === 'string') q.set('state', values.state)
      const { subscriptions: rows } = await client.get(`/api/subscriptions${q.size > 0 ? `?${q.toString()}` : ''}`) as { subscriptions: Row[] }
      if (values.json === true) for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n')
      else process.stdout.write(['ID\tCONSUMER\tSTATE\tSINK\tTYPES\tDELIVERY\tDELIVERED\tREASON', ...rows.map(line)].join('\n') + '\n')
      return EXIT_OK
    }
    if (action !== 'approve' && action !== 'reject' && action !== 'delete') throw new FlowgateError('FG_ERR_USAGE', 'subscriptions needs list, approve ID, reject ID or delete ID')
    if (id === undefined) throw new FlowgateError('FG_ERR_USAGE', `subscriptions ${action} needs ID`)
    const path = `/api/subscriptions/${encodeURIComponent(id)}`
    if (action === 'delete') {
      await client.delete(path)
      process.stdout.write(`deleted ${id}\n`)
      return EXIT_OK
    }
    const sub = await client.post(`${path}/${action}`, action === 'reject' && typeof values.reason === 'string' ? { reason: values.reason } : {}) as Row
    process.stdout.write(`${sub.id} ${sub.state}\n`)
    return EXIT_OK
  }
}
