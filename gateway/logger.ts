import { pino, type Logger } from 'pino'

export type { Logger }

/** The gateway's structured log: JSON lines on stderr, so stdout stays free for command output. */
export function createLogger (level: string, destination: NodeJS.WritableStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime }, dest)
}
