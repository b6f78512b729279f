/**
 * MQTT topic matching on qlobber, configured like aedes' own router (mqemitter)
 * so that offline queues and retained lookups match exactly what live delivery
 * matches. qlobber ships no types; these are the calls we make.
 */
import qlobber from 'qlobber'
import QlobberSubClass from 'qlobber/aedes/qlobber-sub.js'
import type { OfflineSubscription } from './types.js'

const QLOBBER_OPTIONS = {
  separator: '/',
  wildcard_one: '+',
  wildcard_some: '#',
  // [MQTT-4.7.1-3] '+' also matches an empty level, as in aedes' mqemitter
  match_empty_levels: true
}

/** qlobber's aedes variant: one entry per (topic filter, client), with a running count. */
export interface SubscriptionTrie {
  add: (topic: string, sub: OfflineSubscription) => void
  remove: (topic: string, sub: { clientId: string, topic: string }) => void
  match: (topic: string) => OfflineSubscription[]
  readonly subscriptionsCount: number
}

interface QlobberTrue {
  add: (pattern: string) => void
  test: (topic: string) => boolean
}

const QlobberSub = QlobberSubClass as new (options: object) => SubscriptionTrie
const QlobberTrue = qlobber.QlobberTrue as new (options: object) => QlobberTrue

export function createSubscriptionTrie (): SubscriptionTrie {
  return new QlobberSub(QLOBBER_OPTIONS)
}

/** A predicate: does a topic match this topic filter? */
export function topicFilter (pattern: string): (topic: string) => boolean {
  const q = new QlobberTrue(QLOBBER_OPTIONS)
  q.add(pattern)
  return (topic) => q.test(topic)
}
