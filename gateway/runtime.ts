/**
 * The Node.js settings the gateway process runs with. The `flowgate` command's
 * first line passes them to node (test/unit/runtime.test.ts keeps the two the
 * same), and whatever starts a gateway process of its own (the quickstart, the
 * benchmarks, the crash tests) passes these.
 *
 * --max-semi-space-size=32 (MiB; V8's default ceiling is 16): what a gateway
 * holds for a moment — publishes waiting for their commit, the newest records
 * kept for bridges at the tail, requests in flight — outlives a small young
 * generation and is promoted, and the old generation then fills up in seconds.
 * Its collections paused the event loop for 20-35 ms every 2-3 s at 2,000 msg/s,
 * which held back acknowledgements and deliveries alike. With 32 MiB they are
 * collected young. The cost is up to 48 MiB more heap while traffic needs it.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=32']
