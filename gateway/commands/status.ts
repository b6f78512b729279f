import type { BridgeReport } from '../bridge-set.js'
import type { LogStats } from '../../storage/index.js'
import { EXIT_OK } from '../errors.js'
import { adminClient, ADMIN_OPTIONS } from './admin-client.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

interface StoreView { state: string, reason?: string, code?: string, since?: string, backpressure?: boolean }
interface ClockView { synced: boolean | null, oldestBehindMs: number }
interface Status { version: string, uptimeSeconds: number, clients: number, log: LogStats, clock?: ClockView, store?: StoreView, bridges: BridgeReport[] }

function storeLine (store: StoreView | undefined): string {
  if (store === undefined) return ''
  if (store.state === 'ok') return store.backpressure === true ? 'store: ok, commits behind: reading from clients paused\n' : 'store: ok\n'
  const why = [store.reason, store.code].filter(x => x !== undefined).join(', ')
  return `store: ${store.state}${why === '' ? '' : ` (${why})`}${store.since === undefined ? '' : ` since ${store.since}`}: publishes wait until it can write\n`
}

/** A line when the clock needs a word: never set from a time server, or set since the oldest events arrived. */
function clockLine (clock: ClockView | undefined): string {
  if (clock === undefined) return ''
  const lines: string[] = []
  if (clock.synced === false) lines.push('clock: not set from a time server in this boot: events carry this clock\'s times\n')
  if (clock.oldestBehindMs >= 60_000) lines.push(`clock: set since the oldest events arrived: their times are ${age(clock.oldestBehindMs / 1000)} behind (retention ages them from when they arrived)\n`)
  return lines.join('')
}

function age (seconds: number): string {
  if (seconds <= 0) return '-'
  if (seconds < 120) return `${Math.round(seconds)}s`
  if (seconds < 7200) return `${Math.round(seconds / 60)}m`
  if (seconds < 172_800) return `${Math.round(seconds / 3600)}h`
  return `${Math.round(seconds / 86_400)}d`
}

function table (rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length))) ?? []
  return rows.map(r => r.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ').trimEnd()).join('\n') + '\n'
}

function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

/** Bytes sent upstream, and how much compression saved. */
function sent (b: BridgeReport): string {
  const ratio = b.bytesSent > 0 && b.bytesBeforeCompression > b.bytesSent ? ` (${(b.bytesBeforeCompression / b.bytesSent).toFixed(1)}x)` : ''
  return bytes(b.bytesSent) + ratio
}

/** The last column: the next window, or the last error and when the next attempt is. */
function detail (b: BridgeReport): string {
  if (b.state === 'outside window' && b.nextWindowOpens !== undefined) return `window opens ${b.nextWindowOpens}`
  const error = b.lastError ?? ''
  if (b.state !== 'retrying' || b.nextAttemptAt === undefined) return error
  const next = `next attempt ${b.nextAttemptAt}${b.probing === true ? ', or as soon as the upstream accepts connections' : ''}`
  return error === '' ? next : `${error}; ${next}`
}

export function renderStatus (s: Status): string {
  const drops = Object.entries(s.log.drops).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'
  const head = `flowgate ${s.version}, up ${age(s.uptimeSeconds)}, ${s.clients} client(s)\n` +
    `log: sequence ${s.log.firstSeq}..${s.log.lastSeq}, ${s.log.records} records, ${(s.log.bytes / 1048576).toFixed(1)} MiB, drops: ${drops}\n` +
    storeLine(s.store) + clockLine(s.clock) + '\n'
  if (s.bridges.length === 0) return head + 'no bridges\n'
  const rows = [['BRIDGE', 'STATE', 'CURSOR', 'LAG', 'OLDEST', 'DELIVERED', 'DEAD', 'SENT', 'LAST ERROR / NEXT WINDOW']]
  for (const b of s.bridges) {
    rows.push([b.name, b.reason !== undefined ? `${b.state} (${b.reason})` : b.state, String(b.cursor), String(b.lag), age(b.oldestUndeliveredAgeSeconds), String(b.delivered), String(b.deadLetters), sent(b), detail(b)])
  }
  return head + table(rows)
}

export const status: Command = {
  usage: 'status [--admin URL] [--json]   bridges, lag, oldest undelivered age and state of a running gateway',
  async run (args) {
    const { values } = parseOptions(args, { ...ADMIN_OPTIONS, json: { type: 'boolean' } })
    const s = await adminClient(values).get('/api/status') as Status
    process.stdout.write(values.json === true ? JSON.stringify(s, null, 2) + '\n' : renderStatus(s))
    return EXIT_OK
  }
}
