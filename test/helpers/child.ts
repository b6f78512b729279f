import { spawn, type ChildProcess } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { GATEWAY_NODE_FLAGS } from '../../gateway/runtime.js'
import { repoRoot } from './paths.js'
import type { TestContext } from './gateway.js'

/** The `flowgate` command as package.json's bin names it: the bundled build (scripts/build-bundle.ts). */
export const cliPath = join(repoRoot, 'dist', 'gateway', 'flowgate.js')

export interface ChildGateway {
  proc: ChildProcess
  port: number
  /** Every stderr line so far (JSON log lines and any error text). */
  stderr: string[]
  /** Resolves with the first JSON log entry (from now on, or already seen if `past`) that `predicate` accepts. */
  waitForLog: (predicate: (entry: Record<string, unknown>) => boolean, past?: boolean) => Promise<Record<string, unknown>>
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
}

/** Writes a config file for a child gateway on port 0. */
export async function writeConfig (dir: string, dataDir: string, extra = ''): Promise<string> {
  const file = join(dir, 'flowgate.yaml')
  await writeFile(file, `gateway:
  id: crash-gw
  dataDir: ${JSON.stringify(dataDir)}
  logLevel: info
broker:
  listeners:
    - port: 0
admin:
  port: 0
${extra}`)
  return file
}

/** Runs `flowgate <args>` to completion. */
export async function runCli (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const proc = spawn(process.execPath, [cliPath, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  proc.stdout.on('data', (d: Buffer) => { stdout += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  const code = await new Promise<number | null>(resolve => proc.once('exit', c => resolve(c)))
  return { code, stdout, stderr }
}

/** Starts `flowgate start --config FILE` as a child process and waits until it has started; `port` is its first listener's. */
export async function startChild (t: TestContext, configFile: string, env: NodeJS.ProcessEnv = process.env): Promise<ChildGateway> {
  const proc = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, cliPath, 'start', '--config', configFile], { stdio: ['ignore', 'ignore', 'pipe'], env })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => proc.once('exit', (code, signal) => resolve({ code, signal })))
  t.teardown(() => { if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL') })
  const stderr: string[] = []
  const waiters: Array<{ predicate: (e: Record<string, unknown>) => boolean, resolve: (e: Record<string, unknown>) => void }> = []
  const lines = createInterface({ input: proc.stderr as NodeJS.ReadableStream })
  lines.on('line', line => {
    let entry: Record<string, unknown>
    try { entry = JSON.parse(line) as Record<string, unknown> } catch { return }
    for (const w of [...waiters]) {
      if (w.predicate(entry)) {
        waiters.splice(waiters.indexOf(w), 1)
        w.resolve(entry)
      }
    }
  })
  const waitForLog = async (predicate: (e: Record<string, unknown>) => boolean, past = false): Promise<Record<string, unknown>> => {
    if (past) {
      for (const line of stderr) {
        try {
          const entry = JSON.parse(line) as Record<string, unknown>
          if (predicate(entry)) return entry
        } catch { /* not JSON */ }
      }
    }
    return await new Promise(resolve => waiters.push({ predicate, resolve }))
  }
  const port = await new Promise<number>((resolve, reject) => {
    let first: number | undefined
    lines.on('line', line => {
      stderr.push(line)
      try {
        const entry = JSON.parse(line) as { event?: string, port?: number }
        if (entry.event === 'listening' && typeof entry.port === 'number') first ??= entry.port
        if (entry.event === 'started' && first !== undefined) resolve(first)
      } catch { /* not a log line */ }
    })
    void exited.then(({ code, signal }) => reject(new Error(`gateway exited (${code ?? signal}) before listening:\n${stderr.join('\n')}`)))
  })
  return { proc, port, stderr, exited, waitForLog }
}
