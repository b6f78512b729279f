/**
 * [CE-VERIFY "Verification Protocol"] checks an event against its `dssematerial`: the DSSE
 * signature first (with an accepted key), then the core digest, then the signed extensions.
 */
import { timingSafeEqual, type KeyObject } from 'node:crypto'
import { isUtf8 } from 'node:buffer'
import type { CloudEvent, ExtensionValue } from '../cloudevents/index.js'
import { coreDigest, extDigest, signedExtAttrsProblem } from './digest.js'
import { decodeBase64, pae, parseEnvelope, PAYLOAD_TYPE } from './dsse.js'
import { verifyWith } from './keys.js'
import { MATERIAL_ATTRIBUTE } from './sign.js'

/** A key a consumer accepts, with the keyids that name it (a signature without keyid is tried with every key). */
export interface AcceptedKey { key: KeyObject, keyIds: readonly string[] }

export type VerifyResult =
  | { ok: true, keyid: string, verified: 'core' | 'core+extensions', signedextattrs: string[] }
  | { ok: false, reason: string }

/** The signed payload of `material` (Base64 of a DSSE envelope) when a signature in it verifies with an accepted key. */
export function openEnvelope (material: string | Buffer, keys: readonly AcceptedKey[]): { ok: true, payload: Buffer, keyid: string } | { ok: false, reason: string } {
  const bytes = typeof material === 'string' ? decodeBase64(material) : material
  if (bytes === undefined || bytes.length === 0) return { ok: false, reason: 'dssematerial is not Base64' }
  // [step 3] the envelope is UTF-8 text
  if (!isUtf8(bytes)) return { ok: false, reason: 'dssematerial is not UTF-8 text' }
  const env = parseEnvelope(bytes.toString('utf8'))
  if (typeof env === 'string') return { ok: false, reason: env }
  if (env.payloadType !== PAYLOAD_TYPE) return { ok: false, reason: `unknown payloadType ${JSON.stringify(env.payloadType)}` }
  const payload = decodeBase64(env.payload)
  if (payload === undefined) return { ok: false, reason: 'the DSSE payload is not Base64' }
  const message = pae(env.payloadType, payload)
  let tried = 0
  for (const s of env.signatures) {
    const sig = decodeBase64(s.sig)
    if (sig === undefined) continue
    for (const k of keys) {
      // [step 7.1] only signatures whose keyid names an accepted key
      if (s.keyid !== '' && !k.keyIds.includes(s.keyid)) continue
      tried++
      if (verifyWith(k.key, message, sig)) return { ok: true, payload, keyid: s.keyid }
    }
  }
  return { ok: false, reason: tried === 0 ? `no signature by an accepted key (keyids: ${env.signatures.map(s => JSON.stringify(s.keyid)).join(', ')})` : 'the signature does not verify' }
}

const same = (a: Buffer, b: Buffer): boolean => a.length === b.length && timingSafeEqual(a, b)

/**
 * Verifies `event`, whose data arrived as the bytes `data` (the body in binary mode, the
 * `data` member's JSON text or the decoded `data_base64` in the JSON formats).
 */
export function verifyEvent (event: CloudEvent, data: Buffer | undefined, keys: readonly AcceptedKey[]): VerifyResult {
  const ext = event.extensions
  const value = Object.hasOwn(ext, MATERIAL_ATTRIBUTE) ? ext[MATERIAL_ATTRIBUTE] : undefined
  // [step 2] no material: the event is unsigned, which a consumer that asks for verification refuses
  if (value === undefined || value === '') return { ok: false, reason: 'the event is not signed (no dssematerial)' }
  if (typeof value !== 'string') return { ok: false, reason: 'dssematerial is not Base64 text' }
  const opened = openEnvelope(value, keys)
  if (!opened.ok) return opened
  // [step 6] the verification material
  let material: unknown
  try {
    material = JSON.parse(opened.payload.toString('utf8'))
  } catch {
    return { ok: false, reason: 'the verification material is not JSON' }
  }
  if (typeof material !== 'object' || material === null || Array.isArray(material)) return { ok: false, reason: 'the verification material is not a JSON object' }
  const m = material as Record<string, unknown>
  const core = decodeBase64(m.core)
  if (core?.length !== 32) return { ok: false, reason: 'the verification material has no 32-byte core digest' }
  const hasExt = m.ext !== undefined
  const hasNames = m.signedextattrs !== undefined
  if (hasExt !== hasNames) return { ok: false, reason: 'ext and signedextattrs must both be present or both absent' }
  let extBytes: Buffer | undefined
  let names: string[] = []
  if (hasExt) {
    extBytes = decodeBase64(m.ext)
    if (extBytes?.length !== 32) return { ok: false, reason: 'the verification material\'s ext is not a 32-byte digest' }
    if (!Array.isArray(m.signedextattrs)) return { ok: false, reason: 'signedextattrs is not a list' }
    const bad = signedExtAttrsProblem(m.signedextattrs as unknown[])
    if (bad !== undefined) return { ok: false, reason: bad }
    names = m.signedextattrs as string[]
  }
  // [step 8] the core attributes and the data
  if (!same(coreDigest(event, data), core)) return { ok: false, reason: 'the core attributes or the data differ from what was signed' }
  if (extBytes === undefined) return { ok: true, keyid: opened.keyid, verified: 'core', signedextattrs: [] }
  // [step 9] every value here has a known type (String, Integer, Boolean), so extensions are always checked
  for (const n of names) {
    const v: ExtensionValue | undefined = Object.hasOwn(ext, n) ? ext[n] : undefined
    if (v !== undefined && typeof v === 'number' && !Number.isInteger(v)) return { ok: false, reason: `extension "${n}" has no CloudEvents type (not an integer)` }
  }
  if (!same(extDigest(event, names), extBytes)) return { ok: false, reason: `the signed extensions (${names.join(', ')}) differ from what was signed` }
  return { ok: true, keyid: opened.keyid, verified: 'core+extensions', signedextattrs: names }
}
