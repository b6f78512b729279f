/**
 * The embedded Aedes broker, wired to the event log and to the security layer:
 * a client logs in (gateway/auth), what it publishes and subscribes is checked
 * against the access rules and the topic limits, and a publish is acknowledged
 * only once its record is committed.
 */
import { writeToStream } from 'mqtt-packet'
import { Aedes, type AedesOptions, type AuthenticateError, type Client, type PublishPacket } from 'aedes'
import { parseDuration, type LimitsConfig } from '../config/index.js'
import type { EventLog } from '../storage/index.js'
import type { Security } from './auth/index.js'
import { FlowgateError, isFlowgateError } from './errors.js'
import { createFanout } from './fanout.js'
import { topicEncodingProblem, topicLimitExceeded, type TopicLimits } from './limits-rules.js'
import type { Logger } from './logger.js'

export interface BrokerDeps {
  log: EventLog
  logger: Logger
  persistence?: AedesOptions['persistence']
  maxClientIdLength: number
  security: Security
  limits: LimitsConfig
}

// Aedes writes packets with mqtt-packet, which by default fills a table of 65,536 two-byte Buffers
// (every packet identifier) with the first packet it writes, to spare one small allocation per
// acknowledgement: 6 MiB of heap for good, and 65,536 more objects for every full collection to
// walk. Off, each identifier is written from a fresh two-byte slice of Node's buffer pool. This is
// Aedes' copy of mqtt-packet: the one copy in node_modules (broker-packets.test checks it), and so the one
// copy in the bundled command (scripts/build-bundle.ts refuses a second).
writeToStream.cacheNumbers = false

const usernames = new WeakMap<Client, string>()
/** Clients whose CONNECT carries a client id the broker refuses (CONNACK 0x02), with the reason. */
const refusedId = new WeakMap<Client, { reason: string, message: string }>()
const securities = new WeakMap<Aedes, Security>()
const topicLimitsOf = new WeakMap<Aedes, TopicLimits>()
/** Refusals already counted and logged where they were decided. */
const decided = new WeakSet<Error>()

/**
 * New limits for a broker made by createBroker (a reload): topic length and levels from the next
 * publish or subscription, and Aedes' own backstops for connections made from now on.
 */
export function setBrokerLimits (broker: Aedes, limits: LimitsConfig): void {
  const topics = topicLimitsOf.get(broker)
  if (topics !== undefined) {
    topics.maxTopicLength = limits.maxTopicLength
    topics.maxTopicLevels = limits.maxTopicLevels
  }
  const b = broker as unknown as { connectTimeout: number, opts?: { drainTimeout?: number } }
  b.connectTimeout = 2 * parseDuration(limits.connectTimeout)
  if (b.opts !== undefined) b.opts.drainTimeout = 2 * parseDuration(limits.slowClientTimeout)
}

/** The security layer of a broker made by createBroker: its counters are `securityOf(broker)?.stats()`. */
export function securityOf (broker: Aedes): Security | undefined {
  return securities.get(broker)
}

// Aedes errors that close a connection for reasons other than bad input.
const NOT_PROTOCOL_ERRORS = new Set(['keep alive timeout', 'connect did not arrive in time', 'drain timeout', 'connection closed'])

export async function createBroker (deps: BrokerDeps): Promise<Aedes> {
  const { log, logger, security } = deps
  const topicLimits: TopicLimits = { maxTopicLength: deps.limits.maxTopicLength, maxTopicLevels: deps.limits.maxTopicLevels }
  const where = (client: Client): { clientId: string, remote: string | undefined, listener: string | undefined } => {
    const info = security.connection(client.conn)
    return { clientId: client.id, remote: info?.remote, listener: info?.listener }
  }
  /** The topic checks the MQTT parser does not make; an Error closes the client. */
  const checkTopic = (client: Client, topic: string): Error | undefined => {
    const encoding = topicEncodingProblem(topic)
    if (encoding !== undefined) {
      security.protocolError(where(client), encoding)
      const err = new Error(encoding)
      decided.add(err)
      return err
    }
    const exceeded = topicLimitExceeded(topic, topicLimits)
    if (exceeded !== undefined) {
      security.limitExceeded(exceeded.kind, where(client), exceeded.detail)
      return new FlowgateError('FG_ERR_LIMIT', `${exceeded.kind} exceeded: ${exceeded.detail}`)
    }
    return undefined
  }
  const opts: AedesOptions = {
    maxClientsIdLength: deps.maxClientIdLength,
    // The listeners' PacketGuard enforces connectTimeout and broker.ts the topic levels, counted and
    // logged; these are Aedes' own backstops (its level ceiling is 100).
    connectTimeout: 2 * parseDuration(deps.limits.connectTimeout),
    // the PacketGuard disconnects a client that does not drain within slowClientTimeout; Aedes' own
    // drain timeout stays as a backstop
    drainTimeout: 2 * parseDuration(deps.limits.slowClientTimeout),
    maxTopicLevels: 100,
    // publishes do not wait for deliveries to be written (see fanout.ts)
    mq: createFanout(),
    preConnect (client, packet, done) {
      // remembered here and refused in authenticate with 0x02, identifier rejected:
      // [MQTT-3.1.3-8] an empty client id requires clean session; Aedes checks the length of MQTT 3.1 ids only
      if (packet.cmd === 'connect') {
        const bytes = Buffer.byteLength(packet.clientId ?? '')
        if (bytes === 0 && packet.clean === false) refusedId.set(client, { reason: 'empty-client-id', message: 'empty client id without clean session' })
        else if (bytes > deps.maxClientIdLength) refusedId.set(client, { reason: 'client-id-too-long', message: `client id of ${bytes} bytes, longer than broker.maxClientIdLength (${deps.maxClientIdLength})` })
      }
      done(null, true)
    },
    authenticate (client, username, password, done) {
      const refused = refusedId.get(client)
      if (refused !== undefined) {
        const err = new Error(`identifier rejected: ${refused.message}`) as AuthenticateError
        err.returnCode = 2
        decided.add(err)
        logger.info({ event: 'connect-refused', reason: refused.reason, remote: where(client).remote }, `client refused: ${refused.message}`)
        done(err, false)
        return
      }
      security.login(client, username, password).then(result => {
        if (result.ok) {
          // the record keeps the verified user, or the name an unverified client gave (no users configured)
          const recorded = result.identity.user ?? username
          if (recorded !== undefined) usernames.set(client, recorded)
          done(null, true)
          return
        }
        const err = new Error(result.message) as AuthenticateError
        err.returnCode = result.returnCode
        decided.add(err)
        done(err, false)
      }, (err: unknown) => {
        logger.error({ err, clientId: client.id }, 'login check failed')
        const refused = new Error('server unavailable') as AuthenticateError
        refused.returnCode = 3
        decided.add(refused)
        done(refused, false)
      })
    },
    authorizePublish (client, packet, done) {
      if (client === null) {
        done(null)
        return
      }
      const bad = checkTopic(client, packet.topic)
      if (bad !== undefined) {
        done(bad)
        return
      }
      if (!security.mayPublish(client, packet.topic)) {
        // MQTT 3.1.1 has no negative PUBACK: the client is disconnected, nothing is logged or acknowledged
        done(new FlowgateError('FG_ERR_ACL_DENIED', `publishing to ${packet.topic} is not allowed`))
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
    },
    authorizeForward (client, packet) {
      // a deny rule can keep topics from a wider subscription that an allow rule let through
      return security.mayReceive(client, packet.topic) ? packet : null
    },
    authorizeSubscribe (client, sub, done) {
      const bad = checkTopic(client, sub.topic)
      if (bad !== undefined) {
        done(bad)
        return
      }
      // a null subscription is refused with SUBACK 0x80 [MQTT-3.9.3]; the client stays connected
      done(null, security.maySubscribe(client, sub.topic) ? sub : null)
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

  const broker = await Aedes.createBroker(opts)
  securities.set(broker, security)
  topicLimitsOf.set(broker, topicLimits)
  const onError = (client: Client, err: Error): void => {
    // refusals of ours are counted where they are decided; resets and timeouts are not bad input
    if (decided.has(err) || isFlowgateError(err) || typeof (err as NodeJS.ErrnoException).code === 'string' || NOT_PROTOCOL_ERRORS.has(err.message)) return
    security.protocolError(where(client), err)
  }
  broker.on('clientError', onError)
  broker.on('connectionError', onError)
  return broker
}
