import { Value } from '@sinclair/typebox/value'
import { Bridge, type BridgeConfig } from './schema-bridges.js'

/** A bridge config made in code (a subscription's), with the schema's defaults filled in as the loader would. */
export function bridgeWithDefaults (partial: Record<string, unknown>): BridgeConfig {
  return Value.Default(Bridge, structuredClone(partial)) as BridgeConfig
}
