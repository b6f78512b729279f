/**
 * CBOR (cbor-x) encoding of broker state values. Packets are stored as plain
 * maps of their own data fields; payloads and other byte fields stay CBOR byte
 * strings and come back as Buffers (mqtt-packet only writes Buffer payloads).
 */
import { Decoder, Encoder } from 'cbor-x'
import { BrokerStateError } from './errors.js'
import type { BrokerPacket } from './types.js'

const encoder = new Encoder({ useRecords: false, tagUint8Array: false })
const decoder = new Decoder({ useRecords: false, mapsAsObjects: true })

/**
 * A plain copy of a packet's own data fields. Drops functions (aedes' QoSPacket
 * carries a writeCallback) and keeps undefined fields, because aedes and the
 * persistence contract tell "no messageId yet" from "no such field".
 */
export function packetRecord (packet: object): BrokerPacket {
  const out: BrokerPacket = {}
  for (const [field, value] of Object.entries(packet)) {
    if (typeof value !== 'function') out[field] = value
  }
  return out
}

export function encodeValue (value: unknown): Buffer {
  return encoder.encode(value)
}

export function decodeValue (key: string, bytes: Uint8Array): unknown {
  try {
    return decoder.decode(bytes)
  } catch (cause) {
    throw new BrokerStateError('FG_ERR_BROKER_STATE_CORRUPT', `broker state value at ${JSON.stringify(key)} cannot be decoded`, { cause })
  }
}

export function decodePacket (key: string, bytes: Uint8Array): BrokerPacket {
  const value = decodeValue(key, bytes)
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new BrokerStateError('FG_ERR_BROKER_STATE_CORRUPT', `broker state value at ${JSON.stringify(key)} is not a packet`)
  }
  const packet = value as BrokerPacket
  const payload = packet.payload
  if (payload instanceof Uint8Array && !Buffer.isBuffer(payload)) {
    packet.payload = Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
  }
  return packet
}
