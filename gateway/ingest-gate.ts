/**
 * IngestGate: whether the broker may read more PUBLISH packets from its clients.
 * The event log asks for a pause when accepted bytes waiting to be stored pass
 * `storage.maxPendingBytes` (a stalled or slow disk) and lifts it when commits
 * have caught up. While the gate is shut every connection's PacketGuard stops
 * reading at its next PUBLISH, so TCP slows the publishers down (QoS 0 too) and
 * memory stays bounded; nothing is refused and no one is disconnected.
 */
export class IngestGate {
  private shut = false
  private readonly waiting = new Set<() => void>()

  get open (): boolean {
    return !this.shut
  }

  /** Shuts (`open` false) or opens the gate; opening it calls everyone waiting, in the order they came. */
  set (open: boolean): void {
    if (open === !this.shut) return
    this.shut = !open
    if (!open) return
    const waiting = [...this.waiting]
    this.waiting.clear()
    for (const resume of waiting) {
      // one that resumed may shut the gate again (its publishes fill the log): the rest wait on
      if (this.shut) {
        this.waiting.add(resume)
        continue
      }
      resume()
    }
  }

  /** Calls `resume` once when the gate opens; the returned function withdraws it (a closed connection). */
  whenOpen (resume: () => void): () => void {
    this.waiting.add(resume)
    return () => { this.waiting.delete(resume) }
  }
}
