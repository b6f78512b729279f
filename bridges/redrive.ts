/**
 * Redrive: a bridge's dead letters sent again, once each, through a sink of their own (the
 * bridge's delivery run is stopped meanwhile, see gateway/bridge-set.ts).
 *
 * MUST: a dead letter leaves the store only once the upstream took it (classify says success);
 *       one it refuses stays in the store and is reported with its status or error.
 * MUST: one request at a time, each event encoded as the bridge's sink mode sends it.
 */
import type { BridgeConfig } from '../config/index.js'
import type { DeadLetterStore } from '../storage/index.js'
import { encodeEventBatch, encodeHttp, fromJSONFormat } from './cloudevents/index.js'
import type { Sink } from './delivery.js'
import { classify } from './retry/index.js'

export interface RedriveResult { bridge: string, redriven: number, failed: Array<{ seq: number, status?: number, error?: string }> }

/** Most dead letters one redrive reads from the store. */
const REDRIVE_LIMIT = 100_000

/**
 * Sends the dead letters of bridge `cfg` (all, or those in `seqs`) once each through a sink
 * from `openSink`, closed afterwards; those the upstream takes leave the store.
 */
export async function redriveDeadLetters (
  cfg: BridgeConfig,
  seqs: readonly number[] | undefined,
  deps: { deadLetters: Pick<DeadLetterStore, 'list' | 'remove'>, openSink: () => Promise<Pick<Sink, 'send' | 'close'>> }
): Promise<RedriveResult> {
  const store = deps.deadLetters
  const wanted = seqs === undefined ? undefined : new Set(seqs)
  const letters = (await store.list(cfg.name, { limit: REDRIVE_LIMIT })).filter(l => wanted === undefined || wanted.has(l.seq))
  const result: RedriveResult = { bridge: cfg.name, redriven: 0, failed: [] }
  const sink = await deps.openSink()
  try {
    for (const letter of letters) {
      const event = fromJSONFormat(letter.event)
      const message = cfg.sink.mode === 'batch' ? encodeEventBatch([event]) : encodeHttp(event, cfg.sink.mode)
      const sent = await sink.send(message)
      if (classify(sent.outcome).action === 'success') {
        await store.remove(cfg.name, [letter.seq])
        result.redriven++
      } else {
        result.failed.push(sent.outcome.kind === 'response' ? { seq: letter.seq, status: sent.outcome.status } : { seq: letter.seq, error: sent.outcome.kind })
      }
    }
  } finally {
    await sink.close()
  }
  return result
}
