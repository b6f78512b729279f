/** Signing events and verifying them: the CloudEvents verifiability extension (DSSE). */
export { SigningError, SigningErrorCodes, type SigningErrorCode } from './errors.js'
export { canonicalTime, canonicalValue, coreDigest, extDigest, signedExtAttrsProblem } from './digest.js'
export { pae, parseEnvelope, decodeBase64, PAYLOAD_TYPE, type DsseEnvelope } from './dsse.js'
export { privateKeyFromPem, publicKeyFromPem, keyIdOf, signWith, verifyWith, type SignFunction } from './keys.js'
export { createEventSigner, dataBytes, sealPayload, trimEnd, verificationMaterial, MATERIAL_ATTRIBUTE, type EventSigner } from './sign.js'
export { openEnvelope, verifyEvent, type AcceptedKey, type VerifyResult } from './verify.js'
export { readEvents, type ReadEvent } from './json-text.js'
