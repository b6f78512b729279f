/**
 * The registry document for the running config: streams from the configured bridges, and an
 * example event per message definition taken from the newest records of the log (cached for a
 * few seconds, so a busy client does not read the log on every request).
 */
import { compileBridge, DEFAULT_TYPE, messageId, registryDocument, toJSONFormat, type Stream } from '../../bridges/index.js'
import { loadBridgeDefaults, type Config } from '../../config/index.js'
import type { EventLog } from '../../storage/index.js'

const EXAMPLE_RECORDS = 200
const CACHE_MS = 5_000

/** What subscriptions can draw from: each configured bridge's topics and mapping, or every topic with the default mapping. */
export function streamsOf (config: Readonly<Config>): Stream[] {
  const streams = config.bridges.map(b => ({ name: b.name, topics: b.topics, event: b.event }))
  return streams.length > 0 ? streams : [{ name: 'mqtt', topics: ['#'], event: { traceparent: false } }]
}

export function registrySource (log: EventLog, config: () => Readonly<Config>, subscriptionsPath = '/subscriptions'): (base: string) => Promise<Record<string, unknown>> {
  let cached: { at: number, examples: Map<string, unknown> } | undefined
  const modifiedAt = new Date().toISOString()
  const examples = async (cfg: Readonly<Config>): Promise<Map<string, unknown>> => {
    if (cached !== undefined && Date.now() - cached.at < CACHE_MS) return cached.examples
    const out = new Map<string, unknown>()
    const bridgeWithDefaults = await loadBridgeDefaults()
    const from = Math.max(log.firstSeq, log.lastSeq - EXAMPLE_RECORDS + 1)
    const records = log.lastSeq >= from ? await log.read(from, EXAMPLE_RECORDS) : []
    for (const s of streamsOf(cfg)) {
      const compiled = compileBridge(bridgeWithDefaults({ name: 'registry', topics: s.topics, event: s.event, sink: { url: 'http://localhost/' } }), cfg.gateway.id)
      const names = [...(s.event.topicPattern ?? '').matchAll(/\{([a-z0-9]+)\}/g)].map(m => m[1] as string)
      for (const r of records) {
        if (!compiled.matchesTopic(r.topic)) continue
        const event = compiled.map(r)
        const matched = names.length > 0 && names.every(n => Object.hasOwn(event.extensions, n))
        out.set(`${s.name}/${messageId(matched || s.event.topicPattern === undefined ? (s.event.type ?? DEFAULT_TYPE) : DEFAULT_TYPE)}`, toJSONFormat(event))
      }
    }
    cached = { at: Date.now(), examples: out }
    return out
  }
  return async base => {
    const cfg = config()
    return registryDocument({
      base,
      gatewayId: cfg.gateway.id,
      streams: streamsOf(cfg),
      subscriptionsUrl: base.replace(/\/registry$/, '') + subscriptionsPath,
      signed: cfg.gateway.signing !== undefined,
      examples: await examples(cfg),
      modifiedAt
    })
  }
}
