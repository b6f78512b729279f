/**
 * Keys for event signing: ECDSA over NIST P-256 with SHA-256, as the verifiability extension's
 * test vectors use. Signatures are the raw concatenation of r and s (IEEE P1363).
 */
import { createHash, createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { SigningError } from './errors.js'

/** Signs `message` (SHA-256 is applied inside); returns r || s, 64 bytes. */
export type SignFunction = (message: Buffer) => Buffer

function checkCurve (key: KeyObject, what: string): KeyObject {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new SigningError('FG_ERR_SIGNING_KEY', `${what} is not an ECDSA P-256 key (got ${key.asymmetricKeyType ?? 'unknown'}${key.asymmetricKeyDetails?.namedCurve !== undefined ? ` on ${key.asymmetricKeyDetails.namedCurve}` : ''})`)
  }
  return key
}

/** A private key from PEM text (PKCS #8 or SEC 1). */
export function privateKeyFromPem (pem: string | Buffer, what = 'the signing key'): KeyObject {
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (cause) {
    throw new SigningError('FG_ERR_SIGNING_KEY', `${what} is not a PEM private key (${(cause as Error).message})`, { cause })
  }
  return checkCurve(key, what)
}

/** A public key from PEM text: a public key, a certificate, or a private key (its public half). */
export function publicKeyFromPem (pem: string | Buffer, what = 'the verification key'): KeyObject {
  let key: KeyObject
  try {
    key = createPublicKey(pem)
  } catch (cause) {
    throw new SigningError('FG_ERR_SIGNING_KEY', `${what} is not a PEM public key, certificate or private key (${(cause as Error).message})`, { cause })
  }
  return checkCurve(key, what)
}

/**
 * The default DSSE keyid of a key: the first 16 bytes of SHA-256 over its DER public key, in
 * hex. Producer and consumer compute it from the key alone.
 */
export function keyIdOf (key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key
  return createHash('sha256').update(pub.export({ type: 'spki', format: 'der' })).digest('hex').slice(0, 32)
}

/** Signs with Node's crypto (OpenSSL): a fresh nonce per signature, as valid as a deterministic one and far faster than ECDSA in JavaScript. */
export function signWith (key: KeyObject): SignFunction {
  return message => sign('sha256', message, { key, dsaEncoding: 'ieee-p1363' })
}

export function verifyWith (key: KeyObject, message: Buffer, signature: Buffer): boolean {
  try {
    return verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, signature)
  } catch {
    return false
  }
}
