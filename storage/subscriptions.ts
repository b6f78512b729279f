/**
 * Subscriptions made through the Subscriptions API, by id, as JSON documents. Written through
 * the state store's group commit and synced: an acknowledged subscription survives a power
 * cut; a write the disk refuses is held and retried like every other.
 */
import type { Store, Sublevel } from './store.js'

export class SubscriptionStore<T extends { id: string }> {
  private readonly store: Store
  private readonly db: Sublevel

  constructor (store: Store) {
    this.store = store
    this.db = store.sublevel('subscriptions')
  }

  async put (sub: T): Promise<void> {
    await this.store.write([{ type: 'put', sublevel: this.db, key: sub.id, value: Buffer.from(JSON.stringify(sub), 'utf8') }], true)
  }

  async delete (id: string): Promise<void> {
    await this.store.write([{ type: 'del', sublevel: this.db, key: id }], true)
  }

  /** Every stored subscription; an entry that is not JSON is reported to `onDamaged` and skipped. */
  async all (onDamaged?: (id: string) => void): Promise<T[]> {
    const out: T[] = []
    for await (const [key, value] of this.store.entries(this.db)) {
      try {
        out.push(JSON.parse(value.toString('utf8')) as T)
      } catch {
        onDamaged?.(key)
      }
    }
    return out
  }
}
