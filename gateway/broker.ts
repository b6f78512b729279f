/**
 * The embedded Aedes broker, wired to the event log: a client's publish is
 * acknowledged only once its record is committed.
 */
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket } from 'aedes'
import type { EventLog } from '../storage/index.js'
import type { Logger } from './logger.js'

export interface BrokerDeps {
  log: EventLog
  logger: Logger
  persistence?: AedesOptions['persistence']
  maxClientIdLength: number
}

const usernames = new WeakMap<Client, string>()
const emptyPersistentId = new WeakSet<Client>()

export async function createBroker (deps: BrokerDeps): Promise<Aedes> {
  const { log, logger } = deps
  const opts: AedesOptions = {
    maxClientsIdLength: deps.maxClientIdLength,
    preConnect (client, packet, done) {
      // [MQTT-3.1.3-8] an empty client id requires clean session; remember it and refuse in authenticate with 0x02.
      if (packet.cmd === 'connect' && packet.clientId === '' && packet.clean === false) emptyPersistentId.add(client)
      done(null, true)
    },
    authenticate (client, username, _password, done) {
      if (emptyPersistentId.has(client)) {
        const err = new Error('identifier rejected: empty client id requires clean session') as AuthenticateError
        err.returnCode = 2
        logger.info({ event: 'connect-refused', reason: 'empty-client-id' }, 'client refused: empty client id without clean session')
        done(err, false)
        return
      }
      if (username !== undefined) usernames.set(client, username)
      done(null, true)
    },
    authorizePublish (client, packet, done) {
      if (client === null) {
        done(null)
        return
      }
      if (packet.topic.startsWith('$SYS/')) {
        done(new Error('publishing to $SYS/ is not allowed'))
        return
      }
      if (packet.qos === 2 && packet.dup) {
        // A retransmitted QoS 2 packet (DUP set) may already be logged: aedes answers it from its
        // incoming store. Only DUP packets take this asynchronous look-up, so order is kept.
        const persistence = deps.persistence
        if (persistence !== undefined) {
          persistence.incomingGetPacket(client, packet).then(() => done(null), () => appendPublish(client, packet, done))
          return
        }
      }
      appendPublish(client, packet, done)
    }
  }
  if (deps.persistence !== undefined) opts.persistence = deps.persistence

  function appendPublish (client: Client, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload
    const input = { topic: packet.topic, payload, qos: packet.qos, retain: packet.retain, clientId: client.id, username: usernames.get(client) }
    if (packet.qos === 0) {
      // QoS 0 is logged without waiting; only a refusal (log full) reaches the client, synchronously.
      let sync = true
      let refused: Error | null = null
      log.append(input, err => {
        if (err === null) return
        if (sync) refused = err
        else logger.error({ err, clientId: client.id }, 'QoS 0 publish could not be logged')
      })
      sync = false
      done(refused)
      return
    }
    log.append(input, err => done(err))
  }

  return await Aedes.createBroker(opts)
}
