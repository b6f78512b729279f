export { Bridge, type BridgeDeps, type BridgeStatus, type BridgeState, type BridgeLogger, type Sink, type BridgeCounts } from './bridge.js'
export { compileBridge, compileSqlFilter, parseStart, type CompiledBridge, type StartPosition } from './compile.js'
// the HTTP sink is loaded when a bridge is created (gateway/bridges.ts), so a gateway without bridges never loads its HTTP client
export type { HttpSink, HttpSinkOptions, SendResult } from './sink/http-sink.js'
export { compileTopicFilters, type TopicMatcher } from './topic-filter.js'
export { ConfigError as BridgeConfigError } from './cloudevents/index.js'
export { HEARTBEAT_TOPIC, HEARTBEAT_TYPE, heartbeatEvent } from './heartbeat.js'
