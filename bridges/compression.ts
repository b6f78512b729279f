/**
 * Request body compression (sink.compression) and its reverse for receivers: HTTP content
 * codings [RFC 9110 8.4] gzip and br, applied after an event or batch is encoded.
 *
 * MUST: a compressed request says so in Content-Encoding; a body that does not get smaller
 *       is sent as it is, without it.
 * MUST: an upstream that answers 415 to a compressed request gets uncompressed requests from
 *       then on, and that is reported once (delivery.ts resends the request uncompressed).
 * MUST: decompression is bounded: a body that inflates beyond the receiver's limit is refused.
 */
import { promisify } from 'node:util'
import { brotliCompress, brotliDecompress, constants, gunzip, gzip, inflate } from 'node:zlib'
import type { HttpMessage } from './cloudevents/index.js'

export type Compression = 'none' | 'gzip' | 'br'

const gzipAsync = promisify(gzip)
const gunzipAsync = promisify(gunzip)
const inflateAsync = promisify(inflate)
const brotliAsync = promisify(brotliCompress)
const unbrotliAsync = promisify(brotliDecompress)

/**
 * Brotli at quality 5: most of brotli's gain over gzip on JSON batches for a fraction of the CPU
 * of its default (11), which is meant for static files compressed once (npm run bench:wire).
 */
const BROTLI_QUALITY = 5

/** The compressed body (off the main thread: zlib runs on libuv's pool). */
export async function compressBody (body: Buffer, coding: 'gzip' | 'br'): Promise<Buffer> {
  if (coding === 'gzip') return await gzipAsync(body)
  return await brotliAsync(body, {
    params: {
      [constants.BROTLI_PARAM_MODE]: constants.BROTLI_MODE_TEXT,
      [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY,
      [constants.BROTLI_PARAM_SIZE_HINT]: body.length
    }
  })
}

/** Why a request's body cannot be decoded: 415 (a coding we do not know) or 413 (it inflates past the limit). */
export class ContentCodingError extends Error {
  constructor (readonly status: 400 | 413 | 415, message: string) {
    super(message)
    this.name = 'ContentCodingError'
  }
}

/** The codings a receiver decodes, for Accept-Encoding on a 415 [RFC 9110 12.5.3]. */
export const ACCEPTED_CODINGS = 'gzip, br, deflate'

/**
 * A request body with its Content-Encoding undone (codings in the reverse of their order),
 * at most `maxBytes` once decoded. Throws a ContentCodingError.
 */
export async function decompressBody (body: Buffer, contentEncoding: string | undefined, maxBytes: number): Promise<Buffer> {
  if (contentEncoding === undefined) return body
  const codings = contentEncoding.split(',').map(c => c.trim().toLowerCase()).filter(c => c !== '' && c !== 'identity')
  let out = body
  for (const coding of codings.reverse()) {
    const opts = { maxOutputLength: maxBytes }
    try {
      if (coding === 'gzip' || coding === 'x-gzip') out = await gunzipAsync(out, opts)
      else if (coding === 'br') out = await unbrotliAsync(out, opts)
      else if (coding === 'deflate') out = await inflateAsync(out, opts)
      else throw new ContentCodingError(415, `Content-Encoding ${coding} is not supported (${ACCEPTED_CODINGS} are)`)
    } catch (err) {
      if (err instanceof ContentCodingError) throw err
      if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw new ContentCodingError(413, `request body larger than ${maxBytes} bytes once decoded`)
      throw new ContentCodingError(400, `request body is not valid ${coding}: ${(err as Error).message}`)
    }
  }
  return out
}

/** A bridge's compression: what it sends, and whether the upstream refused compressed requests. */
export class Compressor {
  private refused: boolean
  /** Uncompressed bytes per compressed byte of recent bodies (1 until a body was compressed). */
  ratio = 1

  /** `refused`: an earlier run of the bridge learnt that the upstream takes no compressed requests. */
  constructor (readonly coding: Compression, private readonly onRefused: () => void, refused = false) {
    this.refused = refused
  }

  /** Requests go out compressed (configured, and not refused by the upstream). */
  get active (): boolean {
    return this.coding !== 'none' && !this.refused
  }

  /** The upstream answered 415 to a compressed request: send uncompressed from now on. Reported once. */
  refuse (): void {
    if (this.refused) return
    this.refused = true
    this.onRefused()
  }

  get wasRefused (): boolean {
    return this.refused
  }

  /** `message` with its body compressed and Content-Encoding set, or `message` itself. */
  async encode (message: HttpMessage): Promise<HttpMessage> {
    if (this.coding === 'none' || this.refused) return message
    const body = await compressBody(message.body, this.coding)
    if (body.length >= message.body.length) return message
    // an average over recent bodies, for sizing batches under a bandwidth cap
    this.ratio = this.ratio === 1 ? message.body.length / body.length : 0.8 * this.ratio + 0.2 * message.body.length / body.length
    return { headers: { ...message.headers, 'content-encoding': this.coding }, body }
  }
}
