import { createRequire } from 'node:module'
import t from 'tap'
import '../../gateway/broker.js'

t.test("the broker turns off the packet-identifier cache of Aedes' own mqtt-packet", async t => {
  // the copy Aedes loads, found from Aedes' folder as Node finds it; the gateway's import must be the same copy
  const aedes = createRequire(createRequire(import.meta.url).resolve('aedes'))
  const packets = aedes('mqtt-packet') as { writeToStream: { cacheNumbers: boolean } }
  t.equal(packets.writeToStream.cacheNumbers, false, 'Aedes writes each packet identifier from a fresh slice, with no 65,536-entry table')
})
