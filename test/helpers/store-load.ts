/** Load and probes shared by the storage tests: a QoS 1 publisher, readiness and the store's state. */
import type { MqttClient } from 'mqtt'
import type { Gateway } from '../../gateway/index.js'

/** QoS 1 publishes of {"i": n} with `window` in flight, until stopped; `acked` in acknowledgement order. */
export function publishing (client: MqttClient, topic: string, window = 16): { acked: number[], pending: () => number, stop: () => Promise<void> } {
  const acked: number[] = []
  let next = 0
  let stopped = false
  let pending = 0
  const lane = async (): Promise<void> => {
    while (!stopped) {
      const i = next++
      pending++
      try {
        await client.publishAsync(topic, JSON.stringify({ i }), { qos: 1 })
        acked.push(i)
      } catch {
        // the connection closed (the gateway stopped): the lane ends, its publish unacknowledged
        return
      } finally {
        pending--
      }
    }
  }
  const lanes = Promise.all(Array.from({ length: window }, lane))
  return { acked, pending: () => pending, stop: async () => { stopped = true; await lanes } }
}

export async function readyz (gw: Gateway): Promise<number> {
  return (await fetch(`${gw.admin?.url ?? ''}/readyz`)).status
}

export async function storeStatus (gw: Gateway): Promise<{ state: string, reason?: string, code?: string }> {
  const res = await fetch(`${gw.admin?.url ?? ''}/api/status`)
  const body = await res.json() as { store?: { state: string, reason?: string, code?: string } }
  if (res.status !== 200 || body.store === undefined) throw new Error(`/api/status answered ${res.status} without the store's state: ${JSON.stringify(body)}`)
  return body.store
}

export const writable = (gw: Gateway): boolean => gw.log.writeCondition().state === 'ok' && gw.store.writeCondition().state === 'ok'
