/**
 * `npm start`: the gateway on the quickstart config, and beside it a
 * `flowgate receive` on port 9090 that prints every delivered CloudEvent.
 * Ctrl-C stops both.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { GATEWAY_NODE_FLAGS } from '../gateway/runtime.js'

const root = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..')
const cli = join(root, 'dist', 'gateway', 'cli.js')
const config = process.env.FLOWGATE_CONFIG ?? join(root, 'config', 'examples', 'quickstart.yaml')

const children: ChildProcess[] = [
  spawn(process.execPath, [cli, 'receive', '--port', '9090'], { stdio: 'inherit' }),
  spawn(process.execPath, [...GATEWAY_NODE_FLAGS, cli, 'start', '--config', config], { stdio: 'inherit' })
]
let exitCode = 0
let running = children.length
for (const child of children) {
  child.once('exit', code => {
    if (code !== 0 && code !== null) exitCode = code
    running--
    // one stopped: stop the other too
    for (const other of children) if (other.exitCode === null && other.signalCode === null) other.kill('SIGTERM')
    if (running === 0) process.exit(exitCode)
  })
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => { for (const child of children) child.kill(signal) })
}
