/**
 * The broker's listeners: MQTT over TCP (`mqtt`), TLS (`mqtts`), WebSocket
 * (`ws`) and WebSocket over TLS (`wss`). Every listener is a plain TCP server
 * that counts connections against `maxConnections` and gives each one a
 * deadline to reach the broker; TLS and HTTP run on the accepted socket. Each
 * connection reaches Aedes through a PacketGuard (gateway/limits.ts).
 */
import { readFileSync } from 'node:fs'
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer, type ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket, type TlsOptions } from 'node:tls'
import type { Aedes, Client } from 'aedes'
import { parseDuration, parseSize, type LimitsConfig, type ListenerConfig } from '../config/index.js'
import { certIdentity, isLoopback, type CertIdentity, type Security } from './auth/index.js'
import { FlowgateError } from './errors.js'
import type { IngestGate } from './ingest-gate.js'
import { PacketGuard } from './limits.js'
import type { Logger } from './logger.js'

export interface BoundListener {
  protocol: string
  host: string
  port: number
  /** Whether clients without a user name are accepted here. */
  anonymous: boolean
  /** `none`, `optional` or `required` on TLS listeners. */
  clientCert?: string
}

export interface ListenerDeps {
  security: Security
  limits: LimitsConfig
  logger: Logger
  /** Shut while the event log is behind: no PUBLISH is read from any client. */
  gate?: IngestGate
}

type WsModule = typeof import('ws')

interface Limits { maxPacketSize: number, maxConnections: number, publishRate: number, publishBurst: number, connectTimeoutMs: number, maxOutboundBytes: number, slowClientTimeoutMs: number }

function limitsOf (l: LimitsConfig): Limits {
  return {
    maxPacketSize: parseSize(l.maxPacketSize),
    maxConnections: l.maxConnections,
    publishRate: l.publishRate,
    publishBurst: l.publishBurst ?? Math.max(1, l.publishRate),
    connectTimeoutMs: parseDuration(l.connectTimeout),
    maxOutboundBytes: parseSize(l.maxOutboundBytes),
    slowClientTimeoutMs: parseDuration(l.slowClientTimeout)
  }
}

/** A WebSocket message may hold several MQTT packets; the guard limits each packet. */
const wsMaxPayload = (limits: Limits): number => limits.maxPacketSize * 2

/**
 * Restarts the broker's keepalive timer for `client`: it is not reading the client's packets (held
 * at the ingest gate), so their arrival cannot. Aedes keeps the timer on the client
 * (`_keepaliveTimer`, set at CONNECT when keepalive is not 0) and offers no call for this.
 */
function refreshKeepalive (client: Client | undefined): void {
  const timer = (client as { _keepaliveTimer?: NodeJS.Timeout | null } | undefined)?._keepaliveTimer
  timer?.refresh()
}

const remoteOf = (s: { remoteAddress?: string | undefined, remotePort?: number | undefined }): string => `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`

/** Listeners feeding the broker. close() stops accepting and ends open connections; idempotent. */
export class Listeners {
  private readonly servers: Server[] = []
  private readonly sockets = new Set<Socket>()
  private closing: Promise<void> | undefined
  readonly bound: BoundListener[] = []
  private limits: Limits
  /** The guards of open connections, which a reload gives new limits. */
  private readonly guards = new Set<PacketGuard>()
  /** The WebSocket servers, whose largest message follows maxPacketSize. */
  private readonly wsServers: Array<{ options: { maxPayload?: number } }> = []

  private constructor (private readonly broker: Aedes, private readonly deps: ListenerDeps) {
    this.limits = limitsOf(deps.limits)
  }

  /**
   * New limits (a reload): new connections get them, and so do open ones (packet size, publish
   * rate, slow-client bounds); a connection already over maxConnections is not closed for it.
   */
  setLimits (config: LimitsConfig): void {
    const limits = limitsOf(config)
    this.limits = limits
    for (const wss of this.wsServers) wss.options.maxPayload = wsMaxPayload(limits)
    const { maxConnections: _, ...guard } = limits
    for (const g of this.guards) g.setLimits(guard)
  }

  static async open (broker: Aedes, configs: readonly ListenerConfig[], deps: ListenerDeps): Promise<Listeners> {
    const listeners = new Listeners(broker, deps)
    try {
      for (const [i, cfg] of configs.entries()) await listeners.listen(cfg, i)
    } catch (err) {
      await listeners.close()
      throw err
    }
    return listeners
  }

  private async listen (cfg: ListenerConfig, index: number): Promise<void> {
    const { security } = this.deps
    const anonymous = security.anonymousPolicy(cfg)
    const label = { value: `${cfg.protocol}://${cfg.host}:${cfg.port}` }
    // connections accepted but not yet handed to the broker (TLS or WebSocket handshake under way), by peer address
    const pending = new Map<string, NodeJS.Timeout>()
    const handOff = (conn: Duplex, remote: string, cert: CertIdentity, req?: IncomingMessage): void => {
      clearTimeout(pending.get(remote))
      pending.delete(remote)
      const ref: { client?: Client } = {} // the broker's client, known once the guard exists
      let throttledBefore = false
      const guard = new PacketGuard(conn, {
        ...this.limits,
        onLimit: (kind, detail) => security.limitExceeded(kind, { clientId: ref.client?.id, remote, listener: label.value }, detail),
        onMalformed: detail => security.protocolError({ clientId: ref.client?.id, remote }, detail),
        onThrottled: ms => {
          security.throttled({ clientId: ref.client?.id, remote, listener: label.value }, ms, !throttledBefore)
          throttledBefore = true
        },
        ...(this.deps.gate !== undefined ? { gate: this.deps.gate, onHeldTick: () => { refreshKeepalive(ref.client) } } : {})
      })
      this.guards.add(guard)
      guard.once('close', () => this.guards.delete(guard))
      security.attach(guard, { listener: label.value, anonymous, remote, cert })
      ref.client = this.broker.handle(guard, req)
    }

    // the WebSocket library is loaded only for a WebSocket listener
    const ws = cfg.protocol === 'ws' || cfg.protocol === 'wss' ? await import('ws') : undefined
    let dispatch: (socket: Socket, remote: string) => void
    try {
      dispatch = this.dispatcher(cfg, index, handOff, label, ws)
    } catch (cause) {
      // a key that does not fit its certificate, a file that is not PEM: refused at start, not at the first client
      if (cause instanceof FlowgateError) throw cause
      throw new FlowgateError('FG_ERR_TLS', `broker.listeners[${index}].tls: the certificate or key cannot be used (${(cause as Error).message})`, { cause })
    }
    const server = createServer({ noDelay: true }, socket => {
      if (this.closing !== undefined) {
        socket.destroy()
        return
      }
      socket.on('error', () => {}) // reported by whoever reads the socket; an accept-time reset is not an error of ours
      if (this.sockets.size >= this.limits.maxConnections) {
        security.limitExceeded('maxConnections', { remote: remoteOf(socket), listener: label.value }, `${this.sockets.size} connections open, limit ${this.limits.maxConnections}`)
        socket.destroy()
        return
      }
      this.sockets.add(socket)
      const remote = remoteOf(socket)
      socket.once('close', () => {
        this.sockets.delete(socket)
        clearTimeout(pending.get(remote))
        pending.delete(remote)
      })
      if (cfg.protocol !== 'mqtt') {
        pending.set(remote, setTimeout(() => {
          pending.delete(remote)
          security.limitExceeded('connectTimeout', { remote, listener: label.value }, `${cfg.protocol === 'mqtts' ? 'TLS' : 'WebSocket'} handshake not done within ${this.limits.connectTimeoutMs}ms`)
          socket.destroy()
        }, this.limits.connectTimeoutMs))
      }
      dispatch(socket, remote)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', cause => reject(new FlowgateError('FG_ERR_LISTEN', `cannot listen on ${cfg.host}:${cfg.port} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause })))
      server.listen(cfg.port, cfg.host, () => resolve())
    })
    this.servers.push(server)
    const addr = server.address() as AddressInfo
    label.value = `${cfg.protocol}://${cfg.host}:${addr.port}`
    this.bound.push({ protocol: cfg.protocol, host: addr.address, port: addr.port, anonymous: anonymous.allowed, ...(cfg.tls !== undefined ? { clientCert: cfg.tls.clientCert } : {}) })
    this.announce(cfg, label.value, anonymous.allowed, anonymous.source)
  }

  /** Says at startup who may connect where, so an open listener is never a surprise. */
  private announce (cfg: ListenerConfig, label: string, anonymous: boolean, source: string): void {
    const { logger, security } = this.deps
    const loopback = isLoopback(cfg.host)
    const fields = { event: 'listener-security', listener: label, anonymous, loopback, passwords: security.passwordsEnabled, clientCert: cfg.tls?.clientCert ?? 'none' }
    if (anonymous && !loopback) logger.warn(fields, `anonymous clients ALLOWED on ${label}, which is not a loopback address (set explicitly by ${source === 'listener' ? 'its allowAnonymous' : 'broker.auth.allowAnonymous'})`)
    else if (anonymous) logger.info(fields, `anonymous clients allowed on ${label} (loopback)`)
    else logger.info(fields, `anonymous clients refused on ${label}${source === 'address' ? ' (not a loopback address)' : ''}`)
    if (!anonymous && !security.passwordsEnabled && (cfg.tls?.clientCert ?? 'none') === 'none') {
      logger.warn(fields, `no client can log in on ${label}: anonymous clients are refused and there are no users or client certificates`)
    }
  }

  /** What an accepted socket goes through before it reaches the broker, by protocol. */
  private dispatcher (cfg: ListenerConfig, index: number, handOff: (conn: Duplex, remote: string, cert: CertIdentity, req?: IncomingMessage) => void, label: { value: string }, ws: WsModule | undefined): (socket: Socket, remote: string) => void {
    const { security } = this.deps
    const none: CertIdentity = { kind: 'none' }
    const certField = cfg.tls?.certUserField ?? 'CN'
    const onTlsError = (err: Error, socket: TLSSocket): void => {
      security.protocolError({ remote: remoteOf(socket) }, `TLS handshake failed on ${label.value}: ${err.message}`)
    }
    switch (cfg.protocol) {
      case 'mqtt':
        return (socket, remote) => handOff(socket, remote, none)
      case 'mqtts': {
        const tls = createTlsServer(this.tlsOptions(cfg, index), (socket: TLSSocket) => handOff(socket, remoteOf(socket), certIdentity(socket, certField)))
        tls.on('tlsClientError', onTlsError)
        return socket => tls.emit('connection', socket)
      }
      case 'ws':
      case 'wss': {
        if (ws === undefined) throw new TypeError('the WebSocket library is not loaded')
        const { WebSocketServer, createWebSocketStream } = ws
        const http: HttpServer | TlsServer = cfg.protocol === 'ws' ? createHttpServer(refuseRequest) : createHttpsServer(this.tlsOptions(cfg, index), refuseRequest)
        if (cfg.protocol === 'wss') http.on('tlsClientError', onTlsError)
        const path = cfg.path ?? '/mqtt'
        const wss = new WebSocketServer({ noServer: true, maxPayload: wsMaxPayload(this.limits), perMessageDeflate: false, clientTracking: false })
        this.wsServers.push(wss)
        http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
          if (new URL(req.url ?? '/', 'http://localhost').pathname !== path) {
            socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n')
            return
          }
          wss.handleUpgrade(req, socket, head, ws => {
            const stream = createWebSocketStream(ws)
            const s = req.socket
            handOff(stream, remoteOf(s), cfg.protocol === 'wss' ? certIdentity(s as TLSSocket, certField) : none, req)
          })
        })
        return socket => http.emit('connection', socket)
      }
    }
  }

  private tlsOptions (cfg: ListenerConfig, index: number): TlsOptions {
    const tls = cfg.tls
    if (tls === undefined) throw new FlowgateError('FG_ERR_TLS', `broker.listeners[${index}].tls: required for ${cfg.protocol}`)
    const read = (key: 'cert' | 'key' | 'ca'): Buffer | undefined => {
      const file = tls[key]
      if (file === undefined) return undefined
      try {
        return readFileSync(file)
      } catch (cause) {
        throw new FlowgateError('FG_ERR_TLS', `broker.listeners[${index}].tls.${key}: cannot read ${file} (${(cause as NodeJS.ErrnoException).code ?? 'unknown error'})`, { cause })
      }
    }
    const ca = read('ca')
    const options: TlsOptions = {
      cert: read('cert'),
      key: read('key'),
      ...(ca !== undefined ? { ca } : {}),
      requestCert: tls.clientCert !== 'none',
      rejectUnauthorized: tls.clientCert === 'required',
      // the listener's own timer holds a handshake to connectTimeout (counted and logged, and
      // changed by a reload); TLS's bound, fixed with the server, is only a backstop
      handshakeTimeout: Math.max(2 * this.limits.connectTimeoutMs, 120_000),
      minVersion: 'TLSv1.2'
    }
    return options
  }

  /** Stops accepting new connections; existing ones are left to the broker's close. */
  async stopAccepting (): Promise<void> {
    await Promise.all(this.servers.map(s => new Promise<void>(resolve => s.close(() => resolve()))))
  }

  async close (): Promise<void> {
    this.closing ??= (async () => {
      const stopped = this.stopAccepting()
      for (const s of this.sockets) s.destroy()
      await stopped
    })()
    await this.closing
  }
}

function refuseRequest (_req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(426, { Upgrade: 'websocket', Connection: 'close' }).end()
}
