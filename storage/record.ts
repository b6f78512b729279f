/** One accepted MQTT publish as it sits in the event log. */
export interface LogRecord {
  /** Log sequence number: strictly increasing, never reused, also across restarts. */
  seq: number
  /** Receive time, milliseconds since the epoch. */
  time: number
  topic: string
  payload: Buffer
  qos: 0 | 1 | 2
  retain: boolean
  clientId: string
  /** MQTT user name, when the client sent one. */
  username?: string | undefined
}

/** What the broker hands to the log; the log assigns `seq` and `time`. */
export type AppendInput = Omit<LogRecord, 'seq' | 'time'>
