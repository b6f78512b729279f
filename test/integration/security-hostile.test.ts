/**
 * Hostile input: thousands of malformed and truncated packets, oversized
 * remaining lengths (with and without a body behind them), invalid UTF-8 and
 * wildcards in publish topics, and slow-loris connections, while a
 * well-behaved client publishes at QoS 1. The gateway keeps acknowledging it
 * throughout, its memory stays bounded, and everything it acknowledged is in
 * the log. Every attack is bounded in count, and each connection in time.
 */
import { connect as netConnect, type Socket } from 'node:net'
import { join } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import t from 'tap'
import mqttPacket from 'mqtt-packet'
import { securityOf } from '../../gateway/broker.js'
import { connect, startGateway, tempDir } from '../helpers/gateway.js'
import { securityConfig } from '../helpers/security.js'

const connectPacket = (clientId: string): Buffer => mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive: 0 })
const CONNECT = connectPacket('x')

function varint (n: number): Buffer {
  const out: number[] = []
  do {
    let b = n % 128
    n = Math.floor(n / 128)
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Buffer.from(out)
}

/** A PUBLISH built byte by byte, so the topic can be anything (MQTT.js and mqtt-packet would refuse). */
function publish (topic: Buffer, qos: 0 | 1, payload = Buffer.from('p')): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, qos > 0 ? Buffer.from([0, 1]) : Buffer.alloc(0), payload])
  return Buffer.concat([Buffer.from([0x30 | (qos << 1)]), varint(body.length), body])
}

const withConnect = (b: Buffer): Buffer => Buffer.concat([CONNECT, b])

/** Malformed and truncated packets; `end` ones are half-closed by the sender (the gateway cannot know they are over). */
const MALFORMED: Array<{ bytes: Buffer, end: boolean }> = [
  { bytes: Buffer.from([0x00, 0x00]), end: false }, // reserved packet type 0
  { bytes: withConnect(Buffer.from([0xf0, 0x00])), end: false }, // reserved type 15 after CONNECT
  { bytes: withConnect(Buffer.from([0x36, 0x05, 0x00, 0x01, 0x61, 0x00, 0x01])), end: false }, // PUBLISH with QoS 3
  { bytes: withConnect(Buffer.from([0x80, 0x06, 0x00, 0x01, 0x00, 0x01, 0x61, 0x00])), end: false }, // SUBSCRIBE with flags 0
  { bytes: withConnect(Buffer.from([0x30, 0x03, 0x00, 0x10, 0x41])), end: false }, // topic length beyond the packet
  { bytes: withConnect(Buffer.from([0x32, 0x05, 0x00, 0x00, 0x00, 0x01, 0x61])), end: false }, // empty topic
  { bytes: withConnect(CONNECT), end: false }, // a second CONNECT
  { bytes: publish(Buffer.from('before/connect'), 1), end: false }, // PUBLISH before CONNECT
  { bytes: Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x58, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00]), end: false }, // protocol name MQTX
  { bytes: Buffer.from([0x10, 0x0c, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x09, 0x02, 0x00, 0x00, 0x00, 0x00]), end: false }, // protocol level 9
  { bytes: withConnect(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01])), end: false }, // five-byte remaining length
  { bytes: withConnect(Buffer.from([0x62, 0x02, 0x00])), end: true }, // truncated PUBREL
  { bytes: withConnect(Buffer.concat([Buffer.from([0x32, 0x32]), Buffer.alloc(10, 0x61)])), end: true }, // truncated PUBLISH body
  { bytes: CONNECT.subarray(0, 7), end: true }, // truncated CONNECT
  { bytes: withConnect(Buffer.from([0xc0, 0x01, 0x00])), end: false } // PINGREQ with a body
]

interface Outcome { closedByGateway: boolean }

/**
 * Opens a connection, runs `script` on it and resolves once it is closed. `end` half-closes it from
 * this side; a sender-side limit of 10 s bounds every connection. closedByGateway: neither happened.
 */
async function hostile (port: number, script: (s: Socket, end: (last?: Buffer) => void) => void): Promise<Outcome> {
  return await new Promise(resolve => {
    const s = netConnect(port, '127.0.0.1')
    let byUs = false
    const end = (last?: Buffer): void => {
      byUs = true
      if (last !== undefined) s.end(last)
      else s.end()
    }
    s.on('error', () => {})
    s.resume() // whatever the gateway answers is read and dropped
    const limit = setTimeout(() => { byUs = true; s.destroy() }, 10_000)
    s.once('connect', () => script(s, end))
    s.once('close', () => {
      clearTimeout(limit)
      resolve({ closedByGateway: !byUs })
    })
  })
}

/** Runs `count` hostile connections, `concurrency` at a time. */
async function wave (count: number, concurrency: number, one: (i: number) => Promise<Outcome>): Promise<Outcome[]> {
  const results: Outcome[] = []
  let next = 0
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) results.push(await one(next++))
  }))
  return results
}

t.test('hostile input does not stop a well-behaved client, grow memory or lose acknowledged data', async t => {
  const dir = await tempDir(t)
  const gw = await startGateway(t, securityConfig(join(dir, 'data'), `listeners:
  - port: 0
limits: { maxPacketSize: 64KiB, connectTimeout: 300ms }`))
  const port = gw.listeners[0]?.port ?? 0

  // the well-behaved client: QoS 1, one publish in flight, a modest pace
  const good = await connect(t, `mqtt://127.0.0.1:${port}`, { clientId: 'good' })
  let goodClosed = 0
  good.on('close', () => goodClosed++)
  const acked: number[] = []
  let stop = false
  let warm: () => void = () => {}
  const warmedUp = new Promise<void>(resolve => { warm = resolve })
  const lane = (async () => {
    for (let i = 0; !stop; i++) {
      await good.publishAsync('good/seq', String(i), { qos: 1 })
      acked.push(i)
      if (acked.length === 50) warm()
      await delay(2) // pacing: a device, not a benchmark
    }
  })()
  await warmedUp

  const rssBefore = process.memoryUsage().rss
  let rssPeak = rssBefore
  const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss) }, 10)
  t.teardown(() => clearInterval(sampler))
  const progress: Array<[string, number, number]> = []
  /** Repeats a wave of attacks until the good client has had 10 PUBACKs meanwhile (at most 10 waves). */
  const phase = async (name: string, run: () => Promise<Outcome[]>, gatewayCloses: boolean): Promise<void> => {
    const from = acked.length
    const outcomes: Outcome[] = []
    let waves = 0
    do {
      outcomes.push(...await run())
      waves++
    } while (acked.length - from < 10 && waves < 10)
    progress.push([name, acked.length - from, waves])
    if (gatewayCloses) t.equal(outcomes.filter(o => !o.closedByGateway).length, 0, `${name}: the gateway closed all ${outcomes.length} connections itself`)
    else t.ok(outcomes.length > 0, `${name}: ${outcomes.length} connections`)
  }

  await phase('malformed and truncated packets', async () => await wave(1500, 100, async i => {
    const m = MALFORMED[i % MALFORMED.length] as { bytes: Buffer, end: boolean }
    return await hostile(port, (s, end) => { if (m.end) end(m.bytes); else s.write(m.bytes) })
  }), false)

  await phase('random bytes', async () => await wave(500, 100, async i => await hostile(port, (_s, end) => {
    const bytes = Buffer.alloc(1 + (i % 97))
    for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 31 + j * 17) & 0xff
    end(bytes)
  })), false)

  await phase('oversized remaining length, header only', async () => await wave(300, 100, async () =>
    await hostile(port, s => s.write(withConnect(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]))))), true)

  let body = 0
  await phase('oversized remaining length with 8 MiB behind it', async () => await wave(48, 24, async () => await hostile(port, s => {
    // distinct client ids: a second CONNECT with the same id would close the first connection for us
    s.write(Buffer.concat([connectPacket(`body-${body++}`), Buffer.from([0x30, 0x80, 0x80, 0x80, 0x40])])) // announces 128 MiB
    const chunk = Buffer.alloc(64 * 1024, 0x61)
    let sent = 0
    const pump = (): void => {
      while (sent < 8 * 1024 * 1024 && !s.destroyed) {
        sent += chunk.length
        if (!s.write(chunk)) { s.once('drain', pump); return }
      }
    }
    pump()
  })), true)

  await phase('invalid UTF-8 topics', async () => await wave(300, 100, async i => {
    const topic = Buffer.from([0x61, 0x2f, 0xff, 0xfe, 0x80 + (i % 64)])
    return await hostile(port, s => s.write(withConnect(publish(topic, 1))))
  }), true)

  await phase('wildcards in publish topics', async () => await wave(300, 100, async i => {
    const topic = Buffer.from(['a/+/b', '#', 'a/#', '+'][i % 4] as string)
    return await hostile(port, s => s.write(withConnect(publish(topic, (i % 2) as 0 | 1))))
  }), true)

  await phase('slow loris', async () => await wave(100, 100, async i => await hostile(port, s => {
    if (i % 2 === 0) return // silent: never sends a byte
    let at = 0
    const drip = setInterval(() => { if (at < CONNECT.length && !s.destroyed) s.write(CONNECT.subarray(at, ++at)); else clearInterval(drip) }, 50)
    s.once('close', () => clearInterval(drip))
  })), true)

  clearInterval(sampler)
  const rssAfter = process.memoryUsage().rss
  stop = true
  await lane
  await good.publishAsync('good/last', 'x', { qos: 1 })

  for (const [name, n, waves] of progress) t.ok(n >= 10, `the good client got ${n} PUBACKs during "${name}" (${waves} waves)`)
  t.equal(goodClosed, 0, 'the good client was never disconnected')
  const mib = (n: number): string => (n / 1048576).toFixed(1)
  // 24 connections at a time each push 8 MiB of an announced 128 MiB body: a broker that buffers
  // bodies (Aedes without the guard) peaks some 300 MiB above the start here
  t.ok(rssPeak - rssBefore < 128 * 1048576, `peak memory stays bounded (rss peaked ${mib(rssPeak - rssBefore)} MiB above the start)`)
  t.ok(rssAfter - rssBefore < 128 * 1048576, `memory after the attack is bounded (rss ${mib(rssAfter - rssBefore)} MiB above the start)`)

  await gw.log.flush()
  const records = await gw.log.read(1, 1_000_000)
  const logged = new Set(records.filter(r => r.topic === 'good/seq').map(r => Number(r.payload.toString())))
  t.equal(acked.filter(i => !logged.has(i)).length, 0, `all ${acked.length} acknowledged publishes are in the log`)
  t.notOk(records.some(r => /[+#\uFFFD]/.test(r.topic) || r.topic === 'before/connect'), 'nothing hostile reached the log')

  const stats = securityOf(gw.broker)?.stats()
  t.ok((stats?.limitClosures.maxPacketSize ?? 0) >= 324, `oversized packets are counted (${stats?.limitClosures.maxPacketSize})`)
  t.ok((stats?.limitClosures.connectTimeout ?? 0) >= 100, 'slow-loris connections are counted')
  t.ok((stats?.protocolErrors ?? 0) >= 300, 'malformed input is counted')

  const fresh = await connect(t, `mqtt://127.0.0.1:${port}`, { clientId: 'after' })
  await fresh.publishAsync('after/attack', 'x', { qos: 1 })
  t.pass('a new client connects and publishes after the attack')
})
