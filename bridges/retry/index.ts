/** Pure retry decisions for the HTTP sink: classification, dead-letter statuses, backoff, Retry-After. */
export {
  classify, isTlsCode,
  type DeliveryOutcome, type HoldReason, type RetryDecision, type ResponseHeaders
} from './classify.js'
export { statusSet, StatusListError, DEFAULT_DEAD_LETTER_STATUSES, type StatusSet } from './statuses.js'
export { nextDelay, type BackoffOptions, type Jitter } from './backoff.js'
export { parseRetryAfter, parseHttpDate } from './retry-after.js'
