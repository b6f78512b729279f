/** A CloudEvents receiver for admin/reload tests: records events, answers what `decide` says. */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { decodeHttp, type CloudEvent } from '../../bridges/cloudevents/index.js'
import type { TestContext } from './gateway.js'

export interface OpsReceiver {
  url: string
  events: CloudEvent[]
  /** Status to answer for a request holding these events; 204 by default. */
  decide: (events: CloudEvent[]) => number
  /** Resolves once `predicate` holds for the events received so far. */
  until: (predicate: (events: CloudEvent[]) => boolean) => Promise<void>
}

export async function startOpsReceiver (t: TestContext): Promise<OpsReceiver> {
  const waiters: Array<{ predicate: (e: CloudEvent[]) => boolean, resolve: () => void }> = []
  const r: OpsReceiver = {
    url: '',
    events: [],
    decide: () => 204,
    until: async predicate => {
      if (predicate(r.events)) return
      await new Promise<void>(resolve => waiters.push({ predicate, resolve }))
    }
  }
  const server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const { events } = decodeHttp(req.headers, Buffer.concat(chunks))
      const status = r.decide(events)
      if (status < 300) r.events.push(...events)
      res.writeHead(status).end(status < 300 ? '' : `rejected with ${status}`)
      for (const w of [...waiters]) {
        if (w.predicate(r.events)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve()
        }
      }
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(async () => await new Promise<void>(resolve => { server.close(() => resolve()); server.closeAllConnections() }))
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`
  return r
}
