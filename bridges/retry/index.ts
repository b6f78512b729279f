/** Pure retry decisions for the HTTP sink: classification, backoff, Retry-After. */
export {
  classify,
  type DeliveryOutcome, type RetryDecision, type RetryReason, type ResponseHeaders
} from './classify.js'
export { nextDelay, type BackoffOptions, type Jitter } from './backoff.js'
export { parseRetryAfter, parseHttpDate } from './retry-after.js'
