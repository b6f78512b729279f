/**
 * The `bridges:` section. Filter lists, topic patterns and templates are checked
 * beyond their shape by the bridge compilers (see gateway/config.ts), which name
 * the same key paths.
 */
import { Type, type Static } from '@sinclair/typebox'
import { DURATION_PATTERN, SIZE_PATTERN } from './units.js'
import { Enum } from './schema-util.js'

/** The longest wait a Node.js timer can take (2^31 - 1 ms, about 24.8 days); a longer one would fire at once. */
const TIMER_MAX_MS = 2_147_483_647

const Tls = Type.Object({
  ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA(s) that sign the upstream\'s certificate (default: the system\'s).' })),
  cert: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the client certificate, for mutual TLS.' })),
  key: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the client certificate\'s private key, for mutual TLS.' })),
  rejectUnauthorized: Type.Boolean({ default: true, description: 'Verify the upstream\'s certificate. Turn off only for testing.' })
}, { additionalProperties: false, default: {} })

const Sink = Type.Object({
  url: Type.String({ pattern: '^https?://', description: 'Where events are POSTed (http or https).' }),
  mode: Enum(['binary', 'structured', 'batch'], { default: 'binary', description: 'CloudEvents HTTP content mode. `batch` sends `application/cloudevents-batch+json`.' }),
  headers: Type.Record(Type.String({ pattern: '^[A-Za-z0-9!#$%&\'*+.^_`|~-]+$' }), Type.String(), { default: {}, description: 'Extra request headers. Values from `${VAR}` are redacted in output.' }),
  token: Type.Optional(Type.String({ minLength: 1, secret: true, description: 'Bearer token sent as `Authorization: Bearer …`; use `${VAR}`.' })),
  timeoutMs: Type.Integer({ minimum: 1, maximum: TIMER_MAX_MS, default: 10_000, description: 'Time allowed for the response headers, and again for the whole response body, in ms; a request past it is aborted and retried.' }),
  connectTimeoutMs: Type.Integer({ minimum: 1, maximum: TIMER_MAX_MS, default: 5_000, description: 'Time allowed to connect, in ms.' }),
  maxInFlight: Type.Integer({
    minimum: 1,
    maximum: 1024,
    default: 1,
    description: 'Most requests outstanding at once, each on its own keep-alive connection. 1: one at a time, in log order. More: requests overlap the round trip (distant upstreams), and a retried request may arrive after later ones (the `sequence` attribute restores the order).'
  }),
  compression: Enum(['none', 'gzip', 'br'], {
    default: 'none',
    description: 'Compress request bodies (`Content-Encoding: gzip` or `br`). An upstream that answers 415 to a compressed request gets uncompressed ones from then on (logged once).'
  }),
  maxBytesPerSecond: Type.Optional(Type.String({
    pattern: SIZE_PATTERN,
    description: 'Bandwidth cap: request bytes per second as sent (headers and body after compression, retries included), a token bucket holding one second of it. Batches grow to use the allowance. Default: no cap.'
  })),
  tls: Tls
}, { additionalProperties: false })

const Batch = Type.Object({
  maxEvents: Type.Integer({ minimum: 1, maximum: 100_000, default: 500, description: 'Most events in one request (batch mode).' }),
  maxBytes: Type.String({ pattern: SIZE_PATTERN, default: '1MiB', description: 'Largest request body in batch mode; a single larger event is sent alone.' }),
  lingerMs: Type.Integer({ minimum: 0, maximum: TIMER_MAX_MS, default: 5, description: 'How long a batch that is not full waits for more events, in ms.' })
}, { additionalProperties: false, default: {} })

const Retry = Type.Object({
  initialDelay: Type.String({ pattern: DURATION_PATTERN, default: '500ms', description: 'First backoff step after a failed attempt.' }),
  maxDelay: Type.String({ pattern: DURATION_PATTERN, default: '1m', description: 'Longest backoff between attempts (Retry-After is honoured up to this); at most `24d`.' }),
  // each entry is checked (400-599, ranges in order) where it is compiled: bridges/retry/statuses.ts
  deadLetterStatuses: Type.Array(Type.Unsafe<number | string>({ type: ['integer', 'string'] }), {
    default: [400, 402, '405-406', '411-428', '430-499'],
    description: 'Response statuses (`413`) and ranges (`430-499`, within 400-599) that move a rejected event to the dead-letter store; any other failure holds the bridge and is retried. `[]`: never dead-letter.'
  })
}, { additionalProperties: false, default: {} })

const Event = Type.Object({
  topicPattern: Type.Optional(Type.String({ minLength: 1, description: 'Topic levels: a literal, `+`, or `{name}`; each `{name}` becomes an extension attribute of the event.' })),
  type: Type.Optional(Type.String({ minLength: 1, description: 'Template for `type`, with `{name}` from the pattern and `{topic}`, `{clientid}`, `{gatewayid}`. Default `flowgate.mqtt.publish`.' })),
  source: Type.Optional(Type.String({ minLength: 1, description: 'Template for `source`. Default `/flowgate/{gatewayid}`.' })),
  subject: Type.Optional(Type.String({ minLength: 1, description: 'Template for `subject`. Default: the MQTT topic.' })),
  traceparent: Type.Boolean({ default: false, description: 'Give every event a `traceparent` (W3C Trace Context, the CloudEvents distributed-tracing extension) so traces upstream start at the gateway; also sent as the `traceparent` header in binary and structured mode. The same event always gets the same trace id.' })
}, { additionalProperties: false, default: {} })

const Window = Type.Object({
  schedule: Type.String({ minLength: 1, description: 'When a delivery window opens: cron expression (5 fields, or 6 with seconds first).' }),
  duration: Type.String({ pattern: DURATION_PATTERN, description: 'How long each window stays open (any length, also beyond a month).' })
}, { additionalProperties: false, description: 'Deliver only inside these windows (metered uplinks); outside, events wait on disk.' })

export const Bridge = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9_-]{0,62}$', description: 'Names the bridge in logs, metrics and commands (lowercase letters, digits, `-`, `_`).' }),
  topics: Type.Array(Type.String({ minLength: 1 }), { minItems: 1, default: ['#'], description: 'MQTT topic filters whose messages feed the bridge.' }),
  start: Type.Unsafe<string | number>({
    type: ['string', 'integer'],
    default: 'end',
    description: 'Where a new bridge starts reading the log: `end` (new events only), `earliest`, an RFC 3339 time, or a sequence number. Ignored once the bridge has a stored cursor.'
  }),
  filters: Type.Array(Type.Record(Type.String(), Type.Unknown()), { default: [], description: 'CloudEvents Subscriptions API filters (`exact`, `prefix`, `suffix`, `all`, `any`, `not`, `sql`), all of which must match.' }),
  event: Event,
  sink: Sink,
  batch: Batch,
  retry: Retry,
  window: Type.Optional(Window)
}, { additionalProperties: false })

export const Bridges = Type.Array(Bridge, { default: [], description: 'Bridges delivering the log upstream as CloudEvents over HTTP.' })

export type BridgeConfig = Static<typeof Bridge>
