/**
 * Key layout of the broker state sublevel (utf8 keys). Each kind of state has a
 * one-letter prefix followed by '!', so kinds never share a key and each kind is
 * one contiguous range that setup() scans.
 *
 *   r!<topic>                 retained message
 *   s!<clientId>              all subscriptions of one persistent client (one value)
 *   o!<clientId>!<seq16>      queued outgoing packet, seq = enqueue order
 *   m!<clientId>!<seq16>      messageId assigned to that queued packet on delivery
 *   i!<clientId>!<msgId5>     incoming QoS 2 packet awaiting PUBREL
 *   w!<clientId>              will message
 *
 * Client ids and topics may contain '!': the numeric suffixes are fixed width
 * and parsed from the end, so a key always maps back to one (clientId, n).
 * Keys are only ever written, deleted or range-scanned per kind, never
 * range-scanned per client, so a client id that extends another (abc, abcd)
 * cannot reach the other's keys.
 */

export const PREFIX = {
  retained: 'r!',
  subscriptions: 's!',
  outgoing: 'o!',
  outgoingId: 'm!',
  incoming: 'i!',
  will: 'w!'
} as const

export type Prefix = typeof PREFIX[keyof typeof PREFIX]

const SEQ_WIDTH = 16 // every safe integer
const MSGID_WIDTH = 5 // [MQTT-2.3.1] packet identifiers are 16-bit
const PREFIX_LENGTH = 2

function pad (n: number, width: number): string {
  const s = String(n)
  return s.length >= width ? s : '0'.repeat(width - s.length) + s
}

export function retainedKey (topic: string): string {
  return PREFIX.retained + topic
}

export function subscriptionsKey (clientId: string): string {
  return PREFIX.subscriptions + clientId
}

export function willKey (clientId: string): string {
  return PREFIX.will + clientId
}

export function outgoingKey (clientId: string, seq: number): string {
  return PREFIX.outgoing + clientId + '!' + pad(seq, SEQ_WIDTH)
}

export function outgoingIdKey (clientId: string, seq: number): string {
  return PREFIX.outgoingId + clientId + '!' + pad(seq, SEQ_WIDTH)
}

export function incomingKey (clientId: string, messageId: number): string {
  return PREFIX.incoming + clientId + '!' + pad(messageId, MSGID_WIDTH)
}

/** The part of a single-value key after its prefix (a topic or a client id). */
export function keySuffix (key: string): string {
  return key.slice(PREFIX_LENGTH)
}

/** Splits an outgoing (o!, m!) or incoming (i!) key into client id and number. */
export function parseNumberedKey (key: string): { clientId: string, n: number } {
  const width = key.startsWith(PREFIX.incoming) ? MSGID_WIDTH : SEQ_WIDTH
  return {
    clientId: key.slice(PREFIX_LENGTH, key.length - width - 1),
    n: Number(key.slice(key.length - width))
  }
}

/** The key range of one kind: '"' is the character right after '!'. */
export function prefixRange (prefix: Prefix): { gte: string, lt: string } {
  return { gte: prefix, lt: prefix.slice(0, -1) + '"' }
}
