/** The `admin:` (operator HTTP API) and `jobs:` (scheduled jobs) sections. */
import { Type } from '@sinclair/typebox'

export const Admin = Type.Object({
  enabled: Type.Boolean({ default: true, description: 'Serve the admin HTTP API (status, control, `/metrics`, `/healthz`, `/readyz`) and the dashboard at `/`.' }),
  host: Type.String({ default: '127.0.0.1', description: 'Address of the admin API. Beyond loopback, `admin.token` is required.' }),
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 9080, description: 'Port of the admin API; 0 picks a free one.' }),
  token: Type.Optional(Type.String({ minLength: 16, secret: true, description: 'Bearer token required on every admin request except `/healthz`, `/readyz` and the dashboard\'s page and files (the page asks for the token); use `${VAR}`.' })),
  allowedHosts: Type.Array(Type.String({ minLength: 1, pattern: '^[^\\s/:@]+$' }), {
    default: [],
    description: 'Host names (besides `localhost`, `admin.host` and IP addresses) that requests may name in their `Host` header, such as the gateway\'s DNS name on the LAN. Other names are refused (403), so a web page cannot reach the API through DNS rebinding.'
  })
}, { additionalProperties: false, default: {} })

export const CRON_DESCRIPTION = 'cron expression (5 fields, or 6 with seconds first)'

export const Jobs = Type.Object({
  heartbeat: Type.Optional(Type.Object({
    bridge: Type.String({ minLength: 1, description: 'The bridge that carries the heartbeat event (type `flowgate.heartbeat`), whatever its topic filters.' }),
    schedule: Type.String({ minLength: 1, default: '*/5 * * * *', description: `When to send a heartbeat with the gateway's own counters: ${CRON_DESCRIPTION}.` })
  }, { additionalProperties: false, description: 'Periodic heartbeat CloudEvent.' }))
}, { additionalProperties: false, default: {} })
