import { Encoder } from 'cbor-x'
import t from 'tap'
import { decodeRecordBatch, encodeRecordBatch, type PendingRecord } from '../../storage/codec.js'

// The general encoder the log used before its own: batches written by either must read the same.
const reference = new Encoder({ useRecords: false, tagUint8Array: false })
const referenceBatch = (records: PendingRecord[]): Buffer => {
  const first = records[0] as PendingRecord
  return reference.encode([first.time, records.map(r => [r.time - first.time, r.topic, r.payload, r.qos, r.retain, r.clientId, r.username ?? null])])
}

/** A seeded generator, so a failure repeats. */
function random (seed: number): (n: number) => number {
  let x = seed
  return n => {
    x = (x * 1103515245 + 12345) % 2147483648
    return x % n
  }
}

const pieces = ['a', 'Z', '/', '#', ' ', 'é', '€', '😀', '\u07ff', '\u0800', '\uffff']
const firstTime = 1795785814105

function batch (rnd: (n: number) => number, k: number): PendingRecord[] {
  const text = (max: number): string => Array.from({ length: rnd(max) }, () => pieces[rnd(pieces.length)]).join('')
  // time offsets: small, at each CBOR length boundary, negative (a clock set back), fractional, beyond 32 bits
  const offsets = [0, 5, 23, 24, 255, 256, 65535, 65536, -1, -24, -25, -300, 0.5, 2 ** 33]
  const sizes = [0, 5, 23, 24, 255, 256, 70000]
  return Array.from({ length: 1 + rnd(20) }, (_, i) => ({
    seq: 100 + i,
    time: i === 0 ? firstTime : firstTime + (offsets[rnd(offsets.length)] as number),
    topic: text(k % 3 === 0 ? 200 : 30),
    payload: Buffer.alloc(sizes[rnd(sizes.length)] as number, rnd(256)),
    qos: rnd(3) as 0 | 1 | 2,
    retain: rnd(2) === 1,
    clientId: text(25),
    username: rnd(2) === 0 ? undefined : text(80)
  }))
}

t.test('a record batch is the CBOR the general encoder writes, byte for byte, and reads back whole', async t => {
  const rnd = random(7)
  let checked = 0
  for (let k = 0; k < 3000; k++) {
    const records = batch(rnd, k)
    const encoded = encodeRecordBatch(records)
    if (!encoded.equals(referenceBatch(records))) {
      t.fail(`batch ${k} differs from the reference encoding`, { records: records.map(r => ({ ...r, payload: r.payload.length })) })
      return
    }
    const back = decodeRecordBatch(100, encoded)
    if (back.length !== records.length) {
      t.fail(`batch ${k}: ${records.length} records written, ${back.length} read`)
      return
    }
    for (const [i, r] of records.entries()) {
      const b = back[i]
      if (b === undefined || b.seq !== r.seq || b.time !== r.time || b.topic !== r.topic || !b.payload.equals(r.payload) ||
          b.qos !== r.qos || b.retain !== r.retain || b.clientId !== r.clientId || b.username !== r.username) {
        t.fail(`batch ${k} record ${i} did not read back`, { wrote: r, read: b })
        return
      }
    }
    checked += records.length
  }
  t.ok(checked > 20000, `${checked} records compared`)
})

t.test('a string with a lone surrogate is stored as valid UTF-8, with U+FFFD in its place', async t => {
  const encoded = encodeRecordBatch([{ seq: 1, time: 1, topic: 'a/\ud800/b', payload: Buffer.from('x'), qos: 1, retain: false, clientId: 'dev\udc00', username: '\ud83d' }])
  const [rec] = decodeRecordBatch(1, encoded)
  t.equal(rec?.topic, 'a/\ufffd/b')
  t.equal(rec?.clientId, 'dev\ufffd')
  t.equal(rec?.username, '\ufffd')
  t.ok(encoded.includes(Buffer.from('a/\ufffd/b')), 'the bytes are those Buffer writes for the same string')
})

t.test('an empty batch is refused', async t => {
  t.throws(() => encodeRecordBatch([]), TypeError)
})

t.test('a group encodes the same whether its strings were kept from earlier groups or not', async t => {
  const group = (topic: string, seq: number): PendingRecord[] => [
    { seq, time: firstTime, topic, payload: Buffer.from('{"t":1}'), qos: 1, retain: false, clientId: 'dev-1', username: 'user' },
    { seq: seq + 1, time: firstTime + 3, topic: 'devices/dev-2/t', payload: Buffer.alloc(30, 1), qos: 0, retain: true, clientId: 'dev-2', username: undefined }
  ]
  const first = encodeRecordBatch(group('devices/dev-1/t', 1))
  t.ok(first.equals(referenceBatch(group('devices/dev-1/t', 1))))
  t.ok(encodeRecordBatch(group('devices/dev-1/t', 1)).equals(first), 'kept strings')
  // enough distinct long topics that the kept strings are let go (more than the cache's bytes)
  for (let i = 0; i < 2000; i++) {
    const topic = `devices/${String(i).padStart(200, 'x')}/t`
    if (!encodeRecordBatch(group(topic, 10)).equals(referenceBatch(group(topic, 10)))) {
      t.fail(`group ${i} differs from the reference encoding`)
      return
    }
  }
  t.ok(encodeRecordBatch(group('devices/dev-1/t', 1)).equals(first), 'strings encoded again after the cache started over')
})
