/**
 * PacketGuard: sits between a connection and Aedes and enforces the limits that
 * must hold before Aedes parses anything. Aedes 1.x has no packet size limit
 * (its parser buffers a body up to the 256 MiB the protocol allows), so the
 * guard reads each MQTT fixed header itself and closes the connection as soon
 * as a remaining length above `maxPacketSize` is announced, before the body
 * arrives. It meters PUBLISH packets per connection (token bucket): a client
 * over the rate is not read from until the rate allows its next publishes, so
 * TCP slows it down and nothing is refused. In the same way it stops reading at
 * the next PUBLISH while the ingest gate is shut (the event log is behind, see
 * gateway/ingest-gate.ts), and keeps the broker's keepalive timer from expiring
 * meanwhile: a client paused by the gateway is not disconnected by it. It closes
 * a connection whose first packet is not complete in time.
 *
 * It only tracks packet boundaries (O(packets), not O(bytes)); bytes pass
 * through unchanged. The messages a group commit releases to a subscriber,
 * written one by one, leave in one system call per turn of the event loop;
 * acknowledgements go out at once.
 *
 * Outgoing data is bounded. The broker's writes never wait here: what the
 * connection has not taken yet waits in its buffer, and a client that lets
 * more than `maxOutboundBytes` pile up, or takes nothing for
 * `slowClientTimeout` while data waits, is disconnected as a slow client.
 * A write still answers false while the connection's buffer is full, so a
 * writer that waits for 'drain' (Aedes sending a session's stored messages)
 * goes at the client's pace; the live deliveries of publishes do not wait
 * (gateway/fanout.ts).
 */
import { Duplex } from 'node:stream'
import type { IngestGate } from './ingest-gate.js'
import { TokenBucket } from './limits-rules.js'

export type GuardLimit = 'maxPacketSize' | 'connectTimeout' | 'slow-client'

/** The limits of GuardOptions, which a reload changes. */
export type GuardLimits = Pick<GuardOptions, 'maxPacketSize' | 'publishRate' | 'publishBurst' | 'connectTimeoutMs' | 'maxOutboundBytes' | 'slowClientTimeoutMs'>

export interface GuardOptions {
  /** Largest whole packet (fixed header included), in bytes. */
  maxPacketSize: number
  /** PUBLISH packets a second; 0: unlimited. A client over the rate is held (not read from), not closed. */
  publishRate: number
  /** PUBLISH packets a client may send at once before the rate applies. */
  publishBurst: number
  /** Time allowed for the first packet (CONNECT) to arrive complete, in ms. */
  connectTimeoutMs: number
  /** Most bytes waiting to be sent; past it the client is disconnected as slow. */
  maxOutboundBytes: number
  /** Longest time data may wait without any of it being sent, in ms; then the client is disconnected as slow. */
  slowClientTimeoutMs: number
  /** Called once when a limit closes the connection. */
  onLimit: (kind: GuardLimit, detail: string) => void
  /** Called once when a fixed header is malformed (the connection is closed). */
  onMalformed: (detail: string) => void
  /** Called each time a client held for the publish rate is read from again, with how long it was held (ms). */
  onThrottled?: (ms: number) => void
  /** While shut, no PUBLISH is read from the connection. */
  gate?: IngestGate
  /** Called every `heldTickMs` while the client is held at the gate (the broker's keepalive must not expire). */
  onHeldTick?: () => void
  heldTickMs?: number
  now?: () => number
}

const PUBLISH = 3
const CLOSED = -1
/** Remaining length by packet type where MQTT 3.1.1 fixes it; -1 for reserved types. */
const FIXED_LENGTH: Readonly<Record<number, number>> = { 0: -1, 4: 2, 5: 2, 6: 2, 7: 2, 12: 0, 14: 0, 15: -1 }

export class PacketGuard extends Duplex {
  private readonly inner: Duplex
  private opts: GuardOptions
  private readonly now: () => number
  private bucket: TokenBucket | undefined
  private connectTimer: NodeJS.Timeout | undefined
  private stopped = false
  // fixed-header state: 0 expecting the first byte, 1 reading the remaining length, 2 skipping the body
  private state: 0 | 1 | 2 = 0
  private type = 0
  private length = 0
  private multiplier = 1
  private lengthBytes = 0
  private skip = 0
  private first = true
  /** Read from the connection but not yet passed on: the client is over its publish rate, or the gate is shut. */
  private held: Buffer[] = []
  /** Why the client is held, while it is. */
  private holding: 'rate' | 'gate' | undefined
  /** Why the last scan stopped before a PUBLISH. */
  private stoppedFor: 'rate' | 'gate' = 'rate'
  /** Set while the client is held for the publish rate. */
  private releaseTimer: NodeJS.Timeout | undefined
  /** Set while the client is held at the gate: withdraws it, and the keepalive ticks. */
  private leaveGate: (() => void) | undefined
  private heldTicker: NodeJS.Timeout | undefined
  private heldSince = 0
  /** The broker wants more data (the last push was taken). */
  private wanted = true
  /** The connection ended while data was held. */
  private ended = false
  /** True while the connection is corked to gather this turn's deliveries. */
  private coalescing = false
  /** Writes handed to the connection and not yet sent. */
  private unsent = 0
  /** When the connection last sent something, or when data started to wait. */
  private lastSent = 0
  private slowTimer: NodeJS.Timeout | undefined
  /** A write answered false: 'drain' is due when the connection's buffer empties. */
  private drainDue = false
  private readonly onSent = (): void => {
    this.unsent--
    this.lastSent = this.now()
  }
  private readonly checkSlow = (): void => {
    this.slowTimer = undefined
    if (this.stopped || this.unsent === 0) return
    const idle = this.now() - this.lastSent
    const timeout = this.opts.slowClientTimeoutMs
    if (idle >= timeout) this.stop(() => this.opts.onLimit('slow-client', `nothing sent for ${Math.round(idle)}ms with ${this.inner.writableLength} bytes waiting (slowClientTimeout ${timeout}ms)`))
    else this.armSlowTimer(timeout - idle)
  }

  /** One timer a connection, left to run out while the client keeps up; it does not keep the process alive. */
  private armSlowTimer (ms: number): void {
    this.slowTimer = setTimeout(this.checkSlow, ms)
    this.slowTimer.unref()
  }
  /**
   * New limits (a reload): the packet size from the next packet, the publish rate from the next
   * publish (with a full burst), the slow-client bounds from the next write.
   */
  setLimits (limits: GuardLimits): void {
    this.opts = { ...this.opts, ...limits }
    this.bucket = limits.publishRate > 0 ? new TokenBucket(limits.publishRate, limits.publishBurst, this.now()) : undefined
  }

  /** Sends what this turn has gathered: when the turn ends, or sooner (a full buffer, a close). */
  private readonly flushTurn = (): void => {
    if (!this.coalescing) return
    this.coalescing = false
    this.inner.uncork()
  }

  constructor (inner: Duplex, opts: GuardOptions) {
    super({ allowHalfOpen: false })
    this.inner = inner
    this.opts = opts
    this.now = opts.now ?? (() => performance.now())
    this.bucket = opts.publishRate > 0 ? new TokenBucket(opts.publishRate, opts.publishBurst, this.now()) : undefined
    this.connectTimer = setTimeout(() => this.stop(() => opts.onLimit('connectTimeout', `no complete CONNECT within ${opts.connectTimeoutMs}ms`)), opts.connectTimeoutMs)
    inner.on('data', (chunk: Buffer) => this.onData(chunk))
    inner.on('end', () => {
      // what is held goes first
      if (this.holding !== undefined) this.ended = true
      else this.push(null)
    })
    inner.on('error', err => this.destroy(err))
    inner.on('close', () => { if (!this.destroyed) this.destroy() })
    inner.on('drain', () => {
      if (!this.drainDue) return
      this.drainDue = false
      this.emit('drain')
    })
  }

  private onData (chunk: Buffer): void {
    if (this.stopped) return
    if (this.holding !== undefined) this.held.push(chunk)
    else this.admit(chunk)
  }

  /** Passes `chunk` on, up to the first PUBLISH the rate does not allow yet; holds the rest. */
  private admit (chunk: Buffer): void {
    const upTo = this.scan(chunk)
    if (upTo === CLOSED) return
    if (upTo === chunk.length) {
      this.pass(chunk)
      return
    }
    if (upTo > 0) this.pass(chunk.subarray(0, upTo))
    this.hold(chunk.subarray(upTo))
  }

  private pass (chunk: Buffer): void {
    if (this.push(chunk)) return
    this.wanted = false
    this.inner.pause()
  }

  /**
   * Over the publish rate, or the gate is shut: stop reading the connection until enough tokens
   * are back for the next publishes, or the gate opens. The client's TCP window fills and it slows
   * down; nothing is refused.
   */
  private hold (rest: Buffer): void {
    this.held.push(rest)
    this.inner.pause()
    const now = this.now()
    this.heldSince = now
    this.holding = this.stoppedFor
    if (this.holding === 'rate') {
      this.releaseTimer = setTimeout(this.release, (this.bucket as TokenBucket).msUntilReady(now))
      return
    }
    this.leaveGate = (this.opts.gate as IngestGate).whenOpen(this.release)
    const tick = this.opts.onHeldTick
    if (tick !== undefined) {
      this.heldTicker = setInterval(tick, this.opts.heldTickMs ?? 1000)
      this.heldTicker.unref()
    }
  }

  private readonly release = (): void => {
    const was = this.holding
    this.unhold()
    if (this.stopped) return
    if (was === 'rate') this.opts.onThrottled?.(this.now() - this.heldSince)
    const held = this.held
    this.held = []
    for (let i = 0; i < held.length; i++) {
      if (this.holding !== undefined) {
        // held again: what is left waits behind the part just held, in order
        for (let j = i; j < held.length; j++) this.held.push(held[j] as Buffer)
        return
      }
      this.admit(held[i] as Buffer)
      if (this.stopped) return
    }
    if (this.holding !== undefined) return
    if (this.ended) this.push(null)
    else if (this.wanted) this.inner.resume()
  }

  private unhold (): void {
    this.holding = undefined
    clearTimeout(this.releaseTimer)
    this.releaseTimer = undefined
    this.leaveGate?.()
    this.leaveGate = undefined
    clearInterval(this.heldTicker)
    this.heldTicker = undefined
  }

  /**
   * Walks the packet boundaries in `chunk`: how much of it may go to the broker now (all of it, or
   * up to a PUBLISH the gate or the rate holds back), or CLOSED when the connection was closed for it.
   */
  private scan (chunk: Buffer): number {
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.state === 2) {
        const take = Math.min(this.skip, n - i)
        this.skip -= take
        i += take
        if (this.skip === 0) this.packetDone()
        continue
      }
      const byte = chunk[i] as number
      if (this.state === 0 && byte >> 4 === PUBLISH) {
        if (this.opts.gate !== undefined && !this.opts.gate.open) {
          this.stoppedFor = 'gate'
          return i
        }
        if (this.bucket !== undefined && !this.bucket.take(this.now())) {
          this.stoppedFor = 'rate'
          return i
        }
      }
      i++
      if (this.state === 0) {
        this.type = byte >> 4
        this.length = 0
        this.multiplier = 1
        this.lengthBytes = 0
        this.state = 1
        continue
      }
      // [MQTT-2.2.3] remaining length: up to four bytes, seven bits each, low first
      this.length += (byte & 0x7f) * this.multiplier
      this.multiplier *= 128
      this.lengthBytes++
      if ((byte & 0x80) !== 0) {
        if (this.lengthBytes === 4) {
          this.stop(() => this.opts.onMalformed('remaining length longer than four bytes'))
          return CLOSED
        }
        continue
      }
      const fixed = FIXED_LENGTH[this.type]
      if (fixed === -1 || (fixed !== undefined && fixed !== this.length)) {
        // [MQTT-2.2] reserved types; PUBACK…PUBCOMP carry 2 bytes, PINGREQ and DISCONNECT none (MQTT 3.1.1)
        this.stop(() => this.opts.onMalformed(fixed === -1 ? `reserved packet type ${this.type}` : `packet type ${this.type} with remaining length ${this.length}`))
        return CLOSED
      }
      const total = 1 + this.lengthBytes + this.length
      if (total > this.opts.maxPacketSize) {
        this.stop(() => this.opts.onLimit('maxPacketSize', `packet of ${total} bytes announced, limit ${this.opts.maxPacketSize}`))
        return CLOSED
      }
      if (this.length === 0) this.packetDone()
      else {
        this.skip = this.length
        this.state = 2
      }
    }
    return n
  }

  private packetDone (): void {
    this.state = 0
    if (this.first) {
      this.first = false
      clearTimeout(this.connectTimer)
      this.connectTimer = undefined
    }
  }

  /** Closes the connection once, after reporting why; nothing more reaches the broker. */
  private stop (report: () => void): void {
    if (this.stopped) return
    this.stopped = true
    report()
    this.destroy()
  }

  override _read (): void {
    this.wanted = true
    if (this.holding === undefined) this.inner.resume()
  }

  /**
   * Says whether the writer should wait for 'drain': while the connection's buffer is full. The
   * chunk is on its way either way (see forward).
   */
  override write (chunk: unknown, encoding?: BufferEncoding | ((error: Error | null | undefined) => void), callback?: (error: Error | null | undefined) => void): boolean {
    if (typeof encoding === 'function') super.write(chunk, encoding)
    else if (encoding === undefined) super.write(chunk, callback)
    else super.write(chunk, encoding, callback)
    if (!this.inner.writableNeedDrain) return true
    this.drainDue = true
    return false
  }

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.forward(chunk)
    callback()
  }

  /** Hands `chunk` to the connection at once; a client that lets too much wait is disconnected. */
  private forward (chunk: Buffer): void {
    if (this.inner.destroyed || this.stopped) return
    // Aedes writes each delivery (PUBLISH) from a callback of its own, and a commit releases hundreds
    // at once: they go out together when the turn of the event loop ends, one send instead of one per
    // packet. Acknowledgements are written together already and go out at once, unless a turn is
    // being gathered, which they join to keep the order.
    if (!this.coalescing && (chunk[0] ?? 0) >> 4 === PUBLISH) {
      this.coalescing = true
      this.inner.cork()
      setImmediate(this.flushTurn)
    }
    if (this.unsent++ === 0) this.lastSent = this.now()
    // the connection's buffer is full: send what the turn has so far
    if (!this.inner.write(chunk, this.onSent)) this.flushTurn()
    const waiting = this.inner.writableLength
    if (waiting > this.opts.maxOutboundBytes) {
      this.stop(() => this.opts.onLimit('slow-client', `${waiting} bytes waiting to be sent (maxOutboundBytes ${this.opts.maxOutboundBytes})`))
      return
    }
    if (this.slowTimer === undefined && this.unsent > 0) this.armSlowTimer(this.opts.slowClientTimeoutMs)
  }

  // mqtt-packet corks the stream while it writes one packet in pieces: pass the pieces on as one write,
  // or Nagle's algorithm holds the second piece for the peer's delayed ACK (~40 ms per PUBACK)
  override _writev (chunks: Array<{ chunk: Buffer }>, callback: (error?: Error | null) => void): void {
    this.forward(chunks.length === 1 ? (chunks[0] as { chunk: Buffer }).chunk : join(chunks))
    callback()
  }

  override _final (callback: (error?: Error | null) => void): void {
    this.flushTurn()
    this.inner.end()
    callback()
  }

  override _destroy (err: Error | null, callback: (error?: Error | null) => void): void {
    clearTimeout(this.connectTimer)
    clearTimeout(this.slowTimer)
    this.unhold()
    this.stopped = true
    // what the turn has gathered still goes out before the close, as it would unbuffered
    this.flushTurn()
    if (!this.inner.destroyed) this.inner.destroy()
    callback(err)
  }
}

/**
 * The pieces as one buffer. Buffer.concat does the same with argument checks that made it one of
 * the larger functions V8 optimizes on the acknowledgement path; the pieces here are always Buffers.
 */
function join (chunks: ReadonlyArray<{ chunk: Buffer }>): Buffer {
  let size = 0
  for (let i = 0; i < chunks.length; i++) size += (chunks[i] as { chunk: Buffer }).chunk.length
  const out = Buffer.allocUnsafe(size)
  let pos = 0
  for (let i = 0; i < chunks.length; i++) {
    const piece = (chunks[i] as { chunk: Buffer }).chunk
    out.set(piece, pos)
    pos += piece.length
  }
  return out
}
