/**
 * Who is calling the Subscriptions API: a consumer by its bearer token (checked against the
 * scrypt hash in the config, as MQTT passwords are) or by its verified client certificate.
 * A token once checked is remembered by its SHA-256, so scrypt runs once per token, not per
 * request; the memory is dropped when the consumers change.
 */
import { createHash } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { ConsumerConfig } from '../../config/index.js'
import { certIdentity, parseHash, verifyPassword, type PasswordHash } from '../auth/index.js'

const MAX_REMEMBERED = 1000

export type Caller = { ok: true, consumer: ConsumerConfig } | { ok: false, reason: string }

export class Consumers {
  private byName = new Map<string, ConsumerConfig>()
  private hashes: Array<{ consumer: ConsumerConfig, hash: PasswordHash }> = []
  private remembered = new Map<string, string | null>()

  constructor (consumers: readonly ConsumerConfig[], private readonly certField: string) {
    this.set(consumers)
  }

  set (consumers: readonly ConsumerConfig[]): void {
    this.byName = new Map(consumers.map(c => [c.name, c]))
    this.hashes = consumers.filter(c => c.token !== undefined).map(c => ({ consumer: c, hash: parseHash(c.token as string) }))
    this.remembered = new Map()
  }

  named (name: string): ConsumerConfig | undefined {
    return this.byName.get(name)
  }

  async identify (authorization: string | undefined, socket: TLSSocket | undefined): Promise<Caller> {
    if (socket?.encrypted === true) {
      const id = certIdentity(socket, this.certField)
      if (id.kind === 'refused') return { ok: false, reason: id.reason }
      if (id.kind === 'user') {
        const consumer = [...this.byName.values()].find(c => c.certificate === id.user)
        if (consumer !== undefined) return { ok: true, consumer }
        if (authorization === undefined) return { ok: false, reason: `no consumer has the certificate ${JSON.stringify(id.user)}` }
      }
    }
    if (authorization === undefined || !authorization.startsWith('Bearer ')) return { ok: false, reason: 'a bearer token or a client certificate is required' }
    const token = authorization.slice(7)
    const key = createHash('sha256').update(token).digest('base64')
    let name = this.remembered.get(key)
    if (name === undefined) {
      name = null
      for (const { consumer, hash } of this.hashes) {
        if (await verifyPassword(token, hash)) { name = consumer.name; break }
      }
      if (this.remembered.size >= MAX_REMEMBERED) this.remembered.clear()
      this.remembered.set(key, name)
    }
    const consumer = name === null ? undefined : this.byName.get(name)
    return consumer === undefined ? { ok: false, reason: 'the bearer token is not a consumer\'s' } : { ok: true, consumer }
  }
}
