import { readFile } from 'node:fs/promises'
import { keyIdOf, publicKeyFromPem, readEvents, SigningError, verifyEvent } from '../../bridges/index.js'
import { EXIT_OK, FlowgateError } from '../errors.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

async function readStdin (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/**
 * `flowgate verify --key PUBLIC.pem [--keyid ID]`: checks signed CloudEvents (JSON lines, a
 * batch, or structured-mode events) read on stdin, and prints one JSON line per event.
 */
export const verify: Command = {
  usage: 'verify --key PUBLIC.pem [--keyid ID]  verify signed CloudEvents on stdin (JSON lines, a batch or structured events); one JSON line each; exit 0 when all verify',
  async run (args) {
    const { values } = parseOptions(args, { key: { type: 'string' }, keyid: { type: 'string' } })
    if (typeof values.key !== 'string') throw new FlowgateError('FG_ERR_USAGE', 'verify needs --key PUBLIC.pem')
    let pem: Buffer
    try {
      pem = await readFile(values.key)
    } catch (cause) {
      throw new SigningError('FG_ERR_SIGNING_KEY', `cannot read ${values.key} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause })
    }
    const key = publicKeyFromPem(pem, values.key)
    // the gateway's default keyid is the key's fingerprint; --keyid accepts another name for it
    const keyIds = [keyIdOf(key), ...(typeof values.keyid === 'string' ? [values.keyid] : [])]
    const events = readEvents(await readStdin())
    let failed = 0
    for (const r of events) {
      if (r.event === undefined) {
        failed++
        process.stdout.write(JSON.stringify({ at: r.where, verified: false, reason: r.error }) + '\n')
        continue
      }
      const result = verifyEvent(r.event, r.data, [{ key, keyIds }])
      const who = { at: r.where, id: r.event.id, source: r.event.source, type: r.event.type }
      if (!result.ok) failed++
      process.stdout.write(JSON.stringify(result.ok
        ? { ...who, verified: true, keyid: result.keyid, covers: result.verified, signedextattrs: result.signedextattrs }
        : { ...who, verified: false, reason: result.reason }) + '\n')
    }
    if (events.length === 0) throw new SigningError('FG_ERR_VERIFY_FAILED', 'no events on stdin')
    if (failed > 0) throw new SigningError('FG_ERR_VERIFY_FAILED', `${failed} of ${events.length} events do not verify`)
    return EXIT_OK
  }
}
