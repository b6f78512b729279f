/**
 * [xRegistry 1.0-rc4] the gateway's discovery document: one message group per stream the
 * gateway offers (a bridge's topics and event mapping), one message definition per event type
 * template, with the CloudEvents attributes its events carry; and one endpoint, `usage`
 * `subscriber`, pointing at the Subscriptions API. Read-only. Pure: values in, JSON out.
 */
import type { BridgeConfig } from '../../config/index.js'
import { DEFAULT_SOURCE, DEFAULT_SUBJECT, DEFAULT_TYPE } from '../cloudevents/index.js'

export const XREGISTRY_SPEC_VERSION = '1.0-rc4'

/** Every message definition has one Version. */
const VERSION_ID = '1'

/**
 * [xRegistry core "Registry Capabilities"] what this registry offers: read-only entities, the
 * capabilities map, and the `inline` flag.
 */
export const CAPABILITIES: Readonly<Json> = Object.freeze({
  available: { capabilities: { mutable: false }, entities: { mutable: false } },
  flags: ['inline'],
  ignores: [],
  pagination: false,
  shortself: false,
  specversions: [XREGISTRY_SPEC_VERSION]
})

type Json = Record<string, unknown>

export interface Stream { name: string, topics: readonly string[], event: BridgeConfig['event'] }

export interface RegistryInput {
  /** Where `/registry` is served, without a trailing slash (`https://gw.example:9443/registry`). */
  base: string
  gatewayId: string
  streams: readonly Stream[]
  /** The URL of the Subscriptions API's collection. */
  subscriptionsUrl: string
  signed: boolean
  /** An example event (JSON format) by `group/messageid`, when the log has one. */
  examples?: ReadonlyMap<string, unknown>
  /** When the document last changed (the config's load time). */
  modifiedAt: string
}


/** [xRegistry core] an id: RFC 3986 unreserved characters, `:` or `@`, starting with a letter, digit or `_`. */
export const ID_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9._~:@-]{0,127}$/

/** A type template as a message id: `{kind}` becomes `_kind_`. */
export function messageId (typeTemplate: string): string {
  const id = typeTemplate.replace(/\{([^}]*)\}/g, '_$1_').replace(/[^A-Za-z0-9._~:@-]/g, '_')
  return (/^[A-Za-z0-9_]/.test(id) ? id : '_' + id).slice(0, 128)
}

const PLACEHOLDER = /\{([a-z0-9]+)\}/g

/** Our template placeholders as RFC 6570 level 1 ones; the gateway id is known, so it is filled in. */
const uriTemplate = (template: string, gatewayId: string): string => template.replace(PLACEHOLDER, (m, name: string) => name === 'gatewayid' ? gatewayId : m)
const hasPlaceholder = (s: string): boolean => /\{[a-z0-9]+\}/.test(s)

function patternNames (topicPattern: string | undefined): string[] {
  return [...(topicPattern ?? '').matchAll(PLACEHOLDER)].map(m => m[1] as string)
}

function attr (type: string, required: boolean, value?: string, description?: string): Json {
  return { type, ...(value !== undefined ? { value } : {}), required, ...(description !== undefined ? { description } : {}) }
}

function message (input: RegistryInput, stream: Stream, typeT: string, groupUrl: string, groupXid: string, usesPattern: boolean): [string, Json] {
  const id = messageId(typeT)
  const ev = stream.event
  const g = input.gatewayId
  const type = uriTemplate(typeT, g)
  const source = uriTemplate(usesPattern ? (ev.source ?? DEFAULT_SOURCE) : DEFAULT_SOURCE, g)
  const subject = uriTemplate(usesPattern ? (ev.subject ?? DEFAULT_SUBJECT) : DEFAULT_SUBJECT, g)
  const metadata: Json = {
    specversion: attr('string', true, '1.0'),
    id: attr('string', true, undefined, '<gateway id>-<log sequence number>: unique, and the same on every resend'),
    type: attr('string', true, type),
    source: attr('uritemplate', true, source),
    subject: attr('string', true, subject, subject === '{topic}' ? 'the MQTT topic' : undefined),
    time: attr('timestamp', true, undefined, 'when the gateway received the MQTT publish'),
    datacontenttype: attr('string', false, undefined, 'application/json for a JSON payload, application/octet-stream otherwise; absent for an empty payload'),
    sequence: attr('string', true, undefined, 'the log sequence number, 16 digits, sorts in order (CloudEvents sequence extension)'),
    clientid: attr('string', false, undefined, 'the MQTT client id of the publisher')
  }
  if (usesPattern) for (const name of patternNames(ev.topicPattern)) metadata[name] = attr('string', true, undefined, `topic level {${name}} of ${ev.topicPattern ?? ''}`)
  if (ev.traceparent) metadata.traceparent = attr('string', true, undefined, 'W3C Trace Context (CloudEvents distributed-tracing extension)')
  if (input.signed) metadata.dssematerial = attr('binary', true, undefined, 'DSSE signature (CloudEvents verifiability extension)')
  const self = `${groupUrl}/messages/${id}`
  const xid = `${groupXid}/messages/${id}`
  const example = input.examples?.get(`${stream.name}/${id}`)
  const labels: Record<string, string> = { topics: stream.topics.join(' ') }
  if (ev.topicPattern !== undefined) labels.topicpattern = ev.topicPattern
  if (example !== undefined) labels.example = JSON.stringify(example)
  const at = input.modifiedAt
  // [xRegistry core "Version Entity"] one Version, the default: the message definition as it is
  const definition: Json = {
    epoch: 1,
    name: type,
    isdefault: true,
    description: `${hasPlaceholder(type) ? 'Events of types ' : 'Events of type '}${type} from MQTT topics ${stream.topics.join(', ')}`,
    labels,
    createdat: at,
    modifiedat: at,
    ancestorid: VERSION_ID,
    envelope: 'CloudEvents/1.0',
    envelopemetadata: metadata
  }
  const version: Json = { messageid: id, versionid: VERSION_ID, self: `${self}/versions/${VERSION_ID}`, xid: `${xid}/versions/${VERSION_ID}`, ...definition }
  // [xRegistry core "Meta Entity"] read-only: the registry follows the gateway's config
  const meta: Json = {
    messageid: id,
    self: `${self}/meta`,
    xid: `${xid}/meta`,
    epoch: 1,
    createdat: at,
    modifiedat: at,
    readonly: true,
    defaultversionid: VERSION_ID,
    defaultversionurl: version.self,
    defaultversionsticky: false
  }
  // [xRegistry core "Resource Entity"] the default Version's attributes, then meta and versions
  return [id, {
    messageid: id,
    versionid: VERSION_ID,
    self,
    xid,
    ...definition,
    metaurl: meta.self,
    meta,
    versionsurl: `${self}/versions`,
    versionscount: 1,
    versions: { [VERSION_ID]: version }
  }]
}

function group (input: RegistryInput, stream: Stream): Json {
  const xid = `/messagegroups/${stream.name}`
  const self = input.base + xid
  const messages: Json = {}
  const typeT = stream.event.type ?? DEFAULT_TYPE
  const [id, m] = message(input, stream, typeT, self, xid, true)
  messages[id] = m
  // a topic that does not match the pattern falls back to the defaults (see the mapper)
  if (stream.event.topicPattern !== undefined && hasPlaceholder(typeT)) {
    const [fid, fm] = message(input, stream, DEFAULT_TYPE, self, xid, false)
    messages[fid] ??= fm
  }
  return {
    messagegroupid: stream.name,
    self,
    xid,
    epoch: 1,
    name: stream.name,
    createdat: input.modifiedAt,
    modifiedat: input.modifiedAt,
    envelope: 'CloudEvents/1.0',
    messagesurl: `${self}/messages`,
    messagescount: Object.keys(messages).length,
    messages
  }
}

/** The whole registry with everything inlined; registry-view.ts serves the parts a request asks for. */
export function registryDocument (input: RegistryInput): Json {
  const groups: Json = {}
  for (const s of input.streams) groups[s.name] = group(input, s)
  const endpointXid = '/endpoints/subscriptions'
  const endpoint: Json = {
    endpointid: 'subscriptions',
    self: input.base + endpointXid,
    xid: endpointXid,
    epoch: 1,
    name: 'CloudEvents Subscriptions API',
    description: `Subscribe to the events of gateway ${input.gatewayId}: POST a subscription to ${input.subscriptionsUrl}`,
    createdat: input.modifiedAt,
    modifiedat: input.modifiedAt,
    usage: ['subscriber'],
    envelope: 'CloudEvents/1.0',
    protocol: 'HTTP',
    protocoloptions: { endpoints: [{ uri: input.subscriptionsUrl }], method: 'POST' },
    messagegroups: Object.keys(groups).map(g => `/messagegroups/${g}`),
    // [xRegistry core "Collections in API View"] the url of a collection is there even when it is empty
    messagesurl: `${input.base}${endpointXid}/messages`,
    messagescount: 0,
    messages: {}
  }
  return {
    specversion: XREGISTRY_SPEC_VERSION,
    registryid: input.gatewayId,
    self: input.base,
    xid: '/',
    epoch: 1,
    name: `flowgate ${input.gatewayId}`,
    createdat: input.modifiedAt,
    modifiedat: input.modifiedAt,
    messagegroupsurl: `${input.base}/messagegroups`,
    messagegroupscount: Object.keys(groups).length,
    messagegroups: groups,
    endpointsurl: `${input.base}/endpoints`,
    endpointscount: 1,
    endpoints: { subscriptions: endpoint },
    capabilities: { ...CAPABILITIES }
  }
}
