/**
 * Broker state survives a restart: a real Aedes broker on port 0 with its state
 * in LevelDB, real MQTT.js clients, the broker and the database closed and
 * reopened on the same directory between the two halves of each test.
 */
import type { Aedes } from 'aedes'
import mqtt, { type IClientOptions, type IConnackPacket, type MqttClient } from 'mqtt'
import t from 'tap'
import { brokerHandled, brokerSawDisconnect, startBroker, tempDir, type Teardown } from '../helpers/broker-persistence-fixtures.js'

interface Received {
  topic: string
  payload: Buffer
  retain: boolean
}

interface Connected {
  client: MqttClient
  connack: IConnackPacket
  /** Resolves with the next `count` messages, in arrival order. */
  next: (count: number) => Promise<Received[]>
}

/**
 * Connects and records every message from the first byte on, so that messages
 * the broker sends right after CONNACK (a restored session's queue) are kept.
 */
async function connect (t: Teardown, url: string, options: IClientOptions): Promise<Connected> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, ...options })
  t.teardown(async () => { await client.endAsync(true) })
  const inbox: Received[] = []
  let wake: (() => void) | undefined
  let closed = false
  client.on('message', (topic, payload, packet) => {
    inbox.push({ topic, payload, retain: packet.retain })
    wake?.()
  })
  client.on('close', () => {
    closed = true
    wake?.()
  })
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve)
    client.once('error', reject)
  })
  let taken = 0
  async function next (count: number): Promise<Received[]> {
    while (inbox.length < taken + count) {
      if (closed) throw new Error(`connection closed after ${inbox.length - taken} of ${count} messages`)
      await new Promise<void>(resolve => { wake = resolve })
    }
    const out = inbox.slice(taken, taken + count)
    taken += count
    return out
  }
  return { client, connack, next }
}

/** Ends a client cleanly and waits until the broker has processed it. */
async function disconnect (broker: Aedes, c: Connected, clientId: string): Promise<void> {
  const gone = brokerSawDisconnect(broker, clientId)
  await c.client.endAsync()
  await gone
}

const texts = (messages: Received[]): string[] => messages.map(m => m.payload.toString())

t.test('a retained message survives a restart', async t => {
  const dir = await tempDir(t)
  // not valid UTF-8: payload bytes must come back as bytes
  const payload = Buffer.from([0xff, 0x00, 0xfe, 0x41])

  let run = await startBroker(t, dir)
  const publisher = await connect(t, run.url, { clientId: 'pub-retained' })
  const stored = brokerHandled(run.broker, 'site/kitchen/temp', 1)
  await publisher.client.publishAsync('site/kitchen/temp', payload, { qos: 1, retain: true })
  await stored
  await publisher.client.endAsync()
  await run.stop()

  run = await startBroker(t, dir)
  const subscriber = await connect(t, run.url, { clientId: 'sub-retained' })
  await subscriber.client.subscribeAsync('site/+/temp', { qos: 1 })
  const [message] = await subscriber.next(1)
  t.equal(message?.topic, 'site/kitchen/temp')
  t.same(message?.payload, payload, 'payload bytes unchanged')
  t.equal(message?.retain, true, 'delivered as retained')
})

t.test('queued QoS 1 messages of a persistent session survive a restart, in order', async t => {
  const dir = await tempDir(t)
  const session: IClientOptions = { clientId: 'dev-queue', clean: false }
  const topic = 'cmd/dev-queue'

  let run = await startBroker(t, dir)
  const sub = await connect(t, run.url, session)
  await sub.client.subscribeAsync(topic, { qos: 1 })
  await disconnect(run.broker, sub, 'dev-queue')

  const publisher = await connect(t, run.url, { clientId: 'pub-queue' })
  const queued = brokerHandled(run.broker, topic, 5)
  for (let i = 1; i <= 5; i++) {
    await publisher.client.publishAsync(topic, `m${i}`, { qos: 1 })
  }
  await queued
  await publisher.client.endAsync()
  await run.stop()

  run = await startBroker(t, dir)
  const back = await connect(t, run.url, session)
  t.equal(back.connack.sessionPresent, true, 'session restored')
  t.same(texts(await back.next(5)), ['m1', 'm2', 'm3', 'm4', 'm5'], 'all queued messages, in publish order')

  // nothing is delivered twice: the next message is the one published now
  const publisher2 = await connect(t, run.url, { clientId: 'pub-queue-2' })
  await publisher2.client.publishAsync(topic, 'live', { qos: 1 })
  t.same(texts(await back.next(1)), ['live'])
})

t.test('the subscription of a persistent session survives a restart', async t => {
  const dir = await tempDir(t)
  const session: IClientOptions = { clientId: 'dev-sub', clean: false }
  const topic = 'cmd/dev-sub'

  let run = await startBroker(t, dir)
  const sub = await connect(t, run.url, session)
  await sub.client.subscribeAsync('cmd/+', { qos: 1 })
  await disconnect(run.broker, sub, 'dev-sub')
  await run.stop()

  run = await startBroker(t, dir)
  // offline: the restarted broker must know the subscription to queue this
  const publisher = await connect(t, run.url, { clientId: 'pub-sub' })
  const queued = brokerHandled(run.broker, topic, 1)
  await publisher.client.publishAsync(topic, 'while-offline', { qos: 1 })
  await queued

  const back = await connect(t, run.url, session)
  t.equal(back.connack.sessionPresent, true, 'session restored')
  t.same(texts(await back.next(1)), ['while-offline'])

  // online: the restored subscription routes live publishes, without a new SUBSCRIBE
  await publisher.client.publishAsync(topic, 'while-online', { qos: 1 })
  t.same(texts(await back.next(1)), ['while-online'])
})
