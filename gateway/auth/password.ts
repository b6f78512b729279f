/**
 * Password hashes: `scrypt$N$r$p$salt$hash`, salt and hash in base64, so every
 * hash carries its own parameters and old hashes keep working when the
 * defaults change.
 */
import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number
  r: number
  p: number
}

export interface PasswordHash extends ScryptParams {
  salt: Buffer
  hash: Buffer
}

/** Interactive-login strength: about 16 MiB and tens of milliseconds per check on a Pi 4. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1 })

/** Bounds on what a hash may ask for, so a hash cannot make a login cost seconds or gigabytes. */
export const SCRYPT_LIMITS = Object.freeze({ minN: 1024, maxN: 1_048_576, maxR: 32, maxP: 16, minSalt: 16, minHash: 16, maxHash: 128 })

const B64 = /^[A-Za-z0-9+/]+={0,2}$/

/** Why a hash string is not usable; never echoes the string. Undefined when it is fine. */
export function hashProblem (text: string): string | undefined {
  const parts = text.split('$')
  if (parts.length !== 6 || parts[0] !== 'scrypt') return 'not a password hash from `flowgate passwd` (scrypt$N$r$p$salt$hash)'
  const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string]
  const N = Number(n)
  const R = Number(r)
  const P = Number(p)
  if (!/^[0-9]+$/.test(n) || N < SCRYPT_LIMITS.minN || N > SCRYPT_LIMITS.maxN || (N & (N - 1)) !== 0) return `scrypt N must be a power of two from ${SCRYPT_LIMITS.minN} to ${SCRYPT_LIMITS.maxN}`
  if (!/^[0-9]+$/.test(r) || R < 1 || R > SCRYPT_LIMITS.maxR) return `scrypt r must be 1 to ${SCRYPT_LIMITS.maxR}`
  if (!/^[0-9]+$/.test(p) || P < 1 || P > SCRYPT_LIMITS.maxP) return `scrypt p must be 1 to ${SCRYPT_LIMITS.maxP}`
  if (!B64.test(salt) || Buffer.from(salt, 'base64').length < SCRYPT_LIMITS.minSalt) return `the salt must be base64 of at least ${SCRYPT_LIMITS.minSalt} bytes`
  const h = Buffer.from(hash, 'base64')
  if (!B64.test(hash) || h.length < SCRYPT_LIMITS.minHash || h.length > SCRYPT_LIMITS.maxHash) return `the hash must be base64 of ${SCRYPT_LIMITS.minHash} to ${SCRYPT_LIMITS.maxHash} bytes`
  return undefined
}

/** Parses a hash string; throws a TypeError (without the string) when it is not one. */
export function parseHash (text: string): PasswordHash {
  const problem = hashProblem(text)
  if (problem !== undefined) throw new TypeError(problem)
  const [, n, r, p, salt, hash] = text.split('$') as [string, string, string, string, string, string]
  return { N: Number(n), r: Number(r), p: Number(p), salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') }
}

export function formatHash (h: PasswordHash): string {
  return `scrypt$${h.N}$${h.r}$${h.p}$${h.salt.toString('base64')}$${h.hash.toString('base64')}`
}

async function derive (password: Buffer | string, salt: Buffer, keylen: number, params: ScryptParams): Promise<Buffer> {
  // scrypt needs 128 * N * r bytes (plus p blocks); allow that with room to spare.
  const options: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 128 * params.r * params.p + 1024 * 1024 }
  return await new Promise((resolve, reject) => scrypt(password, salt, keylen, options, (err, key) => err === null ? resolve(key) : reject(err)))
}

/** A new hash of `password` with a random 16-byte salt. */
export async function hashPassword (password: Buffer | string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(password, salt, 32, params)
  return formatHash({ ...params, salt, hash })
}

/** True when `password` matches; the comparison takes the same time wherever the bytes differ. */
export async function verifyPassword (password: Buffer | string, hash: PasswordHash): Promise<boolean> {
  const derived = await derive(password, hash.salt, hash.hash.length, hash)
  return timingSafeEqual(derived, hash.hash)
}
