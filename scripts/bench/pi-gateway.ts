/**
 * bench:pi's gateway: the `flowgate start` command (dist/gateway/flowgate.js, with
 * the runtime flags of its first line) as a child process, confined to one CPU
 * with taskset and placed in a memory-limited cgroup. Reads its JSON log for
 * its ports, and /proc for its memory and CPU time.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { get } from 'node:http'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import type { MemoryCeiling } from './cgroup.js'

const cli = fileURLToPath(new URL('../../gateway/flowgate.js', import.meta.url))

export interface PiGateway {
  proc: ChildProcess
  /** performance.now() when the process was spawned. */
  spawnedAt: number
  /** The first broker listener's port and the admin API's URL, once logged. */
  port: Promise<number>
  admin: Promise<string>
  /** Resolves with exit code and signal. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  /** Non-JSON stderr lines and error log entries, for the report. */
  problems: string[]
  stop: () => Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** `nodeFlags`: instead of the runtime flags (GATEWAY_NODE_FLAGS), to compare others. */
export function startPiGateway (configFile: string, cpu: number | undefined, ceiling: MemoryCeiling, nodeFlags: readonly string[] = GATEWAY_NODE_FLAGS): PiGateway {
  const node = [process.execPath, ...nodeFlags, cli, 'start', '--config', configFile]
  const argv = ceiling.wrap(cpu === undefined ? node : ['taskset', '-c', String(cpu), ...node])
  const spawnedAt = performance.now()
  const proc = spawn(argv[0] as string, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => proc.once('exit', (code, signal) => resolve({ code, signal })))
  const problems: string[] = []
  let onPort: (p: number) => void = () => {}
  let onAdmin: (u: string) => void = () => {}
  const port = new Promise<number>((resolve, reject) => { onPort = resolve; void exited.then(e => reject(new Error(`gateway exited (${e.code ?? e.signal}) before listening: ${problems.join(' | ')}`))) })
  const admin = new Promise<string>((resolve, reject) => { onAdmin = resolve; void exited.then(e => reject(new Error(`gateway exited (${e.code ?? e.signal}) before its admin API listened: ${problems.join(' | ')}`))) })
  port.catch(() => {})
  admin.catch(() => {})
  createInterface({ input: proc.stderr as NodeJS.ReadableStream }).on('line', line => {
    let e: { event?: string, port?: number, url?: string, level?: number, msg?: string }
    try { e = JSON.parse(line) as typeof e } catch { problems.push(line); return }
    if (e.event === 'listening' && typeof e.port === 'number') onPort(e.port)
    if (e.event === 'admin-listening' && typeof e.url === 'string') onAdmin(e.url)
    if ((e.level ?? 0) >= 50) problems.push(e.msg ?? line)
  })
  return {
    proc,
    spawnedAt,
    port,
    admin,
    exited,
    problems,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM')
      return await exited
    }
  }
}

/** Current and peak RSS (bytes), and CPU time used so far (ms), of a process, from /proc. */
export async function procStats (pid: number): Promise<{ rss: number, hwm: number, cpuMs: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8')
  const kib = (key: string): number => Number(new RegExp(`^${key}:\\s+([0-9]+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
  // fields after the command name in parentheses: utime and stime are the 14th and 15th
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const ticks = Number(fields[11]) + Number(fields[12])
  return { rss: kib('VmRSS'), hwm: kib('VmHWM'), cpuMs: ticks * 10 } // USER_HZ is 100 on Linux
}

const status = async (url: string): Promise<number> => await new Promise(resolve => {
  get(url, res => { res.resume(); res.once('end', () => resolve(res.statusCode ?? 0)) }).once('error', () => resolve(0))
})

/** Asks `admin/readyz` as soon as the admin API is known, until it answers 200; resolves with performance.now() then. */
export async function untilReady (admin: Promise<string>): Promise<number> {
  const url = `${await admin}/readyz`
  while (await status(url) !== 200) await new Promise(resolve => setTimeout(resolve, 2))
  return performance.now()
}
