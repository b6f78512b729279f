/**
 * [xRegistry HTTP] what a GET answers: the entity (or collection) at a path of the registry, with
 * the nested collections and objects the `?inline` flag names and no others [xRegistry core
 * "Inline Flag", "Collections in API View": a collection not named MUST NOT be included]. Pure.
 */

type Json = Record<string, unknown>

/** The model of this registry: what can be inlined at each kind of entity, and what it holds. */
type Kind = 'registry' | 'messagegroup' | 'endpoint' | 'message' | 'version' | 'object'
const MODEL: Readonly<Record<Kind, Readonly<Record<string, Kind>>>> = {
  registry: { messagegroups: 'messagegroup', endpoints: 'endpoint', capabilities: 'object' },
  messagegroup: { messages: 'message' },
  endpoint: { messages: 'message' },
  message: { meta: 'object', versions: 'version' },
  version: {},
  object: {}
}
/** Inlineables that are single objects, not collections of entities. */
const OBJECTS = new Set(['meta', 'capabilities'])
/** [xRegistry core "Inline Flag"] `*` leaves these out at the root: they are configuration. */
const NOT_IN_STAR = new Set(['capabilities', 'model', 'modelsource'])

export class RegistryRequestError extends Error {
  constructor (readonly status: 400 | 404, message: string) {
    super(message)
  }
}

/**
 * The `?inline` values of a request as paths (`messagegroups.messages` → ['messagegroups',
 * 'messages']): comma-separated, the flag repeatable; no value means `*` [xRegistry HTTP "?inline"].
 */
export function inlinePaths (values: string | readonly string[] | undefined): string[][] {
  if (values === undefined) return []
  const list = typeof values === 'string' ? [values] : values
  return list.flatMap(v => v.split(',')).map(p => p.trim()).map(p => (p === '' ? '*' : p).split('.'))
}

/** Checks `paths` against the model at `kind`; a name that cannot be inlined there is a 400. */
function checkPaths (kind: Kind, paths: readonly string[][]): void {
  for (const path of paths) {
    let at: Kind = kind
    path.forEach((name, i) => {
      if (name === '*') {
        if (i !== path.length - 1) throw new RegistryRequestError(400, `inline ${path.join('.')}: * can only be the last part`)
        return
      }
      const next = MODEL[at][name]
      if (next === undefined) throw new RegistryRequestError(400, `inline ${path.join('.')}: ${JSON.stringify(name)} is not an inlineable attribute here`)
      at = next
    })
  }
}

/** `entity` (of `kind`) with exactly the inlineables `paths` name; `all`: everything below is inlined. */
function project (entity: Json, kind: Kind, paths: readonly string[][], all: boolean): Json {
  const model = MODEL[kind]
  const star = all || paths.some(p => p[0] === '*')
  const out: Json = {}
  for (const [key, value] of Object.entries(entity)) {
    const child = model[key]
    if (child === undefined) {
      out[key] = value
      continue
    }
    const named = paths.filter(p => p[0] === key).map(p => p.slice(1))
    const starred = star && !(kind === 'registry' && NOT_IN_STAR.has(key))
    if (!starred && named.length === 0) continue
    const below = named.filter(p => p.length > 0)
    out[key] = OBJECTS.has(key) ? value : members(value as Json, child, below, starred)
  }
  return out
}

function members (collection: Json, kind: Kind, paths: readonly string[][], all: boolean): Json {
  return Object.fromEntries(Object.entries(collection).map(([id, e]) => [id, project(e as Json, kind, paths, all)]))
}

/**
 * The answer to GET `path` (relative to the registry root: '', `messagegroups`,
 * `messagegroups/g/messages/m/versions/1`, `capabilities`, …) with `?inline` values `inline`.
 * Throws RegistryRequestError: 404 for no such entity, 400 for an inline path the model lacks.
 */
export function registryView (doc: Json, path: string, inline: string | readonly string[] | undefined): Json {
  const parts = path.split('/').filter(p => p !== '')
  let node: unknown = doc
  let kind: Kind = 'registry'
  let collection = false
  for (const part of parts) {
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, part)) throw new RegistryRequestError(404, `no registry entity /${parts.join('/')}`)
    node = (node as Json)[part]
    if (collection) {
      collection = false // an entity of the collection
      continue
    }
    const next: Kind | undefined = MODEL[kind][part]
    if (next === undefined) throw new RegistryRequestError(404, `no registry entity /${parts.join('/')}`)
    kind = next
    collection = !OBJECTS.has(part)
  }
  const paths = inlinePaths(inline)
  checkPaths(kind, paths)
  // [xRegistry HTTP] a collection is a map of its entities, each shaped as if asked for alone
  return collection ? members(node as Json, kind, paths, false) : project(node as Json, kind, paths, false)
}
