import { createServer, type AddressInfo, type Server, type Socket } from 'node:net'
import type { Aedes } from 'aedes'
import type { ListenerConfig } from '../config/index.js'
import { FlowgateError } from './errors.js'

export interface BoundListener {
  protocol: string
  host: string
  port: number
}

/** TCP listeners feeding the broker. close() stops accepting and ends open connections; idempotent. */
export class Listeners {
  private readonly servers: Server[] = []
  private readonly sockets = new Set<Socket>()
  private closing: Promise<void> | undefined
  readonly bound: BoundListener[] = []

  static async open (broker: Aedes, configs: readonly ListenerConfig[]): Promise<Listeners> {
    const listeners = new Listeners()
    try {
      for (const cfg of configs) await listeners.listen(broker, cfg)
    } catch (err) {
      await listeners.close()
      throw err
    }
    return listeners
  }

  private async listen (broker: Aedes, cfg: ListenerConfig): Promise<void> {
    const server = createServer(socket => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
      broker.handle(socket)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', cause => reject(new FlowgateError('FG_ERR_LISTEN', `cannot listen on ${cfg.host}:${cfg.port} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause })))
      server.listen(cfg.port, cfg.host, () => resolve())
    })
    this.servers.push(server)
    const addr = server.address() as AddressInfo
    this.bound.push({ protocol: cfg.protocol, host: addr.address, port: addr.port })
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
