/** Starts scripts/bench/e2e-server.js (a gateway with one bridge) as a child process. */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { BridgeStatus } from '../../bridges/index.js'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import type { GatewaySpec } from './e2e-server.js'

export interface E2eGateway {
  port: number
  /** Epoch ms (hi-res) just before the child created the gateway. */
  startedAt: number
  /** The child's CPU time (user + system, µs) just before it created the gateway. */
  cpuAtStart: number
  proc: ChildProcess
  status: () => Promise<GatewayReport>
  stop: () => Promise<void>
}

export interface GatewayReport { status: BridgeStatus | undefined, lastSeq: number, cpu: number, maxRss: number }

const serverScript = fileURLToPath(new URL('./e2e-server.js', import.meta.url))

/** `cpuProfDir`: run the child under --cpu-prof, writing the profile there when it exits. */
export async function startE2eGateway (spec: GatewaySpec, cpuProfDir?: string): Promise<E2eGateway> {
  const execArgv = [...GATEWAY_NODE_FLAGS, ...(cpuProfDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${cpuProfDir}`])]
  const proc = fork(serverScript, [JSON.stringify(spec)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
  const next = async <T>(): Promise<T> => await new Promise<T>((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`bench gateway exited (${code})`))
    proc.once('exit', onExit)
    proc.once('message', m => { proc.off('exit', onExit); resolve(m as T) })
  })
  const { port, startedAt, cpuAtStart } = await next<{ port: number, startedAt: number, cpuAtStart: number }>()
  return {
    port,
    startedAt,
    cpuAtStart,
    proc,
    status: async () => { const p = next<GatewayReport>(); proc.send('status'); return await p },
    stop: async () => { const done = new Promise(resolve => proc.once('exit', resolve)); proc.send('stop'); await done }
  }
}
