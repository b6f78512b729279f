/**
 * The Node.js settings the gateway process runs with. The `flowgate` command's
 * first line passes them to node (test/unit/runtime.test.ts keeps the two the
 * same), and whatever starts a gateway process of its own (the quickstart, the
 * benchmarks, the crash tests) passes these.
 *
 * --max-semi-space-size=8 (MiB; V8's default ceiling is 16): the young
 * generation is two semi-spaces, and under load both are in use, so their size
 * is a large part of the gateway's RSS. What a gateway holds for a moment
 * (publishes waiting for their commit, requests in flight) lives a few
 * milliseconds, and 8 MiB is collected some five times a second at 2,000 msg/s,
 * about 1.3 ms each: little of it is promoted, and the old generation grows
 * by some 0.6 MiB/s between its collections. bench:pi's load peaked at
 * 115-117 MiB of RSS with 8 MiB, 127 with 16 and 153 with 32, for the same CPU
 * and latency.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=8']
