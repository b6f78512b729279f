/**
 * The bridges' real cursor and dead-letter stores with write failures injected on
 * demand, the way a full or failing disk makes LevelDB refuse writes. Passed to a
 * gateway through its `bridgeStores` dependency.
 */
import { CursorStore, DeadLetterStore, type DeadLetter, type Store } from '../../storage/index.js'

function enospc (): Error {
  return Object.assign(new Error('IO error: No space left on device (injected)'), { code: 'ENOSPC' })
}

/** Fails `failNext` operations (counting down), or every one while `failing`; only those on bridge `only` when set. */
class Faults {
  failNext = 0
  failing = false
  only: string | undefined
  injected = 0
  check (bridge: string): void {
    if (this.only !== undefined && bridge !== this.only) return
    if (!this.failing && this.failNext <= 0) return
    this.failNext--
    this.injected++
    throw enospc()
  }
}

export class FailingCursorStore extends CursorStore {
  readonly writes = new Faults()
  readonly reads = new Faults()

  override async set (bridge: string, seq: number): Promise<void> {
    this.writes.check(bridge)
    await super.set(bridge, seq)
  }

  override async get (bridge: string): Promise<number | undefined> {
    this.reads.check(bridge)
    return await super.get(bridge)
  }
}

export class FailingDeadLetterStore extends DeadLetterStore {
  readonly writes = new Faults()

  override async add (bridge: string, letters: readonly DeadLetter[]): Promise<void> {
    this.writes.check(bridge)
    await super.add(bridge, letters)
  }
}

/** A `bridgeStores` dependency that hands out failing stores and keeps them for the test. */
export function failingStores (): { cursors: () => FailingCursorStore, deadLetters: () => FailingDeadLetterStore, bridgeStores: (store: Store) => { cursors: CursorStore, deadLetters: DeadLetterStore } } {
  let cursors: FailingCursorStore | undefined
  let deadLetters: FailingDeadLetterStore | undefined
  return {
    cursors: () => cursors as FailingCursorStore,
    deadLetters: () => deadLetters as FailingDeadLetterStore,
    bridgeStores: store => {
      cursors = new FailingCursorStore(store)
      deadLetters = new FailingDeadLetterStore(store)
      return { cursors, deadLetters }
    }
  }
}
