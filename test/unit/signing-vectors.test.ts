/**
 * The verifiability extension's test vectors (../shared/conformance/specs/ce-verifiability.md,
 * "Test Vectors" and "Verification Walkthrough"), read in place. Read that folder's README
 * first: it lists the published defects of the vectors. Every case is verified with the spec's
 * key; only the repair the README lists for that case is applied, and the test says which.
 * Byte for byte: the vectors use deterministic ECDSA (RFC 6979), so signing each case with an
 * RFC 6979 signer through our signing code must give the published `dssematerial` exactly.
 */
import { createHash, createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { p256 } from '@noble/curves/p256'
import {
  coreDigest, createEventSigner, extDigest, openEnvelope, pae, PAYLOAD_TYPE, readEvents, sealPayload, verifyEvent,
  type AcceptedKey, type SignFunction
} from '../../bridges/signing/index.js'
import type { CloudEvent } from '../../bridges/cloudevents/index.js'
import { conformanceDir, conformancePresent } from '../helpers/paths.js'

const SPEC = join(conformanceDir, 'specs', 'ce-verifiability.md')

interface Case { name: string, eventText: string, signedextattrs: string[], material: string }

function section (md: string, heading: string, next: string): string {
  const start = md.indexOf(heading)
  if (start < 0) throw new Error(`${heading} not found in ${SPEC}`)
  const end = md.indexOf(next, start + heading.length)
  return md.slice(start, end < 0 ? undefined : end)
}

function codeBlocks (text: string): string[] {
  return [...text.matchAll(/```[a-z]*\n([\s\S]*?)\n```/g)].map(m => m[1] as string)
}

function readCases (md: string): Case[] {
  const vectors = section(md, '## Test Vectors', '#### Case 8')
  const parts = vectors.split(/^#### (Case [^:]+):.*$/m)
  const cases: Case[] = []
  for (let i = 1; i < parts.length; i += 2) {
    const blocks = codeBlocks(parts[i + 1] as string)
    const names = blocks.length === 3 ? JSON.parse(blocks[1] as string) as string[] : []
    cases.push({ name: parts[i] as string, eventText: blocks[0] as string, signedextattrs: names, material: (blocks.at(-1) as string).trim() })
  }
  return cases
}

/** The key of "Cryptographic keys" (decimal X, Y, d). */
function readKey (md: string): { d: bigint, jwk: Record<string, string> } {
  const num = (name: string): bigint => BigInt((new RegExp(`^${name}: (\\d+)$`, 'm').exec(md) as RegExpExecArray)[1] as string)
  const b64url = (n: bigint): string => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').toString('base64url')
  const d = num('d')
  return { d, jwk: { kty: 'EC', crv: 'P-256', x: b64url(num('X')), y: b64url(num('Y')), d: b64url(d) } }
}

/** [README] Cases 1-4 were signed over the event text indented by 2 spaces: double the `data` member's indentation. */
const doubleIndent = (data: Buffer): Buffer => Buffer.from(data.toString('utf8').replace(/\n( +)/g, (_m, sp: string) => '\n' + sp + sp), 'utf8')

/** [README] Cases 6a and 6b: the payload is the JSON followed by a stray `=`; the signature covers the JSON without it. */
function dropStrayEquals (material: string): string {
  const env = JSON.parse(Buffer.from(material, 'base64').toString('utf8')) as { payload: string }
  const payload = Buffer.from(env.payload, 'base64').toString('utf8')
  if (!payload.endsWith('}=')) throw new Error('expected a stray "=" after the payload JSON')
  env.payload = Buffer.from(payload.slice(0, -1), 'utf8').toString('base64')
  return Buffer.from(JSON.stringify(env), 'utf8').toString('base64')
}

const REPAIRS: Record<string, Array<'indent' | 'digest-payload' | 'stray-equals'>> = {
  'Case 1': ['indent', 'digest-payload'],
  'Case 2': ['indent', 'digest-payload'],
  'Case 3': ['indent'],
  'Case 4': ['indent'],
  'Case 5': [],
  'Case 6a': ['stray-equals'],
  'Case 6b': ['stray-equals'],
  'Case 7': []
}

if (conformancePresent(t, SPEC)) {
  const md = readFileSync(SPEC, 'utf8')
  const { d, jwk } = readKey(md)
  const privateKey = createPrivateKey({ key: jwk, format: 'jwk' })
  const keys: AcceptedKey[] = [{ key: createPublicKey(privateKey), keyIds: ['testkey'] }]
  const dBytes = Buffer.from(d.toString(16).padStart(64, '0'), 'hex')
  // [Cryptographic keys] deterministic-rfc6979, r || s, s not normalised
  const rfc6979: SignFunction = message => Buffer.from(p256.sign(createHash('sha256').update(message).digest(), dBytes, { lowS: false }).toCompactRawBytes())
  const signer = createEventSigner(rfc6979, 'testkey')
  const cases = readCases(md)

  t.same(cases.map(c => c.name), Object.keys(REPAIRS), 'every case of the Test Vectors section is read')

  for (const c of cases) {
    t.test(c.name, async t => {
      const repairs = REPAIRS[c.name] ?? []
      t.comment(repairs.length === 0 ? `${c.name}: verified as published` : `${c.name}: repairs applied (README): ${repairs.join(', ')}`)
      const [read] = readEvents(c.eventText)
      t.equal(read?.error, undefined, 'the input event reads')
      const event = read?.event as CloudEvent
      let data = read?.data
      if (repairs.includes('indent') && data !== undefined) data = doubleIndent(data)
      const published = repairs.includes('stray-equals') ? dropStrayEquals(c.material) : c.material

      if (repairs.includes('digest-payload')) {
        // a first-draft envelope: the payload is CORE_DIGEST itself
        const opened = openEnvelope(published, keys)
        t.ok(opened.ok, 'the signature over the digest payload verifies')
        t.same(opened.ok ? opened.payload : undefined, coreDigest(event, data), 'the payload is the core digest of the event')
        t.equal(sealPayload(coreDigest(event, data), rfc6979, 'testkey'), c.material, 'byte for byte: the published material')
        return
      }
      const result = verifyEvent({ ...event, extensions: { ...event.extensions, dssematerial: published } }, data, keys)
      t.ok(result.ok, `verifies${result.ok ? '' : `: ${result.reason}`}`)
      if (result.ok) t.same(result.signedextattrs, c.signedextattrs, 'signedextattrs as given to the signing function')
      t.equal(signer.material(event, data, c.signedextattrs), published, `byte for byte: the ${repairs.length === 0 ? 'published' : 'repaired'} material`)
      if (repairs.includes('stray-equals')) {
        t.notOk(verifyEvent({ ...event, extensions: { ...event.extensions, dssematerial: c.material } }, data, keys).ok, 'as published (stray "=" in the payload) the signature does not verify')
      }
      // tampering with the data, an attribute or a signed extension fails
      if (data !== undefined) {
        const changed = Buffer.from(data)
        changed[changed.length - 2] = (changed[changed.length - 2] as number) ^ 1
        t.notOk(verifyEvent({ ...event, extensions: { ...event.extensions, dssematerial: published } }, changed, keys).ok, 'one byte of data changed: fails')
      }
      t.notOk(verifyEvent({ ...event, type: event.type + 'x', extensions: { ...event.extensions, dssematerial: published } }, data, keys).ok, 'type changed: fails')
      for (const name of c.signedextattrs) {
        t.notOk(verifyEvent({ ...event, extensions: { ...event.extensions, [name]: 'other', dssematerial: published } }, data, keys).ok, `signed extension ${name} changed: fails`)
      }
    })
  }

  t.test('Verification Walkthrough: stated digests and the final event', async t => {
    const walk = section(md, '## Verification Walkthrough', '## Examples')
    const expected = [...walk.matchAll(/^Expected: `([A-Za-z0-9+/=]+)`$/gm)].map(m => m[1])
    t.equal(expected.length, 2, 'the core and ext fingerprints are stated')
    const blocks = codeBlocks(walk)
    const [start] = readEvents(blocks[0] as string)
    const event = start?.event as CloudEvent
    t.equal(coreDigest(event, start?.data).toString('base64'), expected[0], 'core fingerprint as published (data hashed as its raw text)')
    t.equal(extDigest(event, ['exta']).toString('base64'), expected[1], 'ext fingerprint as published')
    const final = readEvents(blocks.find(b => b.includes('"dssematerial"')) as string)[0]
    const material = final?.event?.extensions.dssematerial as string
    t.notOk(verifyEvent(final?.event as CloudEvent, final?.data, keys).ok, 'the final event as published does not verify (stray "=" in the payload)')
    t.comment('Walkthrough final event: repair applied (README): stray-equals')
    const repaired = verifyEvent({ ...event, extensions: { ...event.extensions, dssematerial: dropStrayEquals(material) } }, final?.data, keys)
    t.ok(repaired.ok && repaired.verified === 'core+extensions', 'the final event verifies, core and extensions, once the stray "=" is dropped')
  })

  t.test('Case 8: invalid signedextattrs are discarded even with a valid signature', async t => {
    const [read] = readEvents(cases[6]?.eventText as string)
    const event = read?.event as CloudEvent
    const digest = (b: Buffer): string => b.toString('base64')
    const core = digest(coreDigest(event, read?.data))
    const ext = digest(extDigest(event, ['exta']))
    const payloads: Record<string, unknown> = {
      '8a duplicate': { core, ext, signedextattrs: ['exta', 'exta'] },
      '8b context attribute': { core, ext, signedextattrs: ['exta', 'id'] },
      '8c dssematerial': { core, ext, signedextattrs: ['dssematerial'] },
      '8d signedextattrs without ext': { core, signedextattrs: ['exta'] },
      '8e ext without signedextattrs': { core, ext }
    }
    for (const [name, payload] of Object.entries(payloads)) {
      const material = sealPayload(Buffer.from(JSON.stringify(payload)), rfc6979, 'testkey')
      t.ok(openEnvelope(material, keys).ok, `${name}: the signature itself is valid`)
      const r = verifyEvent({ ...event, extensions: { ...event.extensions, dssematerial: material } }, read?.data, keys)
      t.notOk(r.ok, `${name}: discarded (${r.ok ? '' : r.reason})`)
    }
    const [objectExt] = readEvents('{"specversion":"1.0","id":"1","source":"s","type":"t","exta":{"a":1}}')
    t.match(objectExt?.error, /not a String, Integer or Boolean/, '8f an extension with an object value: discarded')
    t.throws(() => signer.material(event, read?.data, ['exta', 'exta']), /twice/, 'the signing function refuses invalid signedextattrs')
  })

  t.test('PAE and payload type are DSSE v1.0.2\'s', async t => {
    t.equal(pae('http://example.com/HelloWorld', Buffer.from('hello world')).toString(), 'DSSEv1 29 http://example.com/HelloWorld 11 hello world', 'the DSSE protocol\'s own PAE example')
    t.equal(PAYLOAD_TYPE, 'https://cloudevents.io/verifiability/dsse/v0.1')
  })
}
