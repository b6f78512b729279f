import { connect as netConnect, type Socket } from 'node:net'
import mqttPacket, { type Packet } from 'mqtt-packet'

/** A raw MQTT 3.1.1 connection, for packets MQTT.js refuses to send. */
export class RawClient {
  readonly socket: Socket
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 })
  private readonly packets: Packet[] = []
  private waiting: ((p: Packet | null) => void) | undefined
  closed = false

  private constructor (socket: Socket) {
    this.socket = socket
    socket.on('data', buf => this.parser.parse(buf))
    socket.on('close', () => { this.closed = true; this.waiting?.(null) })
    socket.on('error', () => {})
    this.parser.on('packet', p => {
      if (this.waiting !== undefined) { const w = this.waiting; this.waiting = undefined; w(p) } else this.packets.push(p)
    })
  }

  static async open (port: number, host = '127.0.0.1'): Promise<RawClient> {
    const socket = netConnect(port, host)
    await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
    return new RawClient(socket)
  }

  send (packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet))
  }

  sendRaw (bytes: Buffer): void {
    this.socket.write(bytes)
  }

  /** The next packet from the broker, or null when the connection closes first. */
  async next (): Promise<Packet | null> {
    const queued = this.packets.shift()
    if (queued !== undefined) return queued
    if (this.closed) return null
    return await new Promise(resolve => { this.waiting = resolve })
  }

  async closedPromise (): Promise<void> {
    if (this.closed) return
    await new Promise<void>(resolve => this.socket.once('close', () => resolve()))
  }

  destroy (): void { this.socket.destroy() }
}
