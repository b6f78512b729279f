/** The headers every admin API response carries (web.ts sets them; server.ts on the health checks it answers). */

/**
 * Scripts and styles only from the gateway itself, nothing inline, no HTML strings turned into
 * DOM (Trusted Types with no policy), no framing, and requests only back to the admin API.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'"
].join('; ')

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  // no other site may load these responses (a script tag pointing at /api/status, say)
  'cross-origin-resource-policy': 'same-origin'
}
