export { Store, type Sublevel, type SublevelName } from './store.js'
export { EventLog, type EventLogOptions, type LogStats, type DropReason, type DropEvent, type CommitEvent, type AppendCallback, type WhenFull } from './event-log.js'
export type { LogRecord, AppendInput } from './record.js'
