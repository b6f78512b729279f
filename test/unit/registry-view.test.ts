// What GET answers on the xRegistry document: plain GETs carry no collections, ?inline names what
// to include, every URL the registry gives resolves, and an ?inline the model lacks is refused.
import t from 'tap'
import { RegistryRequestError, registryDocument, registryView, type RegistryInput } from '../../bridges/subscriptions/index.js'

const BASE = 'https://gw.example.com/registry'
const input: RegistryInput = {
  base: BASE,
  gatewayId: 'gw-1',
  streams: [{ name: 'cloud', topics: ['devices/#'], event: { topicPattern: 'devices/{deviceid}/{kind}', type: 'com.example.{kind}', traceparent: false } }],
  subscriptionsUrl: 'https://gw.example.com/subscriptions',
  signed: false,
  modifiedAt: '2026-01-01T00:00:00.000Z'
}
const doc = registryDocument(input)
const MSG = 'messagegroups/cloud/messages/com.example._kind_'
type Json = Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any

t.test('a plain GET has no nested collections; ?inline names those to include', async t => {
  const root = registryView(doc, '', undefined)
  t.match(root, { specversion: '1.0-rc4', xid: '/', messagegroupsurl: `${BASE}/messagegroups`, messagegroupscount: 1, endpointsurl: `${BASE}/endpoints`, endpointscount: 1 })
  for (const key of ['messagegroups', 'endpoints', 'capabilities']) t.notOk(key in root, `no ${key} without ?inline`)

  const all: Json = registryView(doc, '', '')
  t.ok(all.messagegroups.cloud.messages['com.example._kind_'].versions['1'], '?inline (no value) is *: everything below')
  t.ok(all.messagegroups.cloud.messages['com.example._kind_'].meta, 'meta too')
  t.ok(all.endpoints.subscriptions, 'and the endpoints')
  t.notOk('capabilities' in all, '* leaves the capabilities out [xRegistry core "Inline Flag"]')

  const groups: Json = registryView(doc, '', 'messagegroups')
  t.ok(groups.messagegroups.cloud, '?inline=messagegroups: the groups')
  t.notOk('messages' in groups.messagegroups.cloud, 'one level only: not their messages')
  t.notOk('endpoints' in groups, 'nor the endpoints')

  const types: Json = registryView(doc, '', 'messagegroups.messages')
  const message = types.messagegroups.cloud.messages['com.example._kind_']
  t.match(message, { messageid: 'com.example._kind_', versionid: '1', isdefault: true, envelope: 'CloudEvents/1.0', envelopemetadata: { type: { value: 'com.example.{kind}' } } }, 'the message definitions: what a consumer needs to subscribe')
  t.notOk('meta' in message || 'versions' in message, 'without meta and versions')

  const versions: Json = registryView(doc, '', ['messagegroups.messages.versions', 'capabilities'])
  t.ok(versions.messagegroups.cloud.messages['com.example._kind_'].versions['1'], 'a deeper path inlines its parents')
  t.notOk('meta' in versions.messagegroups.cloud.messages['com.example._kind_'], 'and only the collection on the way')
  t.match(versions.capabilities, { flags: ['inline'], specversions: ['1.0-rc4'] }, 'the flag repeated: capabilities as well')

  const below: Json = registryView(doc, '', 'messagegroups.*')
  t.same(below.messagegroups, all.messagegroups, 'messagegroups.*: everything below the groups')
  t.notOk('endpoints' in below, 'and nothing else')
})

t.test('every entity at its URL; collections as maps of entities', async t => {
  t.same(Object.keys(registryView(doc, 'messagegroups', undefined)), ['cloud'])
  t.notOk('messages' in (registryView(doc, 'messagegroups', undefined).cloud as Json), 'a collection\'s entities without their collections')
  t.ok((registryView(doc, 'messagegroups', 'messages').cloud as Json).messages, '?inline relative to the collection\'s entities')
  t.match(registryView(doc, `${MSG}/meta`, undefined), { messageid: 'com.example._kind_', readonly: true, defaultversionid: '1', defaultversionurl: `${BASE}/${MSG}/versions/1` })
  t.match(registryView(doc, `${MSG}/versions/1`, undefined), { versionid: '1', isdefault: true, xid: `/${MSG}/versions/1` })
  t.same(registryView(doc, 'endpoints/subscriptions/messages', undefined), {}, 'the endpoint\'s messages: empty, and there')
  t.match(registryView(doc, 'capabilities', undefined), { available: { capabilities: { mutable: false }, entities: { mutable: false } } })

  // every self and *url in the document resolves, and self is base + xid
  const urls: string[] = []
  const walk = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return
    const e = node as Json
    if (typeof e.self === 'string' && typeof e.xid === 'string') t.equal(e.self, e.xid === '/' ? BASE : BASE + (e.xid as string), `self of ${e.xid as string}`)
    for (const [k, v] of Object.entries(e)) {
      if ((k === 'self' || k.endsWith('url')) && typeof v === 'string' && v.startsWith(BASE)) urls.push(v)
      walk(v)
    }
  }
  walk(doc)
  t.ok(urls.length > 10)
  for (const url of urls) t.doesNotThrow(() => registryView(doc, url.slice(BASE.length), undefined), `${url} resolves`)
})

t.test('what the model lacks: 404 for an entity, 400 for an inline path', async t => {
  const status = (path: string, inline: string | undefined): number | undefined => {
    try {
      registryView(doc, path, inline)
      return undefined
    } catch (err) {
      return err instanceof RegistryRequestError ? err.status : -1
    }
  }
  for (const path of ['nope', 'specversion', 'messagegroups/none', `${MSG}/name`, `${MSG}/versions/2`]) t.equal(status(path, undefined), 404, `/${path}: 404`)
  for (const inline of ['foo', 'messages', '*.messagegroups', 'messagegroups.meta', 'endpoints.messages.foo', 'model']) t.equal(status('', inline), 400, `?inline=${inline}: 400`)
  t.throws(() => registryView(doc, '', 'messagegroups.meta'), /inline messagegroups\.meta: "meta" is not an inlineable attribute here/, 'the reason names the path')
  t.equal(status(MSG, 'messages'), 400, 'paths are relative to where the request points')
  t.doesNotThrow(() => registryView(doc, MSG, 'meta,versions'))
})
