/**
 * `flowgate passwd`: prints a password hash for `broker.auth.users[].password`
 * (or a `user:hash` line for the password file with --user). The password is
 * read from the terminal without echo, twice, or from the first line of stdin
 * when stdin is not a terminal. It is never printed.
 */
import { StringDecoder } from 'node:string_decoder'
import { DEFAULT_SCRYPT, hashPassword, SCRYPT_LIMITS } from '../auth/index.js'
import { EXIT_OK, FlowgateError } from '../errors.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

/**
 * Reads one answer per prompt from a terminal in raw mode, echoing nothing. Echo is off before
 * the first prompt appears and stays off until the last answer, so an answer typed or pasted
 * early (both at once, say) is neither shown nor lost.
 */
async function readHidden (prompts: readonly string[]): Promise<string[]> {
  const stdin = process.stdin
  const answers: string[] = []
  stdin.setRawMode(true)
  stdin.resume()
  try {
    process.stderr.write(prompts[0] ?? '')
    await new Promise<void>((resolve, reject) => {
      // a character split across two reads is decoded whole
      const decoder = new StringDecoder('utf8')
      let text = ''
      let afterCr = false
      const onData = (buf: Buffer): void => {
        for (const ch of decoder.write(buf)) {
          const cr = afterCr
          afterCr = ch === '\r'
          if (ch === '\n' && cr) continue // the LF of a pasted CRLF
          if (ch === '\r' || ch === '\n' || (ch === '\u0004' && text === '')) {
            answers.push(text)
            text = ''
            process.stderr.write('\n')
            if (answers.length === prompts.length) {
              stdin.off('data', onData)
              resolve()
              return
            }
            process.stderr.write(prompts[answers.length] ?? '')
            continue
          }
          if (ch === '\u0003') {
            stdin.off('data', onData)
            process.stderr.write('\n')
            reject(new FlowgateError('FG_ERR_USAGE', 'interrupted'))
            return
          }
          if (ch === '\u007f' || ch === '\b') text = [...text].slice(0, -1).join('')
          else text += ch
        }
      }
      stdin.on('data', onData)
    })
  } finally {
    stdin.setRawMode(false)
    stdin.pause()
  }
  return answers
}

/** The first line of stdin (without its line ending). */
async function readPiped (): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer)
    if ((chunk as Buffer).includes(10)) break
  }
  return (Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0]) ?? ''
}

export const passwd: Command = {
  usage: 'passwd [--user NAME] [--cost N]   print a password hash for broker.auth (password read without echo, or from stdin)',
  async run (args) {
    const { values } = parseOptions(args, { user: { type: 'string', short: 'u' }, cost: { type: 'string' } })
    const user = typeof values.user === 'string' ? values.user : undefined
    if (user !== undefined && !/^[^:\s]{1,256}$/.test(user)) throw new FlowgateError('FG_ERR_USAGE', '--user: a user name has no `:` or white space')
    const N = typeof values.cost === 'string' ? Number(values.cost) : DEFAULT_SCRYPT.N
    if (!Number.isInteger(N) || N < SCRYPT_LIMITS.minN || N > SCRYPT_LIMITS.maxN || (N & (N - 1)) !== 0) {
      throw new FlowgateError('FG_ERR_USAGE', `--cost: a power of two from ${SCRYPT_LIMITS.minN} to ${SCRYPT_LIMITS.maxN} (default ${DEFAULT_SCRYPT.N})`)
    }
    let password: string
    if (process.stdin.isTTY) {
      const [first = '', again = ''] = await readHidden(['Password: ', 'Again: '])
      if (again !== first) throw new FlowgateError('FG_ERR_USAGE', 'the two passwords differ')
      password = first
    } else {
      password = await readPiped()
    }
    if (password === '') throw new FlowgateError('FG_ERR_USAGE', 'the password is empty')
    const hash = await hashPassword(password, { ...DEFAULT_SCRYPT, N })
    process.stdout.write(user === undefined ? `${hash}\n` : `${user}:${hash}\n`)
    return EXIT_OK
  }
}
