import { pino, type Logger } from 'pino'

export type { Logger }

/**
 * Log fields that could carry a secret (a bearer token, a password or its hash, any
 * request header value); pino replaces them wherever they appear, one or two levels deep.
 */
export const REDACT_PATHS: readonly string[] = [
  'password', '*.password', '*.*.password',
  'token', '*.token', '*.*.token',
  'authorization', '*.authorization', 'Authorization', '*.Authorization',
  'headers.*', '*.headers.*', '*.*.headers.*',
  'users', '*.users',
  'secret', '*.secret'
]

/** The gateway's structured log: JSON lines on stderr, so stdout stays free for command output. */
export function createLogger (level: string, destination: NodeJS.WritableStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime, redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, dest)
}
