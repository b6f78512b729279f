/**
 * The broker's fan-out: the topic matcher (mqemitter) that Aedes hands every
 * publish to, set up so that no subscriber can hold up a publisher.
 *
 * - A delivery counts as done for the publish once it has been started. Aedes
 *   then writes it to the subscriber's connection on its own; the publish, and
 *   the publisher's next packet, do not wait for that write. Otherwise one
 *   subscriber that stops reading stalls every publish that matches it, and
 *   with them every publisher's PUBACKs (Aedes reads a client's next packets
 *   only once its publishes are done). What a slow subscriber costs is bounded
 *   on its own connection instead: the PacketGuard disconnects it
 *   (`maxOutboundBytes`, `slowClientTimeout`, gateway/limits.ts), and a
 *   persistent session's QoS 1/2 messages stay in the store for its return.
 *   Stored messages a session gets on reconnecting, and retained messages on
 *   subscribing, are written by Aedes outside the fan-out, one after another
 *   as the connection takes them.
 * - No concurrency limit, so no queue. mqemitter drains its queue by recursion,
 *   a few stack frames for each queued publish, and a queue of thousands held
 *   behind a stuck subscriber overflowed the stack when it drained, which
 *   killed the process.
 */
import mqemitter, { type MQEmitter, type Message } from 'mqemitter'

type Listener = (message: Message, done: () => void) => void

const noop = (): void => {}

export function createFanout (): MQEmitter {
  // matchEmptyLevels as Aedes sets it [MQTT-4.7.1-3]
  const mq = mqemitter({ concurrency: 0, matchEmptyLevels: true })
  const started = new WeakMap<Listener, Listener>()
  const startOnly = (listener: Listener): Listener => {
    let wrapped = started.get(listener)
    if (wrapped === undefined) {
      wrapped = (message, done) => {
        listener(message, noop)
        done()
      }
      started.set(listener, wrapped)
    }
    return wrapped
  }
  const on = mq.on.bind(mq)
  const removeListener = mq.removeListener.bind(mq)
  mq.on = function (topic, listener, callback) {
    on(topic, startOnly(listener), callback)
    return this
  }
  mq.removeListener = (topic, listener, callback) => removeListener(topic, started.get(listener) ?? listener, callback)
  return mq
}
