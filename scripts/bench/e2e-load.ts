/** MQTT publishers for bench:e2e: QoS 1 at full speed (a window in flight each), or paced at a fixed rate. */
import mqtt, { type MqttClient } from 'mqtt'
import { epochNow } from './e2e-receiver.js'

export interface Publishers {
  clients: MqttClient[]
  /** Publishes `perClient` messages from every client, `window` in flight each; epoch ms of start and last ack. */
  flood: (perClient: number, window: number) => Promise<{ started: number, acked: number }>
  /**
   * Publishes `total` messages from the first client at `rate` per second, each carrying
   * {"t": epoch ms at publish}; resolves with the publish-to-PUBACK latencies (ms).
   */
  paced: (total: number, rate: number, topic: string) => Promise<number[]>
  close: () => Promise<void>
}

export async function connectPublishers (port: number, count: number): Promise<Publishers> {
  const url = `mqtt://127.0.0.1:${port}`
  const clients: MqttClient[] = []
  for (let i = 0; i < count; i++) clients.push(await mqtt.connectAsync(url, { clientId: `e2e-pub-${i}`, reconnectPeriod: 0 }))
  const payloads = Array.from({ length: 64 }, (_, k) => Buffer.from(JSON.stringify({ temp: 20 + k / 10, hum: 40 + k, pad: 'x'.repeat(16 + k * 2) })))
  return {
    clients,
    async flood (perClient, window) {
      const started = epochNow()
      await Promise.all(clients.map(async (client, id) => {
        let next = 0
        const lane = async (): Promise<void> => {
          while (next < perClient) {
            const n = next++
            await client.publishAsync(`devices/th-${id}/telemetry`, payloads[n % payloads.length] as Buffer, { qos: 1 })
          }
        }
        await Promise.all(Array.from({ length: window }, lane))
      }))
      return { started, acked: epochNow() }
    },
    async paced (total, rate, topic) {
      const client = clients[0] as MqttClient
      const acks: number[] = []
      const pending: Array<Promise<void>> = []
      const started = epochNow()
      let sent = 0
      await new Promise<void>(resolve => {
        const tick = (): void => {
          const due = Math.min(total, Math.floor((epochNow() - started) * rate / 1000) + 1)
          while (sent < due) {
            const t = epochNow()
            pending.push(client.publishAsync(topic, JSON.stringify({ t, i: sent++ }), { qos: 1 }).then(() => { acks.push(epochNow() - t) }))
          }
          if (sent >= total) resolve()
          else setTimeout(tick, 1)
        }
        tick()
      })
      await Promise.all(pending)
      return acks
    },
    async close () {
      await Promise.all(clients.map(async c => await c.endAsync(true)))
    }
  }
}
