/**
 * bench:pi's devices: MQTT.js clients publishing QoS 1 telemetry, each paced
 * at its share of a total rate. Every payload carries its publish time (epoch
 * ms) so the receiver measures publish-to-upstream latency; every PUBACK is
 * timed too.
 */
import mqtt, { type MqttClient } from 'mqtt'
import { epochNow } from './e2e-receiver.js'

export interface PacedResult {
  published: number
  acked: number
  /** Publish-to-PUBACK latencies, ms. */
  ackMs: number[]
  /** Epoch ms of the first publish and of the last PUBACK. */
  started: number
  ended: number
}

export interface Devices {
  /** Publishes for `seconds` at `rate` messages per second in total, spread evenly over the clients. */
  run (rate: number, seconds: number): Promise<PacedResult>
  close (): Promise<void>
}

export async function connectDevices (port: number, count: number): Promise<Devices> {
  const clients: MqttClient[] = []
  for (let i = 0; i < count; i++) {
    clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: `pi-th-${i}`, reconnectPeriod: 0, clean: true }))
  }
  return {
    async run (rate, seconds) {
      const perClient = Math.round(rate * seconds / clients.length)
      const perClientRate = rate / clients.length
      const sent = clients.map(() => 0)
      const ackMs: number[] = []
      const pending: Array<Promise<void>> = []
      let acked = 0
      const started = epochNow()
      await new Promise<void>(resolve => {
        const tick = (): void => {
          const elapsed = epochNow() - started
          let done = true
          clients.forEach((client, c) => {
            // clients are offset within each period so their publishes interleave
            const due = Math.min(perClient, Math.floor(elapsed * perClientRate / 1000 + c / clients.length) + 1)
            while ((sent[c] as number) < due) {
              const i = (sent[c] as number)++
              const t = epochNow()
              const payload = `{"t":${t},"i":${i},"temp":${(20 + (i % 50) / 10).toFixed(1)},"hum":${40 + (i % 30)},"bat":3.${i % 10}}`
              pending.push(client.publishAsync(`devices/th-${c}/telemetry`, payload, { qos: 1 }).then(() => { acked++; ackMs.push(epochNow() - t) }))
            }
            if ((sent[c] as number) < perClient) done = false
          })
          if (done) resolve()
          else setTimeout(tick, 1)
        }
        tick()
      })
      await Promise.all(pending)
      return { published: sent.reduce((a, b) => a + b, 0), acked, ackMs, started, ended: epochNow() }
    },
    async close () {
      await Promise.all(clients.map(async c => await c.endAsync(true)))
    }
  }
}
