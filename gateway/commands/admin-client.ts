/** The operator commands talk to a running gateway's admin API. */
import { FlowgateError } from '../errors.js'
import type { OptionSpec } from './parse.js'

export const ADMIN_OPTIONS: OptionSpec = {
  admin: { type: 'string' },
  token: { type: 'string' }
}

export interface AdminClient {
  get (path: string): Promise<unknown>
  post (path: string, body?: unknown): Promise<unknown>
  delete (path: string): Promise<unknown>
}

/** `--admin URL` (default $FLOWGATE_ADMIN or http://127.0.0.1:9080), `--token` (default $FLOWGATE_ADMIN_TOKEN). */
export function adminClient (values: Record<string, string | boolean | undefined>, env: NodeJS.ProcessEnv = process.env): AdminClient {
  const base = (typeof values.admin === 'string' ? values.admin : env.FLOWGATE_ADMIN ?? 'http://127.0.0.1:9080').replace(/\/+$/, '')
  const token = typeof values.token === 'string' ? values.token : env.FLOWGATE_ADMIN_TOKEN
  const call = async (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<unknown> => {
    // loaded on use, so the commands that do not talk to a gateway (start among them) do not load the HTTP client;
    // the package's exports as its default (CommonJS), which is all the bundled command's chunk of it exports
    const { request } = (await import('undici')).default
    let res
    try {
      res = await request(base + path, {
        method,
        headers: { ...(token !== undefined ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        headersTimeout: 70_000,
        bodyTimeout: 70_000
      })
    } catch (cause) {
      throw new FlowgateError('FG_ERR_ADMIN_UNREACHABLE', `cannot reach the gateway's admin API at ${base} (${(cause as { code?: string }).code ?? (cause as Error).message})`, { cause })
    }
    const json = await res.body.json() as { error?: { code?: string, message?: string } }
    if (res.statusCode >= 400) {
      const code = json.error?.code
      const known = code === 'FG_ERR_ADMIN_NOT_FOUND' || code === 'FG_ERR_ADMIN_BAD_REQUEST' || code === 'FG_ERR_ADMIN_UNAUTHORIZED' || code === 'FG_ERR_ADMIN_CONFLICT'
      throw new FlowgateError(known ? code : 'FG_ERR_ADMIN_UNREACHABLE', json.error?.message ?? `HTTP ${res.statusCode}`)
    }
    return json
  }
  return {
    get: async path => await call('GET', path),
    post: async (path, body) => await call('POST', path, body ?? {}),
    delete: async path => await call('DELETE', path)
  }
}
