/**
 * bench:e2e's upstream: a minimal CloudEvents HTTP receiver (node:http) that
 * does as little as possible per event. Batches: JSON.parse of the array, count,
 * check the `sequence` extension runs on without gaps or repeats. Binary mode:
 * the `ce-sequence` header. In both, the publish time carried in the JSON
 * payload ({"t": epoch ms}) gives the publish-to-receiver latency.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface BenchReceiver {
  readonly url: string
  /** Events received (repeats included). */
  readonly events: number
  /** Requests received. */
  readonly requests: number
  /** A sequence number that was not the previous one + 1: a gap (higher) or a repeat (not higher). */
  readonly gaps: number
  readonly repeats: number
  /** Publish-to-receiver latencies of events with a `t` in their JSON data, ms. */
  readonly latencies: number[]
  /** Epoch ms (hi-res) when the receiver first held at least `n` events. */
  until (n: number): Promise<number>
  /** Forget counts and latencies (the next event may start anywhere). */
  reset (): void
  close (): Promise<void>
}

export const epochNow = (): number => performance.timeOrigin + performance.now()

export async function startBenchReceiver (): Promise<BenchReceiver> {
  let events = 0
  let requests = 0
  let gaps = 0
  let repeats = 0
  let last: number | undefined
  let latencies: number[] = []
  let waiters: Array<{ n: number, resolve: (at: number) => void }> = []

  const see = (seq: number): void => {
    if (last !== undefined && seq !== last + 1) {
      if (seq > last) gaps++
      else repeats++
    }
    if (last === undefined || seq > last) last = seq
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const at = epochNow()
      requests++
      const body = chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks)
      const ct = req.headers['content-type'] ?? ''
      if (ct.startsWith('application/cloudevents-batch')) {
        const list = JSON.parse(body.toString('utf8')) as Array<{ sequence: string, data?: { t?: unknown } }>
        for (const e of list) {
          see(Number(e.sequence))
          const t = e.data?.t
          if (typeof t === 'number') latencies.push(at - t)
        }
        events += list.length
      } else if (req.headers['ce-specversion'] !== undefined) {
        see(Number(req.headers['ce-sequence']))
        events++
        if (ct === 'application/json') {
          const t = (JSON.parse(body.toString('utf8')) as { t?: number }).t
          if (typeof t === 'number') latencies.push(at - t)
        }
      } else {
        res.writeHead(400).end()
        return
      }
      res.writeHead(204).end()
      if (waiters.length > 0) {
        const ready = waiters.filter(w => events >= w.n)
        waiters = waiters.filter(w => events < w.n)
        for (const w of ready) w.resolve(at)
      }
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/events`,
    get events () { return events },
    get requests () { return requests },
    get gaps () { return gaps },
    get repeats () { return repeats },
    get latencies () { return latencies },
    async until (n: number): Promise<number> {
      if (events >= n) return epochNow()
      return await new Promise<number>(resolve => waiters.push({ n, resolve }))
    },
    reset () {
      events = 0
      requests = 0
      gaps = 0
      repeats = 0
      last = undefined
      latencies = []
    },
    async close () {
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}
