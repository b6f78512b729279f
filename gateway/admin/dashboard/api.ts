/**
 * Requests to the admin API, from the page's own origin. With `admin.token` set, the token is
 * asked for once and kept in sessionStorage for this tab: sent as a bearer header, never put in a
 * URL or a cookie.
 */

const TOKEN_KEY = 'flowgate.adminToken'

export class ApiError extends Error {
  readonly status: number
  readonly code: string

  constructor (status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }

  /** As shown to the operator: the code and the gateway's message. */
  describe (): string {
    return `${this.message} (${this.code})`
  }
}

export function storedToken (): string | null {
  return sessionStorage.getItem(TOKEN_KEY)
}

export function storeToken (token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token)
}

export function forgetToken (): void {
  sessionStorage.removeItem(TOKEN_KEY)
}

async function request<T> (method: 'GET' | 'POST', path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' }
  const token = storedToken()
  if (token !== null) headers.authorization = `Bearer ${token}`
  const init: RequestInit = { method, headers, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer', redirect: 'error' }
  if (signal !== undefined) init.signal = signal
  if (body !== undefined) {
    headers['content-type'] = 'application/json'
    init.body = JSON.stringify(body)
  }
  let res: Response
  try {
    res = await fetch(path, init)
  } catch (err) {
    if (signal?.aborted === true) throw err
    throw new ApiError(0, 'FG_ERR_ADMIN_UNREACHABLE', 'the gateway cannot be reached')
  }
  const text = await res.text()
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: unknown, message?: unknown } } | undefined)?.error
    const code = typeof e?.code === 'string' ? e.code : `HTTP ${res.status}`
    const message = typeof e?.message === 'string' ? e.message : (text.slice(0, 200) !== '' ? text.slice(0, 200) : res.statusText)
    throw new ApiError(res.status, code, message)
  }
  return json as T
}

export const api = {
  get: async <T>(path: string, signal?: AbortSignal): Promise<T> => await request<T>('GET', path, undefined, signal),
  post: async <T>(path: string, body?: unknown): Promise<T> => await request<T>('POST', path, body)
}

export const bridgePath = (name: string, action: string): string => `/api/bridges/${encodeURIComponent(name)}/${action}`
