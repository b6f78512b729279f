/** The HTTP sink of a bridge, and redrive: sending dead letters again through a bridge's sink. */
import { readFile } from 'node:fs/promises'
import { classify, encodeEventBatch, encodeHttp, fromJSONFormat, loadHttpSink, type HttpSink } from '../bridges/index.js'
import type { BridgeConfig } from '../config/index.js'
import type { DeadLetter, DeadLetterStore } from '../storage/index.js'

async function readOptional (file: string | undefined): Promise<Buffer | undefined> {
  return file === undefined ? undefined : await readFile(file)
}

/** Opens a bridge's sink; rejects when a TLS file cannot be read. */
export async function createSink (cfg: BridgeConfig): Promise<HttpSink> {
  const HttpSink = await loadHttpSink()
  const headers: Record<string, string> = { ...cfg.sink.headers }
  if (cfg.sink.token !== undefined) headers.authorization = `Bearer ${cfg.sink.token}`
  return new HttpSink({
    url: cfg.sink.url,
    headers,
    timeoutMs: cfg.sink.timeoutMs,
    connectTimeoutMs: cfg.sink.connectTimeoutMs,
    connections: cfg.sink.maxInFlight,
    tls: {
      ca: await readOptional(cfg.sink.tls.ca),
      cert: await readOptional(cfg.sink.tls.cert),
      key: await readOptional(cfg.sink.tls.key),
      rejectUnauthorized: cfg.sink.tls.rejectUnauthorized
    }
  })
}

export interface RedriveResult { bridge: string, redriven: number, failed: Array<{ seq: number, status?: number, error?: string }> }

/** Sends `letters` once each through a sink of `cfg`; those the upstream takes leave the store. */
export async function redriveLetters (cfg: BridgeConfig, letters: readonly DeadLetter[], store: DeadLetterStore): Promise<RedriveResult> {
  const result: RedriveResult = { bridge: cfg.name, redriven: 0, failed: [] }
  const sink = await createSink(cfg)
  try {
    for (const letter of letters) {
      const event = fromJSONFormat(letter.event)
      const message = cfg.sink.mode === 'batch' ? encodeEventBatch([event]) : encodeHttp(event, cfg.sink.mode)
      const sent = await sink.send(message)
      if (classify(sent.outcome).action === 'success') {
        await store.remove(cfg.name, [letter.seq])
        result.redriven++
      } else {
        result.failed.push(sent.outcome.kind === 'response' ? { seq: letter.seq, status: sent.outcome.status } : { seq: letter.seq, error: sent.outcome.kind })
      }
    }
  } finally {
    await sink.close()
  }
  return result
}
