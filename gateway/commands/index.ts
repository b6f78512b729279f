import { cesql } from './cesql.js'
import { checkConfig } from './check-config.js'
import { deadLetters } from './dead-letters.js'
import { init } from './init.js'
import { passwd } from './passwd.js'
import { receive } from './receive.js'
import { repair } from './repair.js'
import { replay } from './replay.js'
import { start } from './start.js'
import { status } from './status.js'
import { tail } from './tail.js'
import type { Command } from './types.js'

export type { Command } from './types.js'

/** Every `flowgate` subcommand; one file each. */
export const commands: Readonly<Record<string, Command>> = {
  start,
  init,
  'check-config': checkConfig,
  receive,
  cesql,
  status,
  replay,
  'dead-letters': deadLetters,
  passwd,
  tail,
  repair
}
