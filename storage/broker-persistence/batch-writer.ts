/**
 * Group commit for broker state. Writes issued while a batch is in flight are
 * merged into the next batch, so LevelDB sees them in call order (one batch at a
 * time) and each caller's operations land atomically, in one batch. A caller's
 * promise resolves only once its batch is on disk.
 *
 * A failed batch is fail-stop: the in-memory indexes already reflect the
 * change, so the writer refuses every later write with the same error rather
 * than let memory and disk drift further apart.
 */
import type { DbOp } from './db.js'
import { BrokerStateError } from './errors.js'

export interface BatchWriter {
  write: (ops: readonly DbOp[]) => Promise<void>
  /** Resolves once everything written so far is committed. */
  idle: () => Promise<void>
  /** Idempotent: refuses new writes, then waits for the pending ones. */
  close: () => Promise<void>
}

interface Waiter {
  resolve: () => void
  reject: (err: Error) => void
}

/** `onFailure` is told once, when the first batch fails and the writer stops. */
export function createBatchWriter (commit: (ops: DbOp[]) => Promise<void>, onFailure?: (err: BrokerStateError) => void): BatchWriter {
  let queued: DbOp[] = []
  let waiters: Waiter[] = []
  let inFlight = false
  let scheduled = false
  let failure: BrokerStateError | undefined
  let closed = false

  function fail (cause: unknown): void {
    failure = new BrokerStateError('FG_ERR_BROKER_STATE_WRITE', 'broker state write failed', { cause })
    const stranded = waiters
    queued = []
    waiters = []
    for (const w of stranded) w.reject(failure)
    onFailure?.(failure)
  }

  function flush (): void {
    scheduled = false
    if (inFlight || waiters.length === 0) return
    const ops = queued
    const batchWaiters = waiters
    queued = []
    waiters = []
    inFlight = true
    const committed = ops.length === 0 ? Promise.resolve() : commit(ops)
    committed.then(
      () => { for (const w of batchWaiters) w.resolve() },
      (cause: unknown) => {
        waiters.unshift(...batchWaiters)
        fail(cause)
      }
    ).finally(() => {
      inFlight = false
      if (waiters.length > 0) flush()
    })
  }

  function enqueue (ops: readonly DbOp[]): Promise<void> {
    if (failure !== undefined) return Promise.reject(failure)
    return new Promise<void>((resolve, reject) => {
      for (const op of ops) queued.push(op)
      waiters.push({ resolve, reject })
      if (!inFlight && !scheduled) {
        scheduled = true
        queueMicrotask(flush)
      }
    })
  }

  function idle (): Promise<void> {
    if (!inFlight && waiters.length === 0) {
      return failure === undefined ? Promise.resolve() : Promise.reject(failure)
    }
    return enqueue([])
  }

  return {
    idle,
    write (ops) {
      if (closed) return Promise.reject(new BrokerStateError('FG_ERR_BROKER_STATE_CLOSED', 'broker state store is closed'))
      return enqueue(ops)
    },
    async close () {
      closed = true
      // a failed store has nothing left to flush; its error went to the writers
      await idle().catch(() => {})
    }
  }
}
