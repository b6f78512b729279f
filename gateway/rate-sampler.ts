/** Samples ingest and delivery counters once a second into a RateHistory (the dashboard's charts). */
import type { EventLog } from '../storage/index.js'
import type { BridgeSet } from './bridge-set.js'
import { RateHistory } from './rates.js'

export interface RateSampler {
  readonly history: RateHistory
  stop (): void
}

export function sampleRates (log: EventLog, bridges: BridgeSet, intervalMs = 1000, now: () => number = Date.now): RateSampler {
  const history = new RateHistory(intervalMs)
  const take = (): void => {
    const delivered: Record<string, number> = {}
    for (const b of bridges.status()) delivered[b.name] = b.delivered
    history.sample(now(), { ingested: log.ingested.records.reduce((a, b) => a + b, 0), delivered })
  }
  take()
  const timer = setInterval(take, intervalMs)
  timer.unref()
  return { history, stop: () => clearInterval(timer) }
}
