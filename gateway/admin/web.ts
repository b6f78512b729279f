/**
 * The dashboard's files and the headers every admin response carries. The files ship in the
 * package (built into `dist/gateway/admin/dashboard/`, uPlot copied in from node_modules at build
 * time), so the page works on a site network with no way out. They are read once, on the first
 * request, and kept in memory with a gzipped copy.
 */
import { readdir, readFile } from 'node:fs/promises'
import { extname, join, relative, sep } from 'node:path'
import { gzipSync } from 'node:zlib'
import { createHash } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { distPath } from '../../config/index.js'
import { notFound } from './errors.js'
import { SECURITY_HEADERS } from './headers.js'

/** Where the dashboard's files are served from. */
export const DASHBOARD_PREFIX = '/ui/'
export { CONTENT_SECURITY_POLICY } from './headers.js'

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml'
}

interface Asset { type: string, body: Buffer, gzip: Buffer, etag: string }

const defaultDir = distPath('gateway/admin/dashboard/')

/** The files served, by path below DASHBOARD_PREFIX: html, css, js and svg only (no source maps). */
export async function loadAssets (dir = defaultDir): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>()
  const entries = await readdir(dir, { recursive: true, withFileTypes: true })
  for (const e of entries) {
    const type = TYPES[extname(e.name)]
    if (!e.isFile() || type === undefined) continue
    const file = join(e.parentPath, e.name)
    const body = await readFile(file)
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`
    assets.set(relative(dir, file).split(sep).join('/'), { type, body, gzip: gzipSync(body, { level: 9 }), etag })
  }
  return assets
}

function send (req: FastifyRequest, reply: FastifyReply, asset: Asset): FastifyReply {
  void reply.header('content-type', asset.type).header('cache-control', 'no-cache').header('etag', asset.etag).header('vary', 'accept-encoding')
  if (req.headers['if-none-match'] === asset.etag) return reply.code(304).send()
  if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? '')) return reply.header('content-encoding', 'gzip').send(asset.gzip)
  return reply.send(asset.body)
}

/** Serves the dashboard at `/` and its files under `/ui/`, and sets the security headers on every response. */
export function registerWeb (app: FastifyInstance): void {
  app.addHook('onSend', async (req, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) void reply.header(name, value)
    if (!req.url.startsWith(DASHBOARD_PREFIX) && req.url !== '/') void reply.header('cache-control', 'no-store')
    return payload
  })
  let loading: Promise<Map<string, Asset>> | undefined
  const asset = async (path: string): Promise<Asset> => {
    loading ??= loadAssets().catch((err: unknown) => {
      loading = undefined
      throw err
    })
    const found = (await loading.catch(() => undefined))?.get(path)
    if (found === undefined) throw notFound(`no dashboard file ${path}${path === 'index.html' ? ' (the dashboard was not built: npm run build)' : ''}`)
    return found
  }
  app.get('/', async (req, reply) => send(req, reply, await asset('index.html')))
  app.get<{ Params: { '*': string } }>(`${DASHBOARD_PREFIX}*`, async (req, reply) => send(req, reply, await asset(req.params['*'])))
}
