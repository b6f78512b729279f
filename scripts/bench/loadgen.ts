/** MQTT load: N publishers at QoS 1, payloads of random size, optionally one subscriber. */
import mqtt, { type MqttClient } from 'mqtt'

export interface LoadOptions {
  port: number
  publishers: number
  messagesPerPublisher: number
  /** publishes in flight per publisher */
  window: number
  minPayload: number
  maxPayload: number
  subscriber: boolean
}

export interface LoadResult { messages: number, seconds: number, rate: number, received: number }

export async function runLoad (o: LoadOptions): Promise<LoadResult> {
  const url = `mqtt://127.0.0.1:${o.port}`
  const clients: MqttClient[] = []
  let received = 0
  const total = o.publishers * o.messagesPerPublisher
  let sub: MqttClient | undefined
  let allReceived: Promise<void> = Promise.resolve()
  if (o.subscriber) {
    sub = await mqtt.connectAsync(url, { clientId: 'bench-sub', reconnectPeriod: 0 })
    await sub.subscribeAsync('bench/#', { qos: 1 })
    const s = sub
    allReceived = new Promise<void>(resolve => s.on('message', () => { if (++received === total) resolve() }))
  }
  for (let i = 0; i < o.publishers; i++) clients.push(await mqtt.connectAsync(url, { clientId: `bench-pub-${i}`, reconnectPeriod: 0 }))
  const payloads = Array.from({ length: 64 }, () => Buffer.alloc(o.minPayload + Math.floor(Math.random() * (o.maxPayload - o.minPayload + 1)), 0x61))

  const started = performance.now()
  await Promise.all(clients.map(async (client, id) => {
    let next = 0
    const lane = async (): Promise<void> => {
      while (next < o.messagesPerPublisher) {
        const n = next++
        await client.publishAsync(`bench/${id}/t`, payloads[n % payloads.length] as Buffer, { qos: 1 })
      }
    }
    await Promise.all(Array.from({ length: o.window }, lane))
  }))
  await allReceived
  const seconds = (performance.now() - started) / 1000
  await Promise.all([...clients, ...(sub !== undefined ? [sub] : [])].map(async c => await c.endAsync(true)))
  return { messages: total, seconds, rate: total / seconds, received }
}
