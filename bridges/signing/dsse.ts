/**
 * [DSSE v1.0.2] the envelope that carries a signature over a typed payload, and the
 * pre-authentication encoding (PAE) that is what is really signed.
 * https://github.com/secure-systems-lab/dsse/blob/v1.0.2/protocol.md
 */

/** [CE-VERIFY] the payloadType of CloudEvents verification material. */
export const PAYLOAD_TYPE = 'https://cloudevents.io/verifiability/dsse/v0.1'

export interface DsseSignature { keyid: string, sig: string }
export interface DsseEnvelope { payloadType: string, payload: string, signatures: DsseSignature[] }

/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body, lengths in bytes as ASCII decimal. */
export function pae (payloadType: string, body: Buffer): Buffer {
  const type = Buffer.from(payloadType, 'utf8')
  return Buffer.concat([Buffer.from(`DSSEv1 ${type.length} `), type, Buffer.from(` ${body.length} `), body])
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/
const BASE64URL = /^[A-Za-z0-9_-]*$/

/** DSSE accepts standard or URL-safe Base64; undefined for anything else. */
export function decodeBase64 (text: unknown): Buffer | undefined {
  if (typeof text !== 'string') return undefined
  if (BASE64.test(text)) return Buffer.from(text, 'base64')
  if (BASE64URL.test(text) && text.length % 4 !== 1) return Buffer.from(text, 'base64url')
  return undefined
}

/** The envelope in `json`, checked for shape; a reason string when it is not one. */
export function parseEnvelope (json: string): DsseEnvelope | string {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return 'the DSSE envelope is not JSON'
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the DSSE envelope is not a JSON object'
  const env = value as Record<string, unknown>
  if (typeof env.payloadType !== 'string') return 'the DSSE envelope has no payloadType'
  if (typeof env.payload !== 'string') return 'the DSSE envelope has no payload'
  if (!Array.isArray(env.signatures) || env.signatures.length === 0) return 'the DSSE envelope has no signatures'
  const signatures: DsseSignature[] = []
  for (const s of env.signatures as unknown[]) {
    const sig = s as Record<string, unknown> | null
    if (typeof sig !== 'object' || sig === null || typeof sig.sig !== 'string') return 'a DSSE signature has no sig'
    signatures.push({ keyid: typeof sig.keyid === 'string' ? sig.keyid : '', sig: sig.sig })
  }
  return { payloadType: env.payloadType, payload: env.payload, signatures }
}
