/**
 * The byte budget holds under load: at full speed and at a paced rate the log never holds more
 * than storage.retention.maxBytes plus the group being committed.
 */
import { join } from 'node:path'
import t from 'tap'
import { brokerUrl, connect, startGateway, tempDir, testConfig } from '../helpers/gateway.js'

t.test('the byte budget holds under load: the log never holds more than maxBytes plus the group being committed', async t => {
  const dir = await tempDir(t)
  for (const [label, paced] of [['full speed', false], ['paced', true]] as const) {
    const gw = await startGateway(t, testConfig(join(dir, label.replace(' ', '-')), `storage:
  retention: { maxBytes: 256KiB }
  reserveFreeBytes: "0"
`))
    const budget = 256 * 1024
    let worst = 0
    let commits = 0
    gw.log.on('commit', (e: { bytes: number }) => {
      commits++
      worst = Math.max(worst, gw.log.stats().bytes - e.bytes)
    })
    const clients = await Promise.all(Array.from({ length: 4 }, async (_, c) => await connect(t, brokerUrl(gw), { clientId: `${label}-${c}` })))
    const payload = Buffer.alloc(700, 0x63)
    const started = performance.now()
    await Promise.all(clients.map(async (client, c) => {
      for (let i = 0; i < 1500; i++) {
        if (paced) {
          // about 1,000 msg/s in all
          const due = started + (i * 4 + c) * 1
          const wait = due - performance.now()
          if (wait > 0) await new Promise(resolve => setTimeout(resolve, wait))
        }
        await client.publishAsync(`budget/${c}`, payload, { qos: 1 })
      }
    }))
    const s = gw.log.stats()
    t.ok(worst <= budget, `${label}: ${commits} commits, the log before each commit's group held at most ${worst} bytes (budget ${budget})`)
    t.ok(s.drops.maxBytes > 0 && s.drops.maxBytes + s.records === 6000, `${label}: every record is kept or counted as dropped (${s.drops.maxBytes} dropped)`)
    await gw.close()
  }
})
