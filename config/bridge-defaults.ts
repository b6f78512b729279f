import type { BridgeConfig } from './schema.js'

/** Fills in a bridge config's defaults, as the loader would (defaults.ts). */
export type BridgeDefaults = (partial: Record<string, unknown>) => BridgeConfig

/**
 * The function that fills in a bridge config's defaults, loaded on first use: it builds the bridge
 * schema with TypeBox, which a gateway without subscriptions never loads (config/validator.ts).
 */
export async function loadBridgeDefaults (): Promise<BridgeDefaults> {
  return (await import('./defaults.js')).bridgeWithDefaults
}
