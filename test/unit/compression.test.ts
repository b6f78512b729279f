import { gzipSync } from 'node:zlib'
import t from 'tap'
import { Compressor, ContentCodingError, compressBody, decompressBody } from '../../bridges/compression.js'

const batch = Buffer.from(JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ specversion: '1.0', id: `gw-${i}`, source: '/sites/a', type: 'com.example.telemetry', data: { t: 20 + i / 10 } }))))

t.test('a body compresses and decodes back, for each coding', async t => {
  for (const coding of ['gzip', 'br'] as const) {
    const packed = await compressBody(batch, coding)
    t.ok(packed.length * 5 < batch.length, `${coding}: ${batch.length} -> ${packed.length} bytes`)
    t.same(await decompressBody(packed, coding, 1 << 20), batch, `${coding}: decodes to the same bytes`)
  }
  const twice = await compressBody(await compressBody(batch, 'gzip'), 'br')
  t.same(await decompressBody(twice, 'gzip, br', 1 << 20), batch, 'codings listed in order are undone in reverse')
  t.same(await decompressBody(batch, undefined, 10), batch, 'no Content-Encoding: the body as it is')
  t.same(await decompressBody(batch, 'identity', 10), batch)
})

t.test('decoding is bounded and says why it fails', async t => {
  const bomb = gzipSync(Buffer.alloc(1 << 20))
  await t.rejects(decompressBody(bomb, 'gzip', 1 << 16), new ContentCodingError(413, 'request body larger than 65536 bytes once decoded'), 'a body that inflates past the limit: 413')
  await t.rejects(decompressBody(batch, 'compress', 1 << 20), { name: 'ContentCodingError', status: 415 }, 'an unknown coding: 415')
  await t.rejects(decompressBody(batch, 'gzip', 1 << 20), { name: 'ContentCodingError', status: 400 }, 'a body that is not gzip: 400')
})

t.test('the compressor: Content-Encoding when it helps, nothing after a refusal', async t => {
  let refusals = 0
  const c = new Compressor('gzip', () => { refusals++ })
  const message = { headers: { 'content-type': 'application/cloudevents-batch+json' }, body: batch }
  const packed = await c.encode(message)
  t.equal(packed.headers['content-encoding'], 'gzip')
  t.equal(packed.headers['content-type'], 'application/cloudevents-batch+json', 'the content type stays')
  t.ok(c.ratio > 5, `it learns the ratio (${c.ratio.toFixed(1)})`)
  const tiny = { headers: {}, body: Buffer.from('{"a":1}') }
  t.equal(await c.encode(tiny), tiny, 'a body that would not get smaller goes as it is')
  c.refuse()
  c.refuse()
  t.equal(refusals, 1, 'a refusal is reported once')
  t.notOk(c.active)
  t.equal(await c.encode(message), message, 'after a refusal, bodies go uncompressed')
  const none = new Compressor('none', () => {})
  t.equal(await none.encode(message), message)
  t.notOk(new Compressor('br', () => {}, true).active, 'a refusal carried over from an earlier run')
})
