/** Helpers for the Subscriptions API tests: calls as a consumer makes them, and a config with two consumers. */
import { request, type Dispatcher } from 'undici'
import { hashPassword } from '../../gateway/auth/index.js'
import type { Gateway } from '../../gateway/index.js'
import { testConfig } from './gateway.js'

export const ALICE = 'alice-token-0123456789'
export const BOB = 'bob-token-0123456789'

export interface ApiAnswer { status: number, headers: Record<string, unknown>, json: any } // eslint-disable-line @typescript-eslint/no-explicit-any

/** A request to the gateway's Subscriptions API with a consumer's bearer token (none when undefined). */
export async function call (gw: Gateway, method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'OPTIONS', path: string, token: string | undefined, body?: unknown, dispatcher?: Dispatcher): Promise<ApiAnswer> {
  const res = await request(`${gw.subscriptionsApi?.url ?? ''}${path}`, {
    method,
    headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    ...(dispatcher !== undefined ? { dispatcher } : {})
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) }
}

/** A request to the gateway's admin API (the operator's side). */
export async function admin (gw: Gateway, method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<ApiAnswer> {
  const res = await request(`${gw.admin?.url ?? ''}${path}`, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {})
  })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, json: text === '' ? undefined : JSON.parse(text) }
}

/** Consumer hashes made once (scrypt at a low cost: tests, not security). */
let hashes: Promise<{ alice: string, bob: string }> | undefined
async function consumerHashes (): Promise<{ alice: string, bob: string }> {
  const cost = { N: 1024, r: 8, p: 1 }
  hashes ??= (async () => ({ alice: await hashPassword(ALICE, cost), bob: await hashPassword(BOB, cost) }))()
  return await hashes
}

export interface SubscriptionsConfigOptions {
  /** YAML lines inside `subscriptions:` (indented by two spaces), e.g. `host: 127.0.0.1`. */
  listener?: string
  /** YAML of the `cloud` bridge's `event:` mapping. */
  event?: string
  /** YAML of more bridges, after `cloud` (list items indented by two spaces). */
  bridges?: string
  /** YAML of more consumers (list items indented by four spaces). */
  consumers?: string
  /** YAML appended to the config. */
  extra?: string
}

/**
 * A gateway config with a bridge `cloud` (topics devices/#, mapped by topic pattern) to `cloudUrl`
 * and the Subscriptions API on port 0: consumer alice (types com.example.*, approval auto, a pinned
 * filter against devices/internal/) and bob (any type, approval manual, one subscription).
 */
export async function subscriptionsConfig (dataDir: string, cloudUrl: string, opts: SubscriptionsConfigOptions = {}): Promise<ReturnType<typeof testConfig>> {
  const { alice, bob } = await consumerHashes()
  return testConfig(dataDir, `bridges:
  - name: cloud
    topics: ["devices/#"]
    event: ${opts.event ?? '{ topicPattern: "devices/{deviceid}/{kind}", type: "com.example.{kind}", source: "/sites/kitchen/{deviceid}" }'}
    sink: { url: ${JSON.stringify(cloudUrl)} }
${opts.bridges ?? ''}
subscriptions:
  port: 0
  suspendAfter: 1s
${opts.listener ?? ''}
  consumers:
    - name: alice
      token: ${JSON.stringify(alice)}
      types: ["com.example.*"]
      sinks: ["http://127.0.0.1:*/**"]
      approval: auto
      filter: "NOT (subject LIKE 'devices/internal/%')"
    - name: bob
      token: ${JSON.stringify(bob)}
      sinks: ["http://127.0.0.1:*/**"]
      maxSubscriptions: 1
${opts.consumers ?? ''}
${opts.extra ?? ''}`)
}
