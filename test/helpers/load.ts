/**
 * Load for the broker tests: QoS 1 publishers that keep a window of publishes in
 * flight and time each one to its PUBACK, a subscriber that stops reading its
 * socket, and a deadline for a promise that names what was awaited.
 */
import { connect as netConnect } from 'node:net'
import mqttPacket from 'mqtt-packet'
import { RawClient } from './raw-mqtt.js'

/** `p` or, after `ms`, an error that says what did not happen in time. */
export async function within<T> (ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`not within ${ms} ms: ${what}`)), ms) })
  try {
    return await Promise.race([p, late])
  } finally {
    clearTimeout(timer)
  }
}

/** The payload of message `i` of publisher `name`: its identity first, padded to `size` bytes. */
export function loadPayload (name: string, i: number, size: number): Buffer {
  const out = Buffer.alloc(size, 0x2e)
  out.write(`${name}:${i};`)
  return out
}

/** `name:i` from a payload made by loadPayload. */
export const payloadId = (payload: Buffer): string => payload.subarray(0, payload.indexOf(0x3b)).toString()

export interface PublishRun {
  name: string
  /** PUBACKs received. */
  acked: number
  /** Milliseconds from each publish to its PUBACK, in completion order. */
  latencies: number[]
  /** Why the client stopped early (closed, error); undefined when every publish was acknowledged. */
  stopped?: string
  /** Milliseconds from the first publish to the last PUBACK. */
  elapsedMs: number
}

export interface PublishOptions {
  name: string
  count: number
  /** QoS 1 publishes in flight at once (a device's MQTT client window). */
  window: number
  size: number
  topic?: string
}

/**
 * Publishes `count` QoS 1 messages, `window` at a time, as fast as the broker acknowledges, and
 * times each to its PUBACK. A raw connection rather than MQTT.js: on a busy machine the client's
 * own work would show in the latencies and take CPU from the broker under test.
 */
export async function publishMany (port: number, opts: PublishOptions): Promise<PublishRun> {
  const socket = netConnect(port, '127.0.0.1')
  socket.setNoDelay(true)
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  socket.on('data', (buf: Buffer) => parser.parse(buf))
  const run: PublishRun = { name: opts.name, acked: 0, latencies: [], elapsedMs: 0 }
  const topic = opts.topic ?? `load/${opts.name}`
  const sentAt = new Float64Array(65536) // by message id
  let next = 0
  let start = 0
  const send = (): void => {
    const i = next++
    // message ids 1..65535, reused once acknowledged; the window is far smaller
    const messageId = (i % 65535) + 1
    sentAt[messageId] = performance.now()
    socket.write(mqttPacket.generate({ cmd: 'publish', topic, payload: loadPayload(opts.name, i, opts.size), qos: 1, messageId, retain: false, dup: false }))
  }
  await new Promise<void>(resolve => {
    const stop = (why: string): void => {
      if (run.acked < opts.count) run.stopped ??= why
      resolve()
    }
    socket.on('close', () => stop('connection closed'))
    socket.on('error', err => stop(err.message))
    parser.on('error', err => stop(err.message))
    parser.on('packet', packet => {
      if (packet.cmd === 'connack') {
        if (packet.returnCode !== 0) return stop(`CONNACK ${packet.returnCode ?? '?'}`)
        start = performance.now()
        while (next < Math.min(opts.window, opts.count)) send()
        return
      }
      if (packet.cmd !== 'puback') return
      run.latencies.push(performance.now() - (sentAt[packet.messageId ?? 0] as number))
      if (++run.acked === opts.count) return resolve()
      if (next < opts.count) send()
    })
    socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: opts.name, keepalive: 0 }))
  })
  run.elapsedMs = performance.now() - start
  socket.end(mqttPacket.generate({ cmd: 'disconnect' }))
  return run
}

/** The `q` quantile (0..1) of `values`, nearest rank. */
export function quantile (values: readonly number[], q: number): number {
  if (values.length === 0) return NaN
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] as number
}

/** A client subscribed to `filter` at QoS 1 that then stops reading its socket (its receive buffers fill up). */
export async function stuckSubscriber (port: number, clientId: string, opts: { clean: boolean, filter?: string }): Promise<RawClient> {
  const raw = await RawClient.open(port)
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: opts.clean, clientId, keepalive: 0 })
  const ack = await raw.next()
  if (ack?.cmd !== 'connack' || ack.returnCode !== 0) throw new Error(`no CONNACK for ${clientId}`)
  raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: opts.filter ?? '#', qos: 1 }] })
  const sub = await raw.next()
  if (sub?.cmd !== 'suback') throw new Error(`no SUBACK for ${clientId}`)
  raw.socket.pause()
  return raw
}

/** Sends `count` QoS 1 publishes of `size` bytes in one write over a raw connection; resolves with the PUBACKs received before all arrived or the connection closed. */
export async function blastPublishes (port: number, name: string, count: number, size: number): Promise<number> {
  const raw = await RawClient.open(port)
  raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: name, keepalive: 0 })
  const ack = await raw.next()
  if (ack?.cmd !== 'connack' || ack.returnCode !== 0) throw new Error(`no CONNACK for ${name}`)
  const packets = Array.from({ length: count }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: `load/${name}`, payload: loadPayload(name, i, size), qos: 1, messageId: i + 1, retain: false, dup: false }))
  raw.sendRaw(Buffer.concat(packets))
  let acks = 0
  while (acks < count) {
    const p = await raw.next()
    if (p === null) break
    if (p.cmd === 'puback') acks++
  }
  raw.destroy()
  return acks
}
