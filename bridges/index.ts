export { Bridge, type BridgeDeps, type BridgeStatus, type BridgeState, type BridgeLogger, type BridgeCounts } from './bridge.js'
export type { Sink, BridgeDeadLetter } from './delivery.js'
export { redriveDeadLetters, type RedriveResult } from './redrive.js'
export { compileBridge, compileSqlFilter, parseStart, type CompiledBridge, type StartPosition } from './compile.js'
// the HTTP sink is loaded when a bridge is created (gateway/bridge-set.ts), so a gateway without bridges never loads its HTTP client
export type { HttpSink, HttpSinkOptions, SendResult } from './sink/http-sink.js'
export { loadHttpSink, preloadHttpSink } from './sink/load.js'
export { compileTopicFilters, type TopicMatcher } from './topic-filter.js'
export { HEARTBEAT_TOPIC, HEARTBEAT_TYPE, heartbeatEvent } from './heartbeat.js'
export { BridgeErrorCodes, type BridgeErrorCode } from './errors.js'
export { classify, nextDelay, type HoldReason } from './retry/index.js'
export type { Hold } from './hold.js'
export { decodeHttp, encodeEventBatch, encodeHttp, fromJSONFormat, toJSONFormat, DEFAULT_TYPE, type CloudEvent, type DecodedMode } from './cloudevents/index.js'
export { runCesql } from './cesql/cli.js'
export {
  createEventSigner, dataBytes, keyIdOf, privateKeyFromPem, publicKeyFromPem, readEvents, signWith, verifyEvent, SigningError, MATERIAL_ATTRIBUTE,
  type EventSigner, type AcceptedKey, type VerifyResult
} from './signing/index.js'
export * from './subscriptions/index.js'
export { compressBody, decompressBody, ContentCodingError, ACCEPTED_CODINGS, type Compression } from './compression.js'
