/** Pure limit rules: the per-client publish token bucket and the topic size checks. */

/**
 * A token bucket: `rate` tokens a second, at most `burst` saved up. Starts full,
 * so a client may send `burst` packets at once and `rate` a second after that.
 */
export class TokenBucket {
  private tokens: number
  private last: number

  constructor (private readonly rate: number, private readonly burst: number, now: number) {
    this.tokens = burst
    this.last = now
  }

  /** Takes one token; false when there is none (the limit is exceeded). */
  take (now: number): boolean {
    const elapsed = now - this.last
    if (elapsed > 0) {
      this.tokens = Math.min(this.burst, this.tokens + elapsed * this.rate / 1000)
      this.last = now
    }
    if (this.tokens < 1) return false
    this.tokens -= 1
    return true
  }

  /**
   * Milliseconds from `now` until the next publishes may go: a hundredth of a second's worth of
   * tokens (at most the burst, at least one), so a client held at the rate is read from about a
   * hundred times a second rather than once per publish.
   */
  msUntilReady (now: number): number {
    const want = Math.min(this.burst, Math.max(1, this.rate / 100))
    const elapsed = Math.max(0, now - this.last)
    const tokens = Math.min(this.burst, this.tokens + elapsed * this.rate / 1000)
    return Math.max(1, Math.ceil((want - tokens) * 1000 / this.rate))
  }
}

export interface TopicLimits {
  maxTopicLength: number
  maxTopicLevels: number
}

/** Which topic limit `topic` exceeds, with a detail for the log; undefined when it is within both. */
export function topicLimitExceeded (topic: string, limits: TopicLimits): { kind: 'maxTopicLength' | 'maxTopicLevels', detail: string } | undefined {
  // a UTF-16 code unit takes one to three UTF-8 bytes: the byte length is measured only when it may matter
  if (topic.length > limits.maxTopicLength || (topic.length * 3 > limits.maxTopicLength && Buffer.byteLength(topic) > limits.maxTopicLength)) {
    return { kind: 'maxTopicLength', detail: `topic of ${Buffer.byteLength(topic)} bytes, limit ${limits.maxTopicLength}` }
  }
  let levels = 1
  for (let i = topic.indexOf('/'); i !== -1; i = topic.indexOf('/', i + 1)) levels++
  if (levels > limits.maxTopicLevels) return { kind: 'maxTopicLevels', detail: `topic of ${levels} levels, limit ${limits.maxTopicLevels}` }
  return undefined
}

/**
 * Why a topic cannot be accepted although the MQTT parser let it through: NUL
 * [MQTT-4.7.3-2], or U+FFFD, which is what the parser makes of invalid UTF-8
 * [MQTT-1.5.3-1] (so a topic genuinely holding U+FFFD is refused too).
 */
export function topicEncodingProblem (topic: string): string | undefined {
  if (topic.includes('\u0000')) return 'NUL in topic'
  if (topic.includes('\uFFFD')) return 'invalid UTF-8 in topic'
  return undefined
}
