import type { HttpSink } from './http-sink.js'

/** The HTTP sink class, loaded on first use: the HTTP client is about 5 MB of heap and a noticeable part of start-up. */
export async function loadHttpSink (): Promise<typeof HttpSink> {
  return (await import('./http-sink.js')).HttpSink
}

/** Loads the sink and its HTTP client ahead of the first request (the gateway does once it is ready). */
export async function preloadHttpSink (): Promise<void> {
  await (await import('./http-sink.js')).loadPool()
}
