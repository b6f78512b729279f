/** What a new list of bridges changes in the running set. Pure. */
import { isDeepStrictEqual } from 'node:util'
import type { BridgeConfig } from '../config/index.js'

export interface BridgePlan {
  removed: string[]
  changed: string[]
  added: string[]
}

/**
 * `current`: the running bridges' configs by name. A bridge whose config is unchanged is
 * changed anyway when it starts or stops carrying the heartbeat.
 */
export function planBridges (current: ReadonlyMap<string, BridgeConfig>, next: readonly BridgeConfig[], heartbeat: { before: string | undefined, after: string | undefined }): BridgePlan {
  const after = new Map(next.map(b => [b.name, b]))
  const flips = (name: string): boolean => heartbeat.before !== heartbeat.after && (name === heartbeat.before || name === heartbeat.after)
  return {
    removed: [...current.keys()].filter(name => !after.has(name)),
    changed: [...after].filter(([name, cfg]) => current.has(name) && (!isDeepStrictEqual(current.get(name), cfg) || flips(name))).map(([name]) => name),
    added: [...after.keys()].filter(name => !current.has(name))
  }
}
