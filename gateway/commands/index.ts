import { cesql } from './cesql.js'
import { checkConfig } from './check-config.js'
import { receive } from './receive.js'
import { start } from './start.js'
import type { Command } from './types.js'

export type { Command } from './types.js'

/** Every `flowgate` subcommand; one file each. */
export const commands: Readonly<Record<string, Command>> = {
  start,
  'check-config': checkConfig,
  receive,
  cesql
}
