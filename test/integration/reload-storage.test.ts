/**
 * Storage and broker settings on reload: each change is applied in place or reported as needing
 * a restart, never silently ignored.
 */
import { join } from 'node:path'
import t from 'tap'
import type { DeadLetter } from '../../storage/index.js'
import { startGateway, tempDir, within } from '../helpers/gateway.js'
import { LogCapture, securityConfig } from '../helpers/security.js'

const letter = (seq: number): DeadLetter => ({ seq, time: 1_700_000_000_000 + seq, event: { id: `gw-${seq}`, specversion: '1.0', data: 'x'.repeat(1000) }, status: 400, body: 'rejected' })

t.test('a reload lowering storage.deadLetters.maxBytes removes the oldest dead letters at once; broker.maxClientIdLength needs a restart', async t => {
  const dir = await tempDir(t)
  const data = join(dir, 'data')
  const logs = new LogCapture('info')
  const gw = await startGateway(t, securityConfig(data, 'listeners: [{ port: 0 }]'), { logger: logs.logger })
  const dlq = gw.bridges.deadLetters
  await dlq.add('up', Array.from({ length: 10 }, (_, i) => letter(i + 1)))
  const held = (await dlq.usage()).bytes
  t.ok(held > 10_000, `ten dead letters hold ${held} bytes`)

  const next = securityConfig(data, 'listeners: [{ port: 0 }]\nmaxClientIdLength: 64', 'storage: { deadLetters: { maxBytes: 5KiB } }')
  const result = await gw.reload(next.config)
  t.same(result.needsRestart, ['broker.maxClientIdLength'], 'the client id limit is reported as needing a restart')
  const evicted = await within(10_000, 'the eviction log line', logs.waitFor(e => e.event === 'dead-letters-evicted'))
  t.match(evicted, { bridge: 'up', fromSeq: 1 }, 'the oldest went first, logged')
  const kept = (await dlq.list('up')).map(l => l.seq)
  t.ok((await dlq.usage()).bytes <= 5 * 1024, 'within the new budget at once, without waiting for the next dead letter')
  t.same(kept, Array.from({ length: kept.length }, (_, i) => 11 - kept.length + i), `the newest are kept (${kept.join(', ')})`)
  t.equal(kept.length + (evicted.count as number), 10, 'and every one removed is counted')
})
