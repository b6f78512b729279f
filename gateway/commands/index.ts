import type { Command } from './types.js'

export type { Command } from './types.js'

/**
 * Every `flowgate` subcommand, one file each, loaded only when it runs: `init`
 * or `check-config` on a Pi need not load the broker, LevelDB and the HTTP
 * framework that `start` does.
 */
const loaders: Readonly<Record<string, () => Promise<Command>>> = {
  start: async () => (await import('./start.js')).start,
  init: async () => (await import('./init.js')).init,
  'check-config': async () => (await import('./check-config.js')).checkConfig,
  receive: async () => (await import('./receive.js')).receive,
  cesql: async () => (await import('./cesql.js')).cesql,
  status: async () => (await import('./status.js')).status,
  replay: async () => (await import('./replay.js')).replay,
  'dead-letters': async () => (await import('./dead-letters.js')).deadLetters,
  passwd: async () => (await import('./passwd.js')).passwd,
  tail: async () => (await import('./tail.js')).tail,
  repair: async () => (await import('./repair.js')).repair,
  verify: async () => (await import('./verify.js')).verify,
  subscriptions: async () => (await import('./subscriptions.js')).subscriptions
}

/** The command of that name, or undefined. */
export async function loadCommand (name: string): Promise<Command | undefined> {
  return Object.hasOwn(loaders, name) ? await loaders[name]?.() : undefined
}

/** All commands, in the order of the usage text. */
export async function allCommands (): Promise<Command[]> {
  return await Promise.all(Object.values(loaders).map(async load => await load()))
}
