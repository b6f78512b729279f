/**
 * What to do after one delivery attempt. Pure: the HTTP sink reports what happened, this
 * decides; nothing here waits or sends.
 *
 * Two kinds of failure, and they must never be confused:
 * - the bridge is wrong (its credentials, URL, network, or an upstream that is down or wants
 *   less): every event is held and the same request is retried with backoff; nothing is
 *   dead-lettered, whatever the number of events waiting;
 * - these events are wrong (400, 413 alone, 415, 422, other 4xx): a batch is split to find them
 *   and an event that is alone and still rejected goes to the dead-letter store.
 * Which statuses dead-letter is the bridge's `retry.deadLetterStatuses` (see statuses.ts).
 */
import type { StatusSet } from './statuses.js'
import { DEFAULT_DEAD_LETTER_STATUSES, statusSet } from './statuses.js'

export type ResponseHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

export type DeliveryOutcome =
  /** The upstream answered with a final status (and, for a 2xx, a complete body). */
  | { kind: 'response', status: number, headers?: ResponseHeaders | undefined }
  /** No response: connection refused or reset, DNS failure, TLS failure, socket closed. `code` is the error's code. */
  | { kind: 'network-error', code?: string | undefined, error?: unknown }
  /** No response headers, or no complete body, within the sink's timeout (`limitMs`). */
  | { kind: 'timeout', phase?: 'headers' | 'body' | undefined, limitMs?: number | undefined }

/** Why a bridge is held (its status says `retrying` with this reason). */
export type HoldReason =
  | 'unauthorized' | 'forbidden' | 'not-found' | 'conflict' | 'gone' | 'throttled' | 'timeout'
  | 'server' | 'redirect' | 'network' | 'tls'
  /** An event the upstream rejects with a status that does not dead-letter (see deadLetterStatuses). */
  | 'rejected' | 'too-large'
  /** The bridge cannot store its cursor or a dead letter (a store error); see supervisor.ts and cursor-writer.ts. */
  | 'store'

export type RetryDecision =
  /** 2xx: the upstream has the events; advance the cursor. */
  | { action: 'success', status: number }
  /**
   * The bridge is wrong: retry the same request after backoff (`retryAfter` is the raw
   * Retry-After header). `unreachable`: nothing answered at all (refused, no route, no DNS
   * answer), so the upstream's return can be watched for cheaply instead of waiting out the backoff.
   */
  | { action: 'hold', reason: HoldReason, status?: number, retryAfter?: string, unreachable: boolean }
  /**
   * These events are wrong: split a batch to find them; an event alone goes to the dead-letter
   * store when `deadLetter`, otherwise the bridge holds on it (status not in deadLetterStatuses).
   */
  | { action: 'reject', reason: 'rejected' | 'too-large', status: number, deadLetter: boolean }

/**
 * Statuses that say the bridge is wrong, not the events (unless deadLetterStatuses says
 * otherwise). 3xx, 5xx and statuses outside 200-599 hold the bridge too.
 */
const BRIDGE_STATUSES: ReadonlyMap<number, HoldReason> = new Map([
  [401, 'unauthorized'],
  [403, 'forbidden'],
  [404, 'not-found'],
  [407, 'unauthorized'], // proxy authentication
  [408, 'timeout'],
  [409, 'conflict'],
  [410, 'gone'],
  [429, 'throttled']
])

/** Nothing answered: the upstream (or the way to it) is not there. */
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN', 'EADDRNOTAVAIL',
  'ENOTFOUND', 'EAI_AGAIN', 'ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT'
])

/** Certificate verification and TLS handshake failures (Node's and OpenSSL's codes). */
const TLS_CODES = new Set([
  'EPROTO', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_REVOKED', 'CERT_UNTRUSTED', 'CERT_REJECTED',
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'HOSTNAME_MISMATCH', 'ERR_TLS_CERT_ALTNAME_INVALID'
])

export function isTlsCode (code: string): boolean {
  return TLS_CODES.has(code) || code.startsWith('ERR_SSL_') || code.startsWith('ERR_TLS_')
}

function header (headers: ResponseHeaders | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== name) continue
    const v = headers[key]
    return typeof v === 'string' ? v : v?.[0]
  }
  return undefined
}

function hold (reason: HoldReason, status: number, headers: ResponseHeaders | undefined): RetryDecision {
  const retryAfter = header(headers, 'retry-after')
  return retryAfter === undefined
    ? { action: 'hold', reason, status, unreachable: false }
    : { action: 'hold', reason, status, retryAfter, unreachable: false }
}

const DEFAULT_SET = statusSet(DEFAULT_DEAD_LETTER_STATUSES)

/**
 * The classification table (README "When delivery fails"). `deadLetter` holds the statuses that
 * dead-letter an event (the bridge's retry.deadLetterStatuses; by default 400 and every 4xx the
 * bridge table does not claim, which agrees with the Knative Eventing data-plane contract:
 * 404, 409, 429 and 5xx are retried, 400 and other 4xx are not).
 */
export function classify (outcome: DeliveryOutcome, deadLetter: StatusSet = DEFAULT_SET): RetryDecision {
  if (outcome.kind === 'timeout') return { action: 'hold', reason: 'timeout', unreachable: false }
  if (outcome.kind === 'network-error') {
    const code = outcome.code ?? ''
    if (isTlsCode(code)) return { action: 'hold', reason: 'tls', unreachable: false }
    return { action: 'hold', reason: 'network', unreachable: UNREACHABLE_CODES.has(code) }
  }
  const { status, headers } = outcome
  if (status >= 200 && status <= 299) return { action: 'success', status }
  if (deadLetter.has(status)) return { action: 'reject', reason: status === 413 ? 'too-large' : 'rejected', status, deadLetter: true }
  if (status === 413) return { action: 'reject', reason: 'too-large', status, deadLetter: false }
  const reason = BRIDGE_STATUSES.get(status)
  if (reason !== undefined) return hold(reason, status, headers)
  if (status >= 300 && status <= 399) return hold('redirect', status, headers) // not followed: the configured URL is wrong or moving
  if (status >= 400 && status <= 499) return { action: 'reject', reason: 'rejected', status, deadLetter: false }
  // 5xx, and anything outside 200-599 from a misbehaving proxy: the server's problem
  return hold('server', status, headers)
}
