/**
 * The producer's policy for a consumer: what it may subscribe to, where it may deliver, how
 * many subscriptions it may hold, and the filter pinned on all of them. Pure.
 */
import type { BridgeConfig, ConsumerConfig } from '../../config/index.js'
import type { Subscription, SubscriptionRequest } from './model.js'
import { filterWithin, sinkProblem, typeAllowed } from './patterns.js'

/** Why the policy refuses `req` (403), or undefined when it allows it. `held`: the consumer's other live subscriptions. */
export function policyProblem (req: SubscriptionRequest, consumer: ConsumerConfig, held: number): string | undefined {
  if (held >= consumer.maxSubscriptions) return `consumer ${consumer.name} already holds ${held} subscriptions, the most allowed (${consumer.maxSubscriptions})`
  const sink = sinkProblem(req.sink, consumer.sinks)
  if (sink !== undefined) return sink
  for (const type of req.types ?? []) {
    if (!typeAllowed(type, consumer.types)) return `event type ${JSON.stringify(type)} is not allowed to consumer ${consumer.name} (${consumer.types.join(', ')})`
  }
  for (const topic of req.config.topics ?? []) {
    if (!consumer.topics.some(allowed => filterWithin(topic, allowed))) return `topic filter ${JSON.stringify(topic)} is not within those allowed to consumer ${consumer.name} (${consumer.topics.join(', ')})`
  }
  return undefined
}

/** Bridge names of subscriptions: `sub-` and the subscription id. Configured bridges may not use the prefix. */
export const SUBSCRIPTION_BRIDGE_PREFIX = 'sub-'

export function subscriptionBridgeName (id: string): string {
  return SUBSCRIPTION_BRIDGE_PREFIX + id
}

/** The type patterns as one filter: exact types ORed with prefixes. */
function typesFilter (patterns: readonly string[]): Record<string, unknown> {
  const any = patterns.map(p => p.endsWith('*') ? { prefix: { type: p.slice(0, -1) } } : { exact: { type: p } })
  return any.length === 1 ? any[0] as Record<string, unknown> : { any }
}

/**
 * The bridge a subscription runs as: the consumer's topics (or the narrower ones it asked
 * for), its filters ANDed with `types` and `source` [CE-SUBSCRIPTIONS 3.2.1], the types the
 * policy allows and the filter the producer pinned on the consumer. `event` is the mapping of
 * the stream the subscription draws from; `defaults` fills in the rest of a bridge's settings.
 */
export function subscriptionBridge (sub: Subscription, consumer: ConsumerConfig, event: BridgeConfig['event'], defaults: (partial: Record<string, unknown>) => BridgeConfig): BridgeConfig {
  const filters: Array<Record<string, unknown>> = []
  if (sub.types !== undefined && sub.types.length > 0) filters.push(typesFilter(sub.types))
  if (sub.source !== undefined) filters.push({ exact: { source: sub.source } })
  filters.push(...sub.filters)
  if (consumer.types.length > 0) filters.push(typesFilter(consumer.types))
  if (consumer.filter !== undefined) filters.push({ sql: consumer.filter })
  const headers: Record<string, string> = { ...(sub.protocolsettings.headers ?? {}) }
  const cred = sub.sinkcredential
  if (cred?.credentialtype === 'PLAIN') headers.authorization = 'Basic ' + Buffer.from(`${cred.identifier}:${cred.secret}`).toString('base64')
  return defaults({
    name: subscriptionBridgeName(sub.id),
    topics: sub.config.topics ?? consumer.topics,
    start: sub.config.start ?? 'end',
    filters,
    event,
    sink: {
      url: sub.sink,
      mode: sub.config.mode ?? 'binary',
      headers,
      ...(cred?.credentialtype === 'ACCESSTOKEN' ? { token: cred.accesstoken } : {})
    }
  })
}

export type SuspendWatch = { failingSince?: number, delivered: number }

/**
 * Whether a subscription's sink has failed for longer than `suspendAfterMs`: failing means
 * the bridge is held (`retrying`) and delivered nothing since the last look. Returns the
 * watch to keep and whether to suspend now.
 */
export function suspendCheck (watch: SuspendWatch | undefined, status: { state: string, delivered: number }, now: number, suspendAfterMs: number): { watch: SuspendWatch, suspend: boolean } {
  const failing = status.state === 'retrying' && (watch === undefined || status.delivered === watch.delivered)
  if (!failing) return { watch: { delivered: status.delivered }, suspend: false }
  const since = watch?.failingSince ?? now
  return { watch: { failingSince: since, delivered: status.delivered }, suspend: now - since >= suspendAfterMs }
}

function templateRegExp (template: string, gatewayId: string): RegExp {
  const parts = template.split(/(\{[a-z0-9]+\})/)
  return new RegExp('^' + parts.map(p => p === '{gatewayid}' ? gatewayId.replace(/[.*+?^${}()|[\]\\]/g, '\\$&') : /^\{[a-z0-9]+\}$/.test(p) ? '.+' : p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('') + '$')
}

/**
 * The stream (a bridge's topics and mapping) a subscription draws from: the first whose type
 * template can make every type asked for; the first stream when no types are asked for.
 * A reason (400) when no one stream makes them all.
 */
export function chooseStream<S extends { event: BridgeConfig['event'] }> (types: readonly string[] | undefined, streams: readonly S[], gatewayId: string, defaultType: string): S | string {
  if (streams.length === 0) return 'the gateway offers no streams'
  if (types === undefined || types.length === 0) return streams[0] as S
  const found = streams.find(s => {
    const re = templateRegExp(s.event.type ?? defaultType, gatewayId)
    const fallback = templateRegExp(defaultType, gatewayId)
    return types.every(t => re.test(t) || (s.event.topicPattern !== undefined && fallback.test(t)))
  })
  return found ?? `no stream of this gateway makes all of the types ${types.map(t => JSON.stringify(t)).join(', ')} (see /registry)`
}
