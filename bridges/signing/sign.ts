/**
 * [CE-VERIFY "Signing Protocol"] `dssematerial` for an event: digests of its core attributes,
 * data and extensions, in a DSSE envelope signed by the gateway's key. The signature itself is
 * injected (`SignFunction`), so the rest is pure and checked against the spec's test vectors.
 */
import { isJsonContentType, type CloudEvent } from '../cloudevents/index.js'
import { coreDigest, extDigest, signedExtAttrsProblem } from './digest.js'
import { pae, PAYLOAD_TYPE } from './dsse.js'
import type { SignFunction } from './keys.js'

export const MATERIAL_ATTRIBUTE = 'dssematerial'

/**
 * The bytes an event's data is signed over: the bytes that travel. Bytes as they are; a JSON
 * value as the JSON text it was parsed from (`raw`, the MQTT payload, which flowgate sends
 * unchanged in every content mode) or else as JSON.stringify writes it; text as UTF-8.
 * Trailing white space of `raw` is not part of the value in the JSON formats, so it is cut.
 */
export function dataBytes (event: CloudEvent, raw?: Buffer): Buffer | undefined {
  const data = event.data
  if (data === undefined) return undefined
  if (Buffer.isBuffer(data)) return data
  if (raw !== undefined) return trimEnd(raw)
  const dct = event.datacontenttype
  if (typeof data === 'string' && dct !== undefined && !isJsonContentType(dct)) return Buffer.from(data, 'utf8')
  return Buffer.from(JSON.stringify(data), 'utf8')
}

/** `raw` without trailing JSON white space (space, tab, CR, LF); the same Buffer when it has none. */
export function trimEnd (raw: Buffer): Buffer {
  let end = raw.length
  while (end > 0) {
    const b = raw[end - 1] as number
    if (b !== 0x20 && b !== 0x0a && b !== 0x0d && b !== 0x09) break
    end--
  }
  return end === raw.length ? raw : raw.subarray(0, end)
}

/** A DSSE envelope over `body`, UTF-8 JSON, Base64-encoded: the `dssematerial` value. */
export function sealPayload (body: Buffer, signFn: SignFunction, keyId: string): string {
  const sig = signFn(pae(PAYLOAD_TYPE, body)).toString('base64')
  const envelope = JSON.stringify({ payloadType: PAYLOAD_TYPE, payload: body.toString('base64'), signatures: [{ keyid: keyId, sig }] })
  return Buffer.from(envelope, 'utf8').toString('base64')
}

/** VERIFICATION_MATERIAL as the UTF-8 JSON that is signed. */
export function verificationMaterial (event: CloudEvent, data: Buffer | undefined, signedExtAttrs: readonly string[]): Buffer {
  const material: Record<string, unknown> = { core: coreDigest(event, data).toString('base64') }
  if (signedExtAttrs.length > 0) {
    material.ext = extDigest(event, signedExtAttrs).toString('base64')
    material.signedextattrs = signedExtAttrs
  }
  return Buffer.from(JSON.stringify(material), 'utf8')
}

export interface EventSigner {
  readonly keyId: string
  /**
   * The `dssematerial` value for `event` whose data travels as `data` (see dataBytes).
   * Signs the extensions named, by default every extension the event carries (flowgate's are
   * all Strings, so their type is known), in the event's order.
   */
  material (event: CloudEvent, data: Buffer | undefined, signedExtAttrs?: readonly string[]): string
  /** `event` with its `dssematerial` extension set. */
  sign (event: CloudEvent, raw?: Buffer): CloudEvent
}

export function createEventSigner (signFn: SignFunction, keyId: string): EventSigner {
  const material = (event: CloudEvent, data: Buffer | undefined, names?: readonly string[]): string => {
    const signed = names ?? Object.keys(event.extensions).filter(n => n !== MATERIAL_ATTRIBUTE)
    const bad = signedExtAttrsProblem(signed)
    if (bad !== undefined) throw new TypeError(bad)
    return sealPayload(verificationMaterial(event, data, signed), signFn, keyId)
  }
  return {
    keyId,
    material,
    sign (event, raw) {
      const extensions = { ...event.extensions }
      delete extensions[MATERIAL_ATTRIBUTE]
      const unsigned = { ...event, extensions }
      return { ...event, extensions: { ...extensions, [MATERIAL_ATTRIBUTE]: material(unsigned, dataBytes(event, raw)) } }
    }
  }
}
