import t from 'tap'
import mqtt from 'mqtt'
import { RawClient } from '../helpers/raw-mqtt.js'
import { LogCapture, securityConfig } from '../helpers/security.js'
import { brokerUrl, connect, eventually, startGateway, tempDir, testConfig } from '../helpers/gateway.js'

t.test('publishes land in the log in order, with what the device sent', async t => {
  const dir = await tempDir(t)
  const gw = await startGateway(t, testConfig(dir))
  const a = await connect(t, brokerUrl(gw), { clientId: 'dev-a', username: 'alice' })
  const b = await connect(t, brokerUrl(gw), { clientId: 'dev-b' })

  const sends: Array<Promise<unknown>> = []
  for (let i = 0; i < 200; i++) {
    sends.push(a.publishAsync('devices/a/telemetry', JSON.stringify({ i }), { qos: 1 }))
    sends.push(b.publishAsync('devices/b/telemetry', Buffer.from([i & 0xff, 0, 255]), { qos: (i % 3) as 0 | 1 | 2, retain: i === 199 }))
  }
  await Promise.all(sends)
  await gw.log.flush()

  const records = await gw.log.read(1, 10_000)
  t.equal(records.length, 400, 'every publish is in the log')
  t.same(records.map(r => r.seq), records.map((_, i) => i + 1), 'sequence numbers are dense and increasing')
  const fromA = records.filter(r => r.clientId === 'dev-a')
  const fromB = records.filter(r => r.clientId === 'dev-b')
  t.same(fromA.map(r => JSON.parse(r.payload.toString()).i), [...Array(200).keys()], 'per-publisher order is kept')
  t.same(fromB.map(r => r.payload[0]), [...Array(200).keys()].map(i => i & 0xff), 'binary payloads are kept byte for byte')
  t.equal(fromA[0]?.username, 'alice', 'user name is recorded')
  t.equal(fromB[0]?.username, undefined, 'no user name when none was sent')
  t.same(fromB.slice(0, 3).map(r => r.qos), [0, 1, 2], 'QoS is recorded')
  t.equal(fromB[199]?.retain, true, 'retain flag is recorded')
  t.equal(fromA[0]?.topic, 'devices/a/telemetry')
  const now = Date.now()
  t.ok(records.every(r => r.time <= now && r.time > now - 60_000), 'receive time is recorded')
})

t.test('a QoS 1 publish is acknowledged only once it is in the log', async t => {
  const dir = await tempDir(t)
  const gw = await startGateway(t, testConfig(dir))
  const client = await connect(t, brokerUrl(gw), { clientId: 'acker' })
  for (let i = 0; i < 50; i++) {
    await client.publishAsync('acks/x', String(i), { qos: 1 })
    // PUBACK received: the record must already be committed and readable
    t.equal(gw.log.lastSeq, i + 1)
  }
  const records = await gw.log.read(1, 100)
  t.same(records.map(r => r.payload.toString()), [...Array(50).keys()].map(String))
})

t.test('storage.commitWindow: publishes from several devices, each on its own, go to disk as one write', async t => {
  const gw = await startGateway(t, testConfig(await tempDir(t), 'storage: { commitWindow: 1s }'))
  const commits: number[] = []
  gw.log.on('commit', (e: { records: number }) => commits.push(e.records))
  const devices = await Promise.all([0, 1, 2, 3, 4].map(async i => await connect(t, brokerUrl(gw), { clientId: `dev-${i}` })))
  const acks: Array<Promise<unknown>> = []
  for (const [i, d] of devices.entries()) {
    acks.push(d.publishAsync(`devices/${i}/telemetry`, '{"t":21.5}', { qos: 1 }))
    // the next device publishes once the gateway has this one: without a window, each would be written alone
    await eventually('the gateway has the publish', () => gw.log.ingested.records[1] === i + 1)
  }
  await Promise.all(acks)
  t.same(commits, [5], 'the five publishes were written and fsynced together')
  t.equal(gw.log.stats().lastSeq, 5)
})

t.test('sequence numbers continue after a restart and are never reused', async t => {
  const dir = await tempDir(t)
  const first = await startGateway(t, testConfig(dir))
  const c1 = await mqtt.connectAsync(brokerUrl(first), { reconnectPeriod: 0 })
  for (let i = 0; i < 10; i++) await c1.publishAsync('x', `a${i}`, { qos: 1 })
  await c1.endAsync(true)
  await first.close()

  const second = await startGateway(t, testConfig(dir))
  t.equal(second.log.lastSeq, 10, 'the log reopens at its last sequence number')
  const c2 = await connect(t, brokerUrl(second))
  await c2.publishAsync('x', 'b0', { qos: 1 })
  const records = await second.log.read(1, 100)
  t.same(records.map(r => [r.seq, r.payload.toString()]).slice(-2), [[10, 'a9'], [11, 'b0']])
})

t.test('an empty client id with clean session off is refused with 0x02 [MQTT-3.1.3-8]', async t => {
  const dir = await tempDir(t)
  const gw = await startGateway(t, testConfig(dir))
  // MQTT.js will not send this CONNECT, so speak the protocol directly
  const raw = await RawClient.open(gw.listeners[0]?.port ?? 0)
  t.teardown(() => raw.destroy())
  // CONNECT, MQTT 3.1.1, flags 0 (clean session off), keepalive 30, client id ''
  raw.sendRaw(Buffer.from([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0x00, 0, 30, 0, 0]))
  const reply = await raw.next()
  t.equal(reply?.cmd, 'connack')
  t.equal(reply?.cmd === 'connack' ? reply.returnCode : undefined, 2, 'CONNACK return code 2, identifier rejected')
  await raw.closedPromise()
  t.pass('and the connection is closed')
  // an empty id with clean session is still fine
  const ok = await connect(t, brokerUrl(gw), { clientId: '', clean: true })
  await ok.publishAsync('fine', 'x', { qos: 1 })
  t.equal(gw.log.lastSeq, 1)
})

t.test('a client id longer than broker.maxClientIdLength is refused with 0x02, whatever the protocol version', async t => {
  const dir = await tempDir(t)
  const logs = new LogCapture('info')
  const gw = await startGateway(t, securityConfig(dir, 'listeners: [{ port: 0 }]\nmaxClientIdLength: 64'), { logger: logs.logger })
  const port = gw.listeners[0]?.port ?? 0
  for (const [protocolId, protocolVersion] of [['MQIsdp', 3], ['MQTT', 4]] as const) {
    const raw = await RawClient.open(port)
    t.teardown(() => raw.destroy())
    raw.send({ cmd: 'connect', protocolId, protocolVersion, clean: true, clientId: 'd'.repeat(65), keepalive: 30 })
    const reply = await raw.next()
    t.equal(reply?.cmd === 'connack' ? reply.returnCode : undefined, 2, `MQTT ${protocolVersion === 3 ? '3.1' : '3.1.1'}: 65 bytes get CONNACK 2, identifier rejected`)
    await raw.closedPromise()
  }
  t.match(logs.entries.find(e => e.event === 'connect-refused'), { reason: 'client-id-too-long', remote: /^127\.0\.0\.1:\d+$/ }, 'logged, with the address')
  // counted in UTF-8 bytes, as MQTT encodes it: 32 two-byte characters are 64 bytes
  const fits = await connect(t, brokerUrl(gw), { clientId: 'é'.repeat(32) })
  await fits.publishAsync('fine', 'x', { qos: 1 })
  t.equal(gw.log.lastSeq, 1, 'an id of exactly the limit connects and publishes')
})

t.test('a client publishing to $SYS/ is disconnected and nothing is logged', async t => {
  const dir = await tempDir(t)
  const gw = await startGateway(t, testConfig(dir))
  const client = await connect(t, brokerUrl(gw), { clientId: 'sneaky' })
  const closed = new Promise<void>(resolve => client.once('close', () => resolve()))
  client.publish('$SYS/fake', 'x', { qos: 1 })
  await closed
  t.equal(gw.log.lastSeq, 0)
})

t.test('retained messages and a persistent session\'s queued messages survive a restart', async t => {
  const dir = await tempDir(t)
  const first = await startGateway(t, testConfig(dir))
  const durable = await mqtt.connectAsync(brokerUrl(first), { clientId: 'durable', clean: false, reconnectPeriod: 0 })
  await durable.subscribeAsync('alerts/#', { qos: 1 })
  await durable.endAsync()
  const pub = await mqtt.connectAsync(brokerUrl(first), { clientId: 'pub', reconnectPeriod: 0 })
  await pub.publishAsync('state/door', 'open', { qos: 1, retain: true })
  for (let i = 0; i < 5; i++) await pub.publishAsync('alerts/fire', `alarm-${i}`, { qos: 1 })
  await pub.endAsync()
  await first.close()

  const second = await startGateway(t, testConfig(dir))
  const received: string[] = []
  const client = mqtt.connect(brokerUrl(second), { clientId: 'durable', clean: false, reconnectPeriod: 0 })
  t.teardown(() => { client.end(true) })
  const allFive = new Promise<void>(resolve => client.on('message', (_topic, payload) => {
    received.push(payload.toString())
    if (received.length === 5) resolve()
  }))
  const connack = await new Promise<{ sessionPresent: boolean }>(resolve => client.once('connect', resolve))
  t.equal(connack.sessionPresent, true, 'the persistent session is still there')
  await allFive
  t.same(received, ['alarm-0', 'alarm-1', 'alarm-2', 'alarm-3', 'alarm-4'], 'queued messages arrive in order')

  const fresh = await connect(t, brokerUrl(second), { clientId: 'fresh' })
  const retained = new Promise<string>(resolve => fresh.once('message', (_topic, payload) => resolve(payload.toString())))
  await fresh.subscribeAsync('state/door', { qos: 1 })
  t.equal(await retained, 'open', 'the retained message is still there')
})
