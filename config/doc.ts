/** Renders the config reference in README.md from the schema, so the two cannot drift apart. */
import { ConfigSchema } from './schema.js'

interface Node {
  type?: string
  enum?: string[]
  default?: unknown
  description?: string
  secret?: boolean
  properties?: Record<string, Node>
  items?: Node
  pattern?: string
  minimum?: number
  maximum?: number
}

export const DOC_START = '<!-- config-reference:start (generated from config/schema.ts by `npm run docs`) -->'
export const DOC_END = '<!-- config-reference:end -->'

function typeOf (n: Node): string {
  if (n.enum !== undefined) return n.enum.map(v => `\`${v}\``).join(' \\| ')
  if (n.type === 'array') return `list of ${n.items?.type === 'object' ? 'objects' : (n.items?.type ?? 'values')}`
  if (n.type === 'integer' && n.minimum !== undefined && n.maximum !== undefined) return `integer ${n.minimum}-${n.maximum}`
  return n.type ?? 'any'
}

function defaultOf (n: Node): string {
  if (n.default === undefined || n.type === 'object') return ''
  if (n.type === 'array') return `\`${JSON.stringify(n.default)}\``
  return `\`${String(n.default)}\``
}

function rows (node: Node, path: string, out: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const p = path === '' ? key : `${path}.${key}`
    if (child.type === 'object' && child.properties !== undefined) {
      rows(child, p, out)
      continue
    }
    const desc = (child.description ?? '') + (child.secret === true ? ' Secret: redacted in output.' : '')
    out.push(`| \`${p}\` | ${typeOf(child)} | ${defaultOf(child)} | ${desc.replace(/\|/g, '\\|')} |`)
    if (child.type === 'array' && child.items?.properties !== undefined) rows(child.items, `${p}[]`, out)
  }
}

export function renderConfigReference (): string {
  const out = ['| key | type | default | meaning |', '|---|---|---|---|']
  rows(ConfigSchema as unknown as Node, '', out)
  return [DOC_START, '', ...out, '', DOC_END].join('\n')
}
