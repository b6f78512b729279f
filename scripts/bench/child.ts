import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'

/** Peak and current RSS in bytes; cpu: microseconds of CPU used by the server process so far. */
export interface ServerStats { maxRss: number, rss: number, cpu: number }

export interface BenchServer { port: number, proc: ChildProcess, stats: () => Promise<ServerStats>, stop: () => Promise<void> }

const serverScript = fileURLToPath(new URL('./server.js', import.meta.url))

/**
 * Starts scripts/bench/server.js as a child process, with the Node settings the gateway runs
 * with, whichever broker it serves: plain Aedes and flowgate run on the same runtime.
 */
export async function startServer (args: string[]): Promise<BenchServer> {
  const proc = fork(serverScript, args, { execArgv: [...GATEWAY_NODE_FLAGS], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const next = async <T>(): Promise<T> => await new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`bench server exited (${code})`))
    proc.once('exit', onExit)
    proc.once('message', m => {
      proc.off('exit', onExit)
      resolve(m as T)
    })
  })
  const { port } = await next<{ port: number }>()
  return {
    port,
    proc,
    stats: async () => { const p = next<ServerStats>(); proc.send('stats'); return await p },
    stop: async () => { const done = new Promise(resolve => proc.once('exit', resolve)); proc.send('stop'); await done }
  }
}
