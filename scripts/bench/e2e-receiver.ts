/**
 * bench:e2e's and bench:wire's upstream: a minimal CloudEvents HTTP receiver (node:http)
 * that does as little as possible per event. Batches: JSON.parse of the array (after undoing
 * gzip or br), count, check the `sequence` extension runs on without gaps or repeats.
 * Structured and binary mode: the `sequence` attribute, the `ce-sequence` header. In batch
 * and binary mode, the publish time carried in the JSON payload ({"t": epoch ms}) gives the
 * publish-to-receiver latency. Optionally it answers each request `latencyMs` late (a
 * distant upstream), and it meters the bytes its connections read (the request bytes on the
 * wire).
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'

export interface BenchReceiver {
  readonly url: string
  /** Events received (repeats included). */
  readonly events: number
  /** Distinct sequence numbers received. */
  readonly distinct: number
  /** Requests received. */
  readonly requests: number
  /** A sequence number that was not the previous one + 1: a gap (higher) or a repeat (not higher). */
  readonly gaps: number
  readonly repeats: number
  /** Bytes read from the connections since reset(): request lines, headers and bodies as sent. */
  readonly wireBytes: number
  /** Publish-to-receiver latencies of events with a `t` in their JSON data, ms. */
  readonly latencies: number[]
  /** Epoch ms (hi-res) when the first request of this round arrived. */
  readonly firstAt: number | undefined
  /** Epoch ms (hi-res) when the receiver first held at least `n` events. */
  until (n: number): Promise<number>
  /** Epoch ms (hi-res) when the receiver first held `n` distinct sequence numbers. */
  untilDistinct (n: number): Promise<number>
  /** Forget counts and latencies (the next event may start anywhere). */
  reset (): void
  close (): Promise<void>
}

export const epochNow = (): number => performance.timeOrigin + performance.now()

/** Which sequence numbers arrived: a bitmap that grows as needed. */
class SeenSet {
  private bits = new Uint8Array(1 << 17)
  size = 0
  add (seq: number): boolean {
    if (seq >= this.bits.length * 8) {
      const grown = new Uint8Array(Math.max(this.bits.length * 2, (seq >> 3) + 1))
      grown.set(this.bits)
      this.bits = grown
    }
    const byte = seq >> 3
    const bit = 1 << (seq & 7)
    if (((this.bits[byte] as number) & bit) !== 0) return false
    this.bits[byte] = (this.bits[byte] as number) | bit
    this.size++
    return true
  }
}

function decoded (body: Buffer, coding: string | undefined): Buffer {
  if (coding === 'gzip') return gunzipSync(body)
  if (coding === 'br') return brotliDecompressSync(body)
  return body
}

export async function startBenchReceiver (opts: { latencyMs?: number } = {}): Promise<BenchReceiver> {
  const latencyMs = opts.latencyMs ?? 0
  let events = 0
  let requests = 0
  let gaps = 0
  let repeats = 0
  let last: number | undefined
  let seen = new SeenSet()
  let latencies: number[] = []
  let firstAt: number | undefined
  let waiters: Array<{ n: number, distinct: boolean, resolve: (at: number) => void }> = []
  const sockets = new Set<Socket>()
  let closedBytes = 0
  let baseline = 0
  const readSoFar = (): number => closedBytes + [...sockets].reduce((n, s) => n + s.bytesRead, 0)

  const see = (seq: number): void => {
    if (last !== undefined && seq !== last + 1) {
      if (seq > last) gaps++
      else repeats++
    }
    if (last === undefined || seq > last) last = seq
    seen.add(seq)
  }

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const at = epochNow()
      firstAt ??= at
      requests++
      const wire = chunks.length === 1 ? chunks[0] as Buffer : Buffer.concat(chunks)
      const body = decoded(wire, req.headers['content-encoding'])
      const ct = req.headers['content-type'] ?? ''
      if (ct.startsWith('application/cloudevents-batch')) {
        const list = JSON.parse(body.toString('utf8')) as Array<{ sequence: string, data?: { t?: unknown } }>
        for (const e of list) {
          see(Number(e.sequence))
          const t = e.data?.t
          if (typeof t === 'number') latencies.push(at - t)
        }
        events += list.length
      } else if (ct.startsWith('application/cloudevents+json')) {
        see(Number((JSON.parse(body.toString('utf8')) as { sequence: string }).sequence))
        events++
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
      if (latencyMs > 0) setTimeout(() => res.writeHead(204).end(), latencyMs)
      else res.writeHead(204).end()
      if (waiters.length > 0) {
        const ready = waiters.filter(w => (w.distinct ? seen.size : events) >= w.n)
        waiters = waiters.filter(w => !ready.includes(w))
        for (const w of ready) w.resolve(at)
      }
    })
  })
  server.keepAliveTimeout = 60_000
  server.on('connection', (socket: Socket) => {
    sockets.add(socket)
    socket.once('close', () => {
      sockets.delete(socket)
      closedBytes += socket.bytesRead
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo

  return {
    url: `http://127.0.0.1:${port}/events`,
    get events () { return events },
    get distinct () { return seen.size },
    get requests () { return requests },
    get gaps () { return gaps },
    get repeats () { return repeats },
    get wireBytes () { return readSoFar() - baseline },
    get latencies () { return latencies },
    get firstAt () { return firstAt },
    async until (n: number): Promise<number> {
      if (events >= n) return epochNow()
      return await new Promise<number>(resolve => waiters.push({ n, distinct: false, resolve }))
    },
    async untilDistinct (n: number): Promise<number> {
      if (seen.size >= n) return epochNow()
      return await new Promise<number>(resolve => waiters.push({ n, distinct: true, resolve }))
    },
    reset () {
      events = 0
      requests = 0
      gaps = 0
      repeats = 0
      last = undefined
      seen = new SeenSet()
      latencies = []
      firstAt = undefined
      baseline = readSoFar()
    },
    async close () {
      await new Promise<void>(resolve => {
        server.close(() => resolve())
        server.closeAllConnections()
      })
    }
  }
}
