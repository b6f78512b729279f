/**
 * The configuration schema: the single source of the config's types, defaults,
 * validation and the reference in README.md (see doc.ts).
 * Fields marked `secret: true` are redacted wherever the config is printed.
 */
import { Type, type Static, type TString } from '@sinclair/typebox'
import { Admin, CRON_DESCRIPTION, Jobs } from './schema-admin.js'
import { Bridges } from './schema-bridges.js'
import { Subscriptions } from './schema-subscriptions.js'
import { Acl, Auth, Limits, Listener } from './schema-security.js'
import { Enum } from './schema-util.js'
import { DURATION_PATTERN, SIZE_PATTERN } from './units.js'

const Size = (def: string, description: string): TString =>
  Type.String({ pattern: SIZE_PATTERN, default: def, description: `${description} (size: \`512KiB\`, \`1GiB\`)` })
const Duration = (def: string, description: string): TString =>
  Type.String({ pattern: DURATION_PATTERN, default: def, description: `${description} (duration: \`500ms\`, \`30s\`, \`7d\`)` })

const Gateway = Type.Object({
  id: Type.String({
    minLength: 1,
    pattern: '^[A-Za-z0-9._-]+$',
    description: 'Names this gateway in every event it emits; event ids are unique per gateway id. Default: this machine\'s host name.'
  }),
  dataDir: Type.String({ minLength: 1, default: './flowgate-data', description: 'Directory of the LevelDB store (event log, cursors, broker state). Relative paths are relative to the working directory.' }),
  logLevel: Enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { default: 'info', description: 'Level of the JSON log written to stderr.' }),
  signing: Type.Optional(Type.Object({
    key: Type.String({ minLength: 1, description: 'PEM file of the ECDSA P-256 private key every bridge signs events with (`dssematerial`, the CloudEvents verifiability extension), in every content mode.' }),
    keyId: Type.Optional(Type.String({ minLength: 1, description: 'The DSSE `keyid` of the signatures. Default: the key\'s fingerprint (first 16 bytes of SHA-256 over its DER public key, hex).' }))
  }, { additionalProperties: false, description: 'Sign every event.' }))
}, { additionalProperties: false, default: {} })

const Broker = Type.Object({
  listeners: Type.Array(Listener, {
    minItems: 1,
    default: [{ host: '127.0.0.1', port: 1883, protocol: 'mqtt' }],
    description: 'MQTT listeners.'
  }),
  maxClientIdLength: Type.Integer({ minimum: 1, maximum: 65535, default: 256, description: 'Longest client id accepted, in UTF-8 bytes; a longer one is refused with CONNACK 0x02 (identifier rejected).' }),
  auth: Auth,
  acl: Acl,
  limits: Limits
}, { additionalProperties: false, default: {} })

const Retention = Type.Object({
  maxAge: Duration('7d', 'Records older than this are removed by the retention sweep.'),
  maxBytes: Size('1GiB', 'Byte budget of the event log (at most this plus the group being committed); what happens when it is reached is `storage.whenFull`. Retention removes the oldest records a segment (about 1/16 of the budget) at a time.'),
  sweepSchedule: Type.String({ minLength: 1, default: '* * * * *', description: `When the retention sweep removes records older than maxAge: ${CRON_DESCRIPTION}.` })
}, { additionalProperties: false, default: {} })

const Storage = Type.Object({
  durability: Enum(['sync', 'async'], {
    default: 'sync',
    description: '`sync`: every group commit is fsynced before publishes are acknowledged (survives power loss). `async`: written to the OS before acknowledging, not fsynced (survives a process crash, not power loss; faster on slow SD cards).'
  }),
  commitWindow: Duration('1ms', 'How long a group commit may wait for more publishes before it is written (at most 1s). `0ms`: written at once, as soon as the previous commit is done. The default `1ms` spares a paced stream on a fast disk a write and an fsync per publish, for acknowledgements at most a millisecond later. A few tens of milliseconds gather the publishes of a paced stream into one write and one fsync: far fewer bytes written to an SD card and less CPU, for up to that much later acknowledgements. A group is written at once, whatever the window, when it reaches 256KiB.'),
  retention: Retention,
  whenFull: Enum(['drop-oldest', 'reject-new'], {
    default: 'drop-oldest',
    description: '`drop-oldest`: remove the oldest records to make room (counted and logged). `reject-new`: refuse the publish and disconnect the client (MQTT 3.1.1 has no negative acknowledgement), counted and logged.'
  }),
  reserveFreeBytes: Size('64MiB', 'Free space the file system holding `gateway.dataDir` must keep. Below it the log is full and `whenFull` applies (`drop-oldest` removes the oldest records, `reject-new` refuses publishes), so LevelDB always has room to work. 0 turns the check off.'),
  maxPendingBytes: Size('16MiB', 'Publishes accepted and not yet stored, in bytes, above which the gateway stops reading from client connections (TCP backpressure, QoS 0 too) until commits catch up. Nothing is dropped and no client is disconnected for it.'),
  deadLetters: Type.Object({
    maxBytes: Size('64MiB', 'Most bytes of dead letters kept over all bridges; beyond it the oldest are removed (counted by bridge and logged). 0: no bound.')
  }, { additionalProperties: false, default: {} })
}, { additionalProperties: false, default: {} })

export const ConfigSchema = Type.Object({
  gateway: Gateway,
  broker: Broker,
  storage: Storage,
  bridges: Bridges,
  subscriptions: Type.Optional(Subscriptions),
  admin: Admin,
  jobs: Jobs
}, { additionalProperties: false })

export type Config = Static<typeof ConfigSchema>
export type { ListenerConfig, AuthConfig, AclConfig, LimitsConfig } from './schema-security.js'
export type { BridgeConfig } from './schema-bridges.js'
export type { SubscriptionsConfig, ConsumerConfig } from './schema-subscriptions.js'
