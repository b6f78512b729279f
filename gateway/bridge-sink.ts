/** The HTTP sink of a bridge, opened from its config (TLS files read here). */
import { readFile } from 'node:fs/promises'
import { loadHttpSink, type HttpSink } from '../bridges/index.js'
import type { BridgeConfig } from '../config/index.js'

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
