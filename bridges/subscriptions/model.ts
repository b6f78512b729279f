/**
 * [CE-SUBSCRIPTIONS 3.2.1] the subscription object: what a consumer sends, checked and
 * normalised, and what it is shown. Pure: no I/O.
 */
import { compileSqlFilter, parseStart } from '../compile.js'
import { compileFilters } from '../filters/index.js'
import { ConfigValueError } from '../../config/index.js'

export type SubscriptionState = 'pending' | 'active' | 'suspended' | 'rejected'
export type SinkCredential =
  | { credentialtype: 'ACCESSTOKEN', accesstoken: string, accesstokentype?: string, accesstokenexpiresutc?: string }
  | { credentialtype: 'PLAIN', identifier: string, secret: string }

/** What the consumer asks for. */
export interface SubscriptionRequest {
  source?: string
  types?: string[]
  /** `start` (end, earliest, RFC 3339 time, sequence number), `mode` (binary, structured, batch), `topics` (MQTT filters). */
  config: { start?: string | number, mode?: 'binary' | 'structured' | 'batch', topics?: string[] }
  filters: Array<Record<string, unknown>>
  sink: string
  sinkcredential?: SinkCredential
  protocol: 'HTTP'
  protocolsettings: { headers?: Record<string, string>, method?: 'POST' }
}

/** A subscription as stored. */
export interface Subscription extends SubscriptionRequest {
  id: string
  consumer: string
  state: SubscriptionState
  /** Why the subscription is rejected or suspended. */
  reason?: string
  createdat: string
  modifiedat: string
}

const CONFIG_KEYS = new Set(['start', 'mode', 'topics'])
const FORBIDDEN_HEADERS = /^(?:content-type|content-length|host|connection|transfer-encoding|authorization|traceparent|ce-.*)$/i
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/

export class RequestError extends Error {
  constructor (readonly status: 400 | 403, message: string) {
    super(message)
  }
}

const bad = (message: string): RequestError => new RequestError(400, message)
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const stringList = (v: unknown, what: string): string[] => {
  if (!Array.isArray(v) || v.some(s => typeof s !== 'string' || s === '')) throw bad(`${what} must be a list of non-empty strings`)
  return v as string[]
}

function credential (v: unknown): SinkCredential {
  if (!isObject(v)) throw bad('sinkcredential must be an object')
  const type = v.credentialtype
  const str = (name: string): string => {
    const s = v[name]
    if (typeof s !== 'string' || s === '') throw bad(`sinkcredential.${name} is required for credentialtype ${String(type)}`)
    return s
  }
  if (type === 'ACCESSTOKEN') {
    const c: SinkCredential = { credentialtype: 'ACCESSTOKEN', accesstoken: str('accesstoken') }
    if (typeof v.accesstokentype === 'string') c.accesstokentype = v.accesstokentype
    if (typeof v.accesstokenexpiresutc === 'string') c.accesstokenexpiresutc = v.accesstokenexpiresutc
    return c
  }
  if (type === 'PLAIN') return { credentialtype: 'PLAIN', identifier: str('identifier'), secret: str('secret') }
  throw bad(`sinkcredential.credentialtype ${JSON.stringify(type)} is not supported (ACCESSTOKEN or PLAIN)`)
}

/**
 * A subscription request from its JSON body. Throws RequestError (400) naming what is wrong:
 * a missing sink, a protocol other than HTTP, an unknown filter dialect, an invalid CESQL
 * expression. An `id` in the body is ignored [CE-SUBSCRIPTIONS 3.2.1 id].
 */
export function parseSubscriptionRequest (body: unknown): SubscriptionRequest {
  if (!isObject(body)) throw bad('the body must be a subscription object (JSON)')
  if (body.protocol === undefined) throw bad('protocol is required (HTTP)')
  if (body.protocol !== 'HTTP') throw bad(`protocol ${JSON.stringify(body.protocol)} is not supported: this gateway delivers over HTTP only`)
  if (typeof body.sink !== 'string' || body.sink === '') throw bad('sink is required: the URL events are delivered to')
  const req: SubscriptionRequest = { config: {}, filters: [], sink: body.sink, protocol: 'HTTP', protocolsettings: {} }
  if (body.filter !== undefined && body.filters === undefined) throw bad('"filter" is not a subscription property: use "filters", a list of filter expressions')
  if (body.source !== undefined) {
    if (typeof body.source !== 'string' || body.source === '') throw bad('source must be a non-empty string')
    req.source = body.source
  }
  if (body.types !== undefined) req.types = stringList(body.types, 'types')
  if (body.config !== undefined) {
    if (!isObject(body.config)) throw bad('config must be an object')
    for (const key of Object.keys(body.config)) if (!CONFIG_KEYS.has(key)) throw bad(`config.${key} is not supported (start, mode, topics)`)
    const { start, mode, topics } = body.config
    if (start !== undefined) {
      if (typeof start !== 'string' && typeof start !== 'number') throw bad('config.start must be end, earliest, an RFC 3339 time or a sequence number')
      try {
        parseStart(start)
      } catch (err) {
        throw bad(`config.${(err as ConfigValueError).message}`)
      }
      req.config.start = start
    }
    if (mode !== undefined) {
      if (mode !== 'binary' && mode !== 'structured' && mode !== 'batch') throw bad('config.mode must be binary, structured or batch')
      req.config.mode = mode
    }
    if (topics !== undefined) req.config.topics = stringList(topics, 'config.topics')
  }
  if (body.filters !== undefined) {
    if (!Array.isArray(body.filters)) throw bad('filters must be a list of filter expressions')
    try {
      compileFilters(body.filters, { sql: compileSqlFilter })
    } catch (err) {
      if (err instanceof ConfigValueError) throw bad(err.atPath('filters').message)
      throw err
    }
    req.filters = body.filters as Array<Record<string, unknown>>
  }
  if (body.sinkcredential !== undefined) req.sinkcredential = credential(body.sinkcredential)
  const ps = body.protocolsettings
  if (ps !== undefined) {
    if (!isObject(ps)) throw bad('protocolsettings must be an object')
    if (ps.method !== undefined && ps.method !== 'POST') throw bad(`protocolsettings.method ${JSON.stringify(ps.method)} is not supported: events are POSTed`)
    if (ps.method === 'POST') req.protocolsettings.method = 'POST'
    if (ps.headers !== undefined) {
      if (!isObject(ps.headers)) throw bad('protocolsettings.headers must be an object of header names and values')
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(ps.headers)) {
        if (!HEADER_NAME.test(name) || typeof value !== 'string' || /[\r\n\0]/.test(value)) throw bad(`protocolsettings.headers.${name} is not a valid header`)
        if (FORBIDDEN_HEADERS.test(name)) throw bad(`protocolsettings.headers.${name} cannot be set (the gateway sets it${/^authorization$/i.test(name) ? '; use sinkcredential' : ''})`)
        headers[name] = value
      }
      req.protocolsettings.headers = headers
    }
  }
  return req
}

/** The subscription as a consumer sees it: `sinkcredential` is write-only [CE-SUBSCRIPTIONS 3.2.1 sinkcredential], secrets left out. */
export function subscriptionView (sub: Subscription): Record<string, unknown> {
  const view: Record<string, unknown> = { id: sub.id }
  if (sub.source !== undefined) view.source = sub.source
  if (sub.types !== undefined) view.types = sub.types
  view.config = sub.config
  view.filters = sub.filters
  view.sink = sub.sink
  if (sub.sinkcredential !== undefined) view.sinkcredential = { credentialtype: sub.sinkcredential.credentialtype }
  view.protocol = sub.protocol
  view.protocolsettings = sub.protocolsettings
  view.state = sub.state
  if (sub.reason !== undefined) view.reason = sub.reason
  view.createdat = sub.createdat
  view.modifiedat = sub.modifiedat
  return view
}
