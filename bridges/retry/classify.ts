/**
 * What to do after one delivery attempt. Pure: the HTTP sink reports what happened, this
 * decides success / retry / reject; nothing here waits or sends.
 */

export type ResponseHeaders = Readonly<Record<string, string | readonly string[] | undefined>>

export type DeliveryOutcome =
  /** The upstream answered with a final status. */
  | { kind: 'response', status: number, headers?: ResponseHeaders | undefined }
  /** No response: connection refused or reset, DNS failure, TLS error, socket closed. */
  | { kind: 'network-error', error?: unknown }
  /** No response within the sink's timeout. */
  | { kind: 'timeout' }

export type RetryReason =
  | 'network-error' | 'timeout' | 'request-timeout' | 'rate-limited' | 'server-error' | 'redirect' | 'unexpected-status'

export type RetryDecision =
  /** 2xx: the upstream has the events; advance the cursor. */
  | { action: 'success', status: number }
  /** Transient: try the same request again after nextDelay(); `retryAfter` is the raw Retry-After header. */
  | { action: 'retry', reason: RetryReason, status?: number, retryAfter?: string }
  /** Permanent (4xx other than 408/429): dead-letter the events with the response and move on. */
  | { action: 'reject', reason: 'client-error', status: number }

function header (headers: ResponseHeaders | undefined, name: string): string | undefined {
  if (headers === undefined) return undefined
  for (const key of Object.keys(headers)) {
    if (key.toLowerCase() !== name) continue
    const v = headers[key]
    return typeof v === 'string' ? v : v?.[0]
  }
  return undefined
}

function retry (reason: RetryReason, status: number, headers: ResponseHeaders | undefined): RetryDecision {
  const retryAfter = header(headers, 'retry-after')
  return retryAfter === undefined ? { action: 'retry', reason, status } : { action: 'retry', reason, status, retryAfter }
}

/**
 * 2xx success; network error, timeout, 408, 429 and 5xx retry; 3xx retries too (redirects are
 * not followed: the configured URL is wrong or moving, and a later attempt may succeed, so the
 * events wait in the log); any other 4xx is a permanent reject; a status outside 200-599
 * retries ('unexpected-status') so that nothing is dead-lettered on a misbehaving proxy.
 */
export function classify (outcome: DeliveryOutcome): RetryDecision {
  if (outcome.kind === 'network-error') return { action: 'retry', reason: 'network-error' }
  if (outcome.kind === 'timeout') return { action: 'retry', reason: 'timeout' }
  const { status, headers } = outcome
  if (status >= 200 && status <= 299) return { action: 'success', status }
  if (status === 408) return retry('request-timeout', status, headers)
  if (status === 429) return retry('rate-limited', status, headers)
  if (status >= 500 && status <= 599) return retry('server-error', status, headers)
  if (status >= 300 && status <= 399) return retry('redirect', status, headers)
  if (status >= 400 && status <= 499) return { action: 'reject', reason: 'client-error', status }
  return retry('unexpected-status', status, headers)
}
