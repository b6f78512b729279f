/**
 * Helpers for the security tests: a config with a custom `broker:` section, a
 * log captured in memory (with the gateway's redaction) and a throw-away PKI
 * made with `openssl` in a temp directory.
 */
import { execFile } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { promisify } from 'node:util'
import type { LoadedConfig } from '../../config/index.js'
import { parseGatewayConfig } from '../../gateway/config.js'
import { createLogger, type Logger } from '../../gateway/index.js'

const run = promisify(execFile)

/** A gateway config: data in `dataDir`, `broker` YAML indented under `broker:`, `extra` YAML appended; no admin API. */
export function securityConfig (dataDir: string, broker: string, extra = '', env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  return parseGatewayConfig(`gateway:
  id: sec-gw
  dataDir: ${JSON.stringify(dataDir)}
  logLevel: silent
admin:
  enabled: false
broker:
${broker.split('\n').map(l => `  ${l}`).join('\n')}
${extra}`, { env })
}

export interface LogEntry { event?: string, msg?: string, [key: string]: unknown }

/** A pino logger (the gateway's, with its redaction) writing into memory. */
export class LogCapture {
  readonly entries: LogEntry[] = []
  readonly logger: Logger
  private waiters: Array<{ pred: (e: LogEntry) => boolean, resolve: (e: LogEntry) => void }> = []

  constructor (level = 'debug') {
    const sink = new Writable({
      write: (chunk: Buffer, _enc, cb) => {
        for (const line of chunk.toString().split('\n')) {
          if (line === '') continue
          const entry = JSON.parse(line) as LogEntry
          this.entries.push(entry)
          this.waiters = this.waiters.filter(w => {
            if (!w.pred(entry)) return true
            w.resolve(entry)
            return false
          })
        }
        cb()
      }
    })
    this.logger = createLogger(level, sink)
  }

  /** The first entry (already logged or still to come) that `pred` accepts. */
  async waitFor (pred: (e: LogEntry) => boolean): Promise<LogEntry> {
    const found = this.entries.find(pred)
    if (found !== undefined) return found
    return await new Promise(resolve => this.waiters.push({ pred, resolve }))
  }

  events (name: string): LogEntry[] {
    return this.entries.filter(e => e.event === name)
  }
}

export interface Pki {
  dir: string
  ca: string
  serverCert: string
  serverKey: string
  /** A client certificate signed by the test CA (or by a CA the gateway does not trust). */
  client (cn: string, opts?: { untrusted?: boolean }): Promise<{ cert: string, key: string }>
}

async function openssl (dir: string, args: string[]): Promise<void> {
  await run('openssl', args, { cwd: dir })
}

async function makeCa (dir: string, name: string): Promise<void> {
  await openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=${name}`, '-days', '2'])
}

async function issue (dir: string, ca: string, name: string, subject: string, ext: string): Promise<void> {
  await writeFile(join(dir, `${name}.ext`), ext)
  await openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject])
  await openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.crt`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '2', '-extfile', `${name}.ext`])
}

/** A CA, a server certificate for 127.0.0.1/localhost, and client certificates on demand; all in `dir`. */
export async function makePki (dir: string): Promise<Pki> {
  await mkdir(dir, { recursive: true })
  await makeCa(dir, 'ca')
  await makeCa(dir, 'rogue-ca')
  await issue(dir, 'ca', 'server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n')
  let n = 0
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    async client (cn, opts = {}) {
      const name = `client-${n++}`
      // the subject is given as a file-free argument; escape what openssl treats specially in -subj
      await issue(dir, opts.untrusted === true ? 'rogue-ca' : 'ca', name, `/CN=${cn.replace(/[/\\]/g, m => `\\${m}`)}`, 'extendedKeyUsage=clientAuth\n')
      return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) }
    }
  }
}
