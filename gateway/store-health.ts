/**
 * The health of the gateway's storage, as status, `/readyz`, metrics and the log show it: the
 * event log's commits and the state store's writes, each `ok`, `full` or `write-failing`.
 *
 * MUST: one log line per change of state (not per failed write), and one when it recovers.
 */
import type { EventLog, Store, WriteCondition } from '../storage/index.js'
import type { Logger } from './logger.js'

export interface StoreHealthStatus {
  /** The worse of the two: `write-failing`, then `full`, then `ok`. */
  state: WriteCondition['state']
  reason?: string | undefined
  code?: string | undefined
  message?: string | undefined
  /** When the current state began (RFC 3339). */
  since: string
  log: WriteCondition
  stateStore: WriteCondition
  /** Bytes accepted and not yet stored; above storage.maxPendingBytes the gateway stops reading clients. */
  pendingBytes: number
  /** The gateway stopped reading client connections until the backlog of commits is stored. */
  backpressure: boolean
}

const RANK: Record<WriteCondition['state'], number> = { ok: 0, full: 1, 'write-failing': 2 }

export class StoreHealth {
  private readonly log: EventLog
  private readonly store: Store
  private since = Date.now()
  private backpressure = false

  constructor (log: EventLog, store: Store, logger: Logger) {
    this.log = log
    this.store = store
    const watch = (name: 'event log' | 'state store', source: EventLog | Store): void => {
      source.on('condition', (next: WriteCondition) => {
        this.since = Date.now()
        if (next.state === 'ok') {
          logger.info({ event: 'store-recovered', store: name }, `${name}: writes succeed again`)
        } else if (next.state === 'full') {
          logger.error({ event: 'store-full', store: name, reason: next.reason, code: next.code, detail: next.message }, `${name}: no room to write (${next.reason}); publishes wait until space returns`)
        } else {
          logger.error({ event: 'store-write-failing', store: name, code: next.code, detail: next.message }, `${name}: writes fail (${next.code}); retrying`)
        }
      })
    }
    watch('event log', log)
    watch('state store', store)
    log.on('pressure', (on: boolean) => {
      this.backpressure = on
      if (on) logger.warn({ event: 'backpressure', pendingBytes: log.pendingBytes }, 'commits fall behind: reading from clients paused')
      else logger.info({ event: 'backpressure-end', pendingBytes: log.pendingBytes }, 'commits caught up: reading from clients again')
    })
  }

  /** Whether both stores can write (what `/readyz` reports). */
  writable (): boolean {
    return this.log.writeCondition().state === 'ok' && this.store.writeCondition().state === 'ok'
  }

  status (): StoreHealthStatus {
    const log = this.log.writeCondition()
    const stateStore = this.store.writeCondition()
    const worst = RANK[stateStore.state] > RANK[log.state] ? stateStore : log
    const detail = worst as { reason?: string, code?: string, message?: string }
    return {
      state: worst.state,
      reason: detail.reason,
      code: detail.code,
      message: detail.message,
      since: new Date(this.since).toISOString(),
      log,
      stateStore,
      pendingBytes: this.log.pendingBytes + this.store.pendingBytes,
      backpressure: this.backpressure
    }
  }

  /** Failed write attempts, by store. */
  writeErrors (): { log: number, state: number } {
    return { log: this.log.writeErrors, state: this.store.writeErrors }
  }
}
