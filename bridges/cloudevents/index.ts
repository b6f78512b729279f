/**
 * CloudEvents 1.0.2 for flowgate bridges: the event value, record mapping, the JSON format and
 * the HTTP protocol binding (binary, structured, batched). Pure code: no I/O.
 */
export {
  SPEC_VERSION, CONTENT_TYPE_JSON, CORE_ATTRIBUTES, isCoreAttribute, canonicalString, attributeGetter, attributeString, isJsonContentType, contextAttributes,
  type CloudEvent, type CloudEventData, type ExtensionValue, type JsonValue, type CoreAttribute, type AttributeGetter
} from './event.js'
export { CloudEventError, CloudEventErrorCodes, type CloudEventErrorCode } from './errors.js'
export {
  validateEvent, attributeNameProblem, extensionNameProblem, extensionValueProblem, stringProblem,
  isTimestamp, isUriReference, isAbsoluteUri, isMediaType, RECOMMENDED_NAME_LENGTH
} from './validate.js'
export {
  createMapper, formatSequence, eventId, traceparentOf, encodeUriPath, createTimeFormatter,
  DEFAULT_TYPE, DEFAULT_SOURCE, DEFAULT_SUBJECT, SEQUENCE_WIDTH, CONTENT_TYPE_BINARY,
  type MapperOptions, type RecordMapper
} from './mapper.js'
export { percentEncode, percentDecode } from './percent.js'
export { toJSONFormat, fromJSONFormat, encodeEventJSON, type JsonFormatEvent } from './json-format.js'
export {
  encodeBinary, encodeStructured, encodeHttp, encodeEventBatch, createEventBatchEncoder, withTraceHeader,
  CONTENT_TYPE_STRUCTURED, CONTENT_TYPE_BATCH,
  type ContentMode, type HttpMessage, type EventBatchEncoder
} from './http-encode.js'
export { decodeHttp, detectMode, type DecodedMessage, type DecodedMode, type IncomingHeaders } from './http-decode.js'
