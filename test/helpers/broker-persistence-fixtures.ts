/**
 * Fixtures for the broker persistence tests: LevelDB in a temp dir, and an
 * Aedes broker with that persistence on a TCP port 0, each torn down in order.
 */
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Aedes, type AedesPublishPacket } from 'aedes'
import { Level } from 'level'
import { createBrokerPersistence, type BrokerPersistence } from '../../storage/broker-persistence/index.js'

export interface Teardown {
  teardown: (fn: () => unknown) => void
}

/** A fresh temp directory, removed at teardown. */
export async function tempDir (t: Teardown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'flowgate-broker-state-'))
  t.teardown(async () => await rm(dir, { recursive: true, force: true }))
  return dir
}

/** Opens the LevelDB in `dir` as the gateway does: utf8 keys, buffer values. */
export async function openLevel (dir: string): Promise<Level<string, Buffer>> {
  const db = new Level<string, Buffer>(dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' })
  await db.open()
  return db
}

/** A LevelDB in a fresh temp dir; at teardown it is closed (idempotent), then the dir removed. */
export async function tempLevel (t: Teardown): Promise<{ dir: string, db: Level<string, Buffer> }> {
  const dir = await mkdtemp(join(tmpdir(), 'flowgate-broker-state-'))
  const db = await openLevel(dir)
  t.teardown(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })
  return { dir, db }
}

export interface RunningBroker {
  broker: Aedes
  persistence: BrokerPersistence
  url: string
  /** Idempotent: broker, listener, persistence, LevelDB, in that order. */
  stop: () => Promise<void>
}

/** An Aedes broker with its state in `dir`, listening on 127.0.0.1:0. */
export async function startBroker (t: Teardown, dir: string): Promise<RunningBroker> {
  const db = await openLevel(dir)
  const persistence = createBrokerPersistence(db.sublevel<string, Buffer>('broker', { keyEncoding: 'utf8', valueEncoding: 'buffer' }))
  const broker = await Aedes.createBroker({ persistence })
  const server = createServer(broker.handle)
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as AddressInfo

  let stopping: Promise<void> | undefined
  const stop = async (): Promise<void> => {
    stopping ??= (async () => {
      await new Promise<void>(resolve => broker.close(() => resolve()))
      await new Promise<void>(resolve => server.close(() => resolve()))
      await persistence.close()
      await db.close()
    })()
    await stopping
  }
  t.teardown(stop)
  return { broker, persistence, url: `mqtt://127.0.0.1:${port}`, stop }
}

/** Resolves once the broker has fully handled `count` publishes to `topic` (stored, queued, routed). */
export function brokerHandled (broker: Aedes, topic: string, count: number): Promise<void> {
  return new Promise(resolve => {
    let seen = 0
    const onPublish = (packet: AedesPublishPacket): void => {
      if (packet.topic !== topic || ++seen < count) return
      broker.off('publish', onPublish)
      resolve()
    }
    broker.on('publish', onPublish)
  })
}

/** Resolves when the broker has processed the disconnect of `clientId`. */
export function brokerSawDisconnect (broker: Aedes, clientId: string): Promise<void> {
  return new Promise(resolve => {
    const onDisconnect = (client: { id: string }): void => {
      if (client.id !== clientId) return
      broker.off('clientDisconnect', onDisconnect)
      resolve()
    }
    broker.on('clientDisconnect', onDisconnect)
  })
}
