/**
 * The `subscriptions:` section: the CloudEvents Subscriptions API on a listener of its own,
 * the consumers allowed to use it and the producer's policy for each. Checks beyond the
 * shape (token hashes, CESQL, sink patterns) are in gateway/config.ts and name the same keys.
 */
import { Type, type Static } from '@sinclair/typebox'
import { Enum } from './schema-util.js'
import { DURATION_PATTERN } from './units.js'

const SubscriptionsTls = Type.Object({
  cert: Type.String({ minLength: 1, description: 'PEM file of the server certificate (and its chain).' }),
  key: Type.String({ minLength: 1, description: 'PEM file of the server certificate\'s private key.' }),
  ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA(s) whose client certificates identify consumers; needed for `clientCert`.' })),
  clientCert: Enum(['none', 'optional', 'required'], { default: 'none', description: 'Client certificates: `none`, `optional` (a consumer may use one instead of a token) or `required` (the TLS handshake fails without a valid one).' }),
  certUserField: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]*$', default: 'CN', description: 'Subject field of a client certificate that names the consumer (`consumers[].certificate`).' })
}, { additionalProperties: false, description: 'Serve the Subscriptions API over HTTPS.' })

const Consumer = Type.Object({
  name: Type.String({ pattern: '^[A-Za-z0-9._-]{1,64}$', description: 'Names the consumer in logs and in `flowgate subscriptions list`.' }),
  token: Type.Optional(Type.String({ minLength: 1, secret: true, description: 'Hash of the consumer\'s bearer token, printed by `flowgate passwd` (`scrypt$N$r$p$salt$hash`).' })),
  certificate: Type.Optional(Type.String({ minLength: 1, description: 'The `tls.certUserField` of the client certificate that identifies the consumer.' })),
  types: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Event types the consumer may receive: exact, or a prefix ending in `*` (`com.example.*`). Empty: any type.' }),
  topics: Type.Array(Type.String({ minLength: 1 }), { default: ['#'], description: 'MQTT topic filters whose events the consumer may receive.' }),
  sinks: Type.Array(Type.String({ pattern: '^https?://' }), { minItems: 1, description: 'Sink URLs the consumer may deliver to: `*` matches within a host name, port or path segment, `**` anything (`https://*.example.com/**`).' }),
  maxSubscriptions: Type.Integer({ minimum: 0, default: 10, description: 'Most subscriptions the consumer may hold.' }),
  approval: Enum(['auto', 'manual'], { default: 'manual', description: '`auto`: a request within the policy starts at once. `manual`: it waits as `pending` until `flowgate subscriptions approve`.' }),
  filter: Type.Optional(Type.String({ minLength: 1, description: 'A CESQL expression ANDed with every filter of the consumer\'s subscriptions (`NOT (subject LIKE \'devices/internal/%\')`).' }))
}, { additionalProperties: false })

export const Subscriptions = Type.Object({
  host: Type.String({ default: '127.0.0.1', description: 'Address of the Subscriptions API.' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, description: 'Port of the Subscriptions API; 0 picks a free one.' }),
  publicUrl: Type.Optional(Type.String({ pattern: '^https?://', description: 'Base URL consumers reach the API at, for `Location` and the registry. Default: from the request\'s Host.' })),
  tls: Type.Optional(SubscriptionsTls),
  suspendAfter: Type.String({ pattern: DURATION_PATTERN, default: '24h', description: 'A subscription whose sink has failed for this long is suspended (kept, not delivering) until resumed.' }),
  consumers: Type.Array(Consumer, { default: [], description: 'Who may subscribe, and the producer\'s policy for each.' })
}, { additionalProperties: false, description: 'The CloudEvents Subscriptions API and discovery (`/registry`). Absent: disabled.' })

export type SubscriptionsConfig = Static<typeof Subscriptions>
export type ConsumerConfig = Static<typeof Consumer>
