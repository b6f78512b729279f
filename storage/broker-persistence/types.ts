/**
 * The shapes aedes hands to a persistence. aedes types its `persistence` option
 * as `any`, so these are ours: only the fields this store reads are named.
 */

/** An MQTT packet as aedes passes it (aedes-packet, mqtt-packet or a PubRel). */
export interface BrokerPacket {
  cmd?: string
  topic?: string
  payload?: Buffer | Uint8Array | string
  qos?: number
  retain?: boolean
  dup?: boolean
  messageId?: number
  brokerId?: string
  brokerCounter?: number
  clientId?: string
  [field: string]: unknown
}

export interface BrokerClient {
  id: string
}

/** What aedes passes to setup(): the broker's id and its packet counter. */
export interface BrokerLike {
  id: string
  counter?: number
}

/** A subscription as in a SUBSCRIBE packet. */
export interface Subscription {
  topic: string
  qos: number
  rh?: number
  rap?: boolean
  nl?: boolean
  subscriptionIdentifier?: number
}

/** A stored subscription matched by topic (what subscriptionsByTopic returns). */
export interface OfflineSubscription {
  clientId: string
  topic: string
  qos: number
  rh?: number
  rap?: boolean
  nl?: boolean
}
