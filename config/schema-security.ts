/**
 * The security parts of the `broker:` section: listeners (TLS, WebSocket,
 * anonymous access), users, access rules and limits. Checks beyond the shape
 * (files, filters, scrypt parameters) are in gateway/auth/check.ts and name the
 * same key paths.
 */
import { Type, type Static, type TString } from '@sinclair/typebox'
import { Enum } from './schema-util.js'
import { DURATION_PATTERN, SIZE_PATTERN } from './units.js'

const Size = (def: string, description: string): TString =>
  Type.String({ pattern: SIZE_PATTERN, default: def, description: `${description} (size: \`512KiB\`, \`1GiB\`)` })
const Duration = (def: string, description: string): TString =>
  Type.String({ pattern: DURATION_PATTERN, default: def, description: `${description} (duration: \`500ms\`, \`30s\`, \`7d\`)` })

const ListenerTls = Type.Object({
  cert: Type.String({ minLength: 1, description: 'PEM file of the server certificate (and its chain).' }),
  key: Type.String({ minLength: 1, description: 'PEM file of the server certificate\'s private key.' }),
  ca: Type.Optional(Type.String({ minLength: 1, description: 'PEM file of the CA(s) whose client certificates are accepted; needed for `clientCert`.' })),
  clientCert: Enum(['none', 'optional', 'required'], {
    default: 'none',
    description: 'Client certificates: `none` (not asked for), `optional` (a client may log in with one instead of a password) or `required` (the TLS handshake fails without a valid one). A verified certificate\'s `certUserField` becomes the user name.'
  }),
  certUserField: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9]*$', default: 'CN', description: 'Subject field of a client certificate that becomes the user name (`CN`, `emailAddress`, `UID`, `serialNumber`, …).' })
}, { additionalProperties: false, description: 'TLS settings; required for `mqtts` and `wss` listeners.' })

export const Listener = Type.Object({
  host: Type.String({ default: '127.0.0.1', description: 'Address to bind.' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 1883, description: 'TCP port; 0 picks a free one.' }),
  protocol: Enum(['mqtt', 'mqtts', 'ws', 'wss'], { default: 'mqtt', description: 'Listener protocol: MQTT over TCP, over TLS, over WebSocket, over WebSocket with TLS.' }),
  path: Type.Optional(Type.String({ pattern: '^/', description: 'URL path of a WebSocket listener (`ws`, `wss`). Default `/mqtt`.' })),
  allowAnonymous: Type.Optional(Type.Boolean({ description: 'Accept clients without a user name on this listener. Default: `broker.auth.allowAnonymous` when set, otherwise only on a loopback address.' })),
  tls: Type.Optional(ListenerTls)
}, { additionalProperties: false })

const User = Type.Object({
  name: Type.String({ pattern: '^[^:\\s]{1,256}$', description: 'User name (no `:` or white space).' }),
  // the format is checked in gateway/auth/check.ts, whose message names the problem without echoing the value
  password: Type.String({ minLength: 1, secret: true, description: 'Password hash printed by `flowgate passwd` (`scrypt$N$r$p$salt$hash`).' })
}, { additionalProperties: false })

export const Auth = Type.Object({
  allowAnonymous: Type.Optional(Type.Boolean({ description: 'Accept clients without a user name on every listener that does not set `allowAnonymous`. Default: only on loopback listeners.' })),
  users: Type.Array(User, { default: [], description: 'Users who log in with a password.' }),
  passwordFile: Type.Optional(Type.String({ minLength: 1, description: 'A file of `user:hash` lines (`flowgate passwd --user NAME`), read at start and again whenever it changes; its entries win over `users`.' }))
}, { additionalProperties: false, default: {} })

const AclRule = Type.Object({
  user: Type.Optional(Type.String({ minLength: 1, description: 'The user the rule is for. Without it the rule applies to every client, anonymous ones included (a pattern rule).' })),
  deny: Type.Boolean({ default: false, description: 'Refuse what the rule\'s filters match instead of allowing it. A subscription that only overlaps a denied filter is allowed, but the denied topics are not delivered to it.' }),
  publish: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Topic filters the client may publish to (or, with `deny`, may not). `%u` stands for its user name, `%c` for its client id.' }),
  subscribe: Type.Array(Type.String({ minLength: 1 }), { default: [], description: 'Topic filters the client may subscribe within (or, with `deny`, may not); `%u`, `%c` as for `publish`. A refused subscription gets SUBACK 0x80.' })
}, { additionalProperties: false })

export const Acl = Type.Array(AclRule, {
  default: [],
  description: 'Access rules, read in order: the first rule with a filter that matches decides. When none matches, a list with any allow rule refuses and a list of deny rules only allows. Empty: any client may publish and subscribe anywhere. Publishing to `$SYS/` is never allowed; a refused publish disconnects the client.'
})

export const Limits = Type.Object({
  maxPacketSize: Size('256KiB', 'Largest MQTT packet accepted; a client announcing a larger one is disconnected before its body is read.'),
  maxConnections: Type.Integer({ minimum: 1, default: 1000, description: 'Most open client connections over all listeners; more are closed on accept.' }),
  publishRate: Type.Integer({ minimum: 0, default: 0, description: 'PUBLISH packets per second one client may send; a faster client is slowed down (the gateway stops reading its connection until the rate allows more), never disconnected, and nothing is lost. 0: unlimited.' }),
  publishBurst: Type.Optional(Type.Integer({ minimum: 1, description: 'PUBLISH packets a client may send at once before `publishRate` applies (the token bucket size). Default: one second\'s worth, `publishRate`.' })),
  maxTopicLength: Type.Integer({ minimum: 1, maximum: 65535, default: 1024, description: 'Longest topic or topic filter, in UTF-8 bytes.' }),
  maxTopicLevels: Type.Integer({ minimum: 1, maximum: 100, default: 32, description: 'Most levels in a topic or topic filter.' }),
  connectTimeout: Duration('10s', 'Time a new connection has to finish its TLS or WebSocket handshake, and then again to send a complete CONNECT packet.'),
  maxOutboundBytes: Size('1MiB', 'Most data waiting to be sent to one client (deliveries and acknowledgements its connection has not taken yet); past it the client is disconnected as a slow client. A persistent session\'s QoS 1 and 2 messages stay queued for its return.'),
  slowClientTimeout: Duration('10s', 'Longest time data may wait to be sent to a client without any of it going out; then the client is disconnected as a slow client.')
}, { additionalProperties: false, default: {} })

export type ListenerConfig = Static<typeof Listener>
export type AuthConfig = Static<typeof Auth>
export type AclConfig = Static<typeof Acl>
export type LimitsConfig = Static<typeof Limits>
