/**
 * Sending a batch until it is settled: delivered, or its rejected events dead-lettered. The
 * bridge is held meanwhile (see hold.ts) for as long as the failure is the bridge's.
 *
 * MUST: a failure that says the bridge is wrong (retry/classify.ts) retries the same request
 *       forever with backoff; nothing is dead-lettered for it.
 * MUST: with several requests in flight, the first that fails this way holds the bridge: it
 *       alone retries with backoff (and probes), the others wait for it and are sent again
 *       once it is delivered, and no new request goes out meanwhile. One hold, logged once.
 * MUST: a rejection of the events splits a batch until the rejected events are found; those go
 *       to the dead-letter store, the rest are delivered. A 413 for a batch sends the rest in
 *       pieces of the size that fits, and lowers the batch size for what follows.
 * MUST: a dead letter is stored before the cursor passes its event; a failed write is retried.
 * MUST: a 415 to a compressed request is not a rejection of its events: it is sent again
 *       uncompressed at once, and so is everything after it (compression.ts).
 */
import type { DeadLetter, DeadLetterStore } from '../storage/index.js'
import { toJSONFormat, type HttpMessage } from './cloudevents/index.js'
import type { CompiledBridge } from './compile.js'
import type { Throttle } from './bandwidth.js'
import type { Compressor } from './compression.js'
import { LineBudget } from './line-budget.js'
import type { HoldState } from './hold.js'
import type { Item } from './items.js'
import { classify, isTlsCode, nextDelay, type DeliveryOutcome } from './retry/index.js'
import type { SendResult } from './sink/http-sink.js'

export interface Sink {
  send (message: HttpMessage, signal?: AbortSignal): Promise<SendResult>
  /** Bytes a request for `message` takes on the wire (default: its body's). */
  requestBytes? (message: HttpMessage): number
  /** True when the upstream accepts a connection again (a cheap check while it is unreachable). */
  probe? (signal: AbortSignal): Promise<boolean>
  close (): Promise<void>
}

export interface DeliveryLogger {
  info (obj: object, msg: string): void
  warn (obj: object, msg: string): void
}

/** A dead letter as a bridge writes it: why it was dead-lettered travels with it. */
export interface BridgeDeadLetter extends DeadLetter {
  reason: 'rejected' | 'too-large'
}

export interface DeliveryDeps {
  name: string
  sink: Sink
  deadLetters: Pick<DeadLetterStore, 'add'>
  logger: DeliveryLogger
  holds: HoldState
  counts: { delivered: number, retries: number, deadLettered: number, bytesSent: number, bytesBeforeCompression: number }
  /** Aborts the request in flight and any wait: the bridge is stopping. */
  signal: AbortSignal
  now: () => number
  random: () => number
  encode: (items: readonly Item[]) => HttpMessage
  /** Compresses an encoded request (sink.compression). */
  compressor: Compressor
  /** The bandwidth cap (sink.maxBytesPerSecond), when there is one. */
  throttle?: Throttle | undefined
  onRequest?: ((status: number | 'timeout' | 'error', durationMs: number) => void) | undefined
}

/** Dead letters logged one by one per period; more are counted in one line. */
export const DEAD_LETTER_LINES = { burst: 10, periodMs: 60_000 }

/** Backoff while the store fails (a dead-letter write, a log read): the store's trouble, not the upstream's. */
export const STORE_RETRY = { baseMs: 100, maxMs: 5_000 }

export class Delivery {
  /** Most events a batch takes: batch.maxEvents, lowered when the upstream answers 413 to a batch. */
  batchLimit: number
  /** The request that holds the bridge (it alone retries); the others wait for `gate`. */
  private holder: object | undefined
  private gate: { opened: Promise<void>, open: () => void } | undefined

  /** One line per dead letter, up to 10 a minute; the rest are counted in one line a minute. */
  readonly deadLetterLines: LineBudget

  constructor (private readonly cfg: CompiledBridge, private readonly deps: DeliveryDeps) {
    this.batchLimit = cfg.maxEvents
    const name = deps.name
    this.deadLetterLines = new LineBudget(DEAD_LETTER_LINES.burst, DEAD_LETTER_LINES.periodMs, held => {
      deps.logger.warn({ event: 'dead-letters', bridge: name, count: held }, `bridge ${name}: ${held} more events rejected by the upstream and moved to the dead-letter store (not logged one by one)`)
    })
  }

  /**
   * Sends until the upstream takes the events or rejects them for good; holds the bridge
   * meanwhile. `settled(seq)`: every event up to `seq` is settled (a prefix of a split batch).
   * `charged`: bytes the bandwidth cap's bucket was charged for the first attempt already
   * (the bridge waited for them); the attempt charges the difference to its real size.
   */
  async deliver (items: readonly Item[], settled: (seq: number) => void, charged = 0): Promise<void> {
    const { sink, holds, counts, signal, compressor } = this.deps
    const plain = this.deps.encode(items)
    let message = await compressor.encode(plain)
    const me = {}
    let attempt = 0
    let previousMs: number | undefined
    let prepaid = charged
    try {
      for (;;) {
        await this.untilOpen(me)
        await this.sending(message, plain, prepaid)
        prepaid = 0
        const result = await sink.send(message, signal)
        const o = result.outcome
        this.deps.onRequest?.(o.kind === 'response' ? o.status : o.kind === 'timeout' ? 'timeout' : 'error', result.durationMs)
        if (message !== plain && o.kind === 'response' && o.status === 415) {
          // the upstream does not take compressed requests: uncompressed from now on, this one at once
          compressor.refuse()
          message = plain
          counts.retries++
          continue
        }
        const decision = classify(o, this.cfg.deadLetter)
        if (decision.action === 'success') {
          counts.delivered += items.length
          // a hold another request owns is its to end; one carried over (or a store hold) ends here
          if (this.holder === undefined || this.holder === me) holds.release(attempt + 1)
          return
        }
        if (decision.action === 'reject' && (items.length > 1 || decision.deadLetter)) {
          this.openGate(me)
          await this.rejected(items, decision.reason, decision.status, result.body, me, settled)
          return
        }
        // the bridge is wrong, or one event is rejected with a status that does not dead-letter: hold
        attempt++
        counts.retries++
        // another request holds the bridge already: wait for it to get through, then send again
        if (!this.takeGate(me)) continue
        const retryAfter = decision.action === 'hold' ? decision.retryAfter : undefined
        const delay = nextDelay(attempt, { baseMs: this.cfg.retryBaseMs, maxMs: this.cfg.retryMaxMs, random: this.deps.random, jitter: 'decorrelated', previousMs, retryAfter, now: this.deps.now() })
        previousMs = delay
        const probe = decision.action === 'hold' && decision.unreachable ? sink.probe?.bind(sink) : undefined
        holds.enter({ reason: decision.reason, error: describe(o), status: decision.status, nextAttemptAt: this.deps.now() + delay, probing: probe !== undefined })
        await holds.wait(delay, signal, probe)
      }
    } finally {
      this.openGate(me)
    }
  }

  /**
   * Counts a request's bytes as sent and before compression, after waiting for the bandwidth
   * cap to allow them (or charging the difference, when the bridge charged an estimate).
   */
  private async sending (message: HttpMessage, plain: HttpMessage, charged: number): Promise<void> {
    const { sink, counts, throttle } = this.deps
    const bytes = sink.requestBytes?.(message) ?? message.body.length
    if (charged > 0) throttle?.bucket.take(bytes - charged)
    else await throttle?.acquire(bytes, this.deps.signal)
    counts.bytesSent += bytes
    counts.bytesBeforeCompression += message === plain ? bytes : sink.requestBytes?.(plain) ?? plain.body.length
  }

  /** Becomes the request that holds the bridge, unless another one does; true when it is this one. */
  private takeGate (me: object): boolean {
    if (this.holder === undefined) {
      let open: () => void = () => {}
      const opened = new Promise<void>(resolve => { open = resolve })
      this.holder = me
      this.gate = { opened, open }
    }
    return this.holder === me
  }

  /** The request that held the bridge got through (or gave up the hold): the others go again. */
  private openGate (me: object): void {
    if (this.holder !== me) return
    this.holder = undefined
    this.gate?.open()
    this.gate = undefined
  }

  /** Waits while another request holds the bridge; rejects when the bridge stops. */
  private async untilOpen (me: object): Promise<void> {
    const signal = this.deps.signal
    while (this.holder !== undefined && this.holder !== me) {
      signal.throwIfAborted()
      const gate = (this.gate as { opened: Promise<void> }).opened
      let onAbort: () => void = () => {}
      const aborted = new Promise<void>(resolve => { onAbort = resolve })
      signal.addEventListener('abort', onAbort, { once: true })
      try {
        await Promise.race([gate, aborted])
      } finally {
        signal.removeEventListener('abort', onAbort)
      }
    }
    signal.throwIfAborted()
  }

  /** The upstream rejects these events: split a batch to find them; dead-letter an event alone. */
  private async rejected (items: readonly Item[], reason: 'rejected' | 'too-large', status: number, body: string, me: object, settled: (seq: number) => void): Promise<void> {
    if (items.length > 1) {
      // too large: send what is left in pieces of the size that fits (learnt as 413s come);
      // rejected: halve, to find the rejected events in few requests
      if (reason === 'too-large') this.lowerBatchLimit(items.length)
      const half = Math.ceil(items.length / 2)
      for (let from = 0; from < items.length;) {
        const part = items.slice(from, from + (reason === 'too-large' ? this.batchLimit : half))
        await this.deliver(part, settled)
        from += part.length
        // what is settled so far is settled for good: a long hold on a later event must not keep the cursor back
        if (from < items.length) settled((part[part.length - 1] as Item).seq)
      }
      return
    }
    const item = items[0] as Item
    const letter: BridgeDeadLetter = { seq: item.seq, time: this.deps.now(), event: toJSONFormat(item.event) as unknown as Record<string, unknown>, status, body, reason }
    await this.storeDeadLetter(letter, me)
    this.deps.counts.deadLettered++
    const name = this.deps.name
    if (this.deadLetterLines.take()) this.deps.logger.warn({ event: 'dead-letter', bridge: name, seq: item.seq, id: item.event.id, status, reason }, `bridge ${name}: upstream rejected event ${item.event.id} (${status}, ${reason}); moved to the dead-letter store`)
  }

  /**
   * Writes a dead letter, retrying with backoff while the store fails: the cursor must not pass
   * the event before it is stored. While it fails, this request holds the bridge (unless another
   * one does already).
   */
  private async storeDeadLetter (letter: BridgeDeadLetter, me: object): Promise<void> {
    const { holds, signal } = this.deps
    let attempt = 0
    let previousMs: number | undefined
    try {
      for (;;) {
        try {
          await this.deps.deadLetters.add(this.deps.name, [letter])
          if (this.holder === undefined || this.holder === me) holds.release(attempt + 1)
          return
        } catch (err) {
          if (signal.aborted) throw err
          const delay = nextDelay(++attempt, { ...STORE_RETRY, random: this.deps.random, jitter: 'decorrelated', previousMs })
          previousMs = delay
          if (this.takeGate(me)) holds.enter({ reason: 'store', error: `dead-letter write failed: ${errorText(err)}`, nextAttemptAt: this.deps.now() + delay, probing: false })
          await holds.wait(delay, signal)
        }
      }
    } finally {
      this.openGate(me)
    }
  }

  /** A 413 for a batch of `rejected` events: later batches take at most half of that. */
  private lowerBatchLimit (rejected: number): void {
    const limit = Math.max(1, Math.ceil(rejected / 2))
    if (limit >= this.batchLimit) return
    this.batchLimit = limit
    const name = this.deps.name
    this.deps.logger.warn({ event: 'bridge-batch-limit', bridge: name, rejected, maxEvents: limit }, `bridge ${name}: the upstream refused a batch of ${rejected} events as too large (413); batches now take at most ${limit} events`)
  }
}

/** An error as one line: its code and message. */
export function errorText (err: unknown): string {
  const e = err as { code?: unknown, message?: unknown } | undefined
  const code = typeof e?.code === 'string' ? e.code : undefined
  const message = typeof e?.message === 'string' ? e.message : String(err)
  return code !== undefined && !message.includes(code) ? `${code}: ${message}` : message
}

/** What went wrong with a request, for status and logs. */
function describe (outcome: DeliveryOutcome): string {
  if (outcome.kind === 'timeout') {
    const limit = outcome.limitMs !== undefined ? ` within ${outcome.limitMs} ms` : ''
    return outcome.phase === 'body' ? `timeout: response body not complete${limit}` : `timeout: no response${limit}`
  }
  if (outcome.kind === 'network-error') {
    const e = outcome.error as { message?: string } | undefined
    return `${outcome.code !== undefined && isTlsCode(outcome.code) ? 'TLS' : 'network'} error ${outcome.code ?? e?.message ?? ''}`.trim()
  }
  const retryAfter = outcome.headers?.['retry-after']
  return `HTTP ${outcome.status}${typeof retryAfter === 'string' ? `, Retry-After ${retryAfter}` : ''}`
}
