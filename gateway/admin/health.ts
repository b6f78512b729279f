/** `/healthz` (the process answers) and `/readyz` (it takes publishes: the stores can write). */
export interface HealthAnswer {
  status: number
  body: { status: 'ok' } | { ready: boolean }
}

/** The answer for a health path, or undefined for any other path. */
export function healthAnswer (path: string, ready: () => boolean): HealthAnswer | undefined {
  if (path === '/healthz') return { status: 200, body: { status: 'ok' } }
  if (path !== '/readyz') return undefined
  const r = ready()
  return { status: r ? 200 : 503, body: { ready: r } }
}
