/**
 * `npm run interop:paho -- PAHO_DIR`: runs the Eclipse Paho MQTT 3.1.1
 * interoperability suite (`interoperability/client_test.py` of a checkout of
 * eclipse/paho.mqtt.testing, which uses only Python's standard library) against
 * a gateway started for it, and prints each test's result and the total.
 *
 * The gateway is configured as the suite's README asks: everything allowed but
 * subscriptions to `test/nosubscribe` (one deny rule). Each test runs in its own
 * Python process with a deadline, as aedes runs the suite in its CI: the suite's
 * clients wait without timeouts, so one hung test would otherwise hang the rest.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { GATEWAY_NODE_FLAGS } from '../gateway/runtime.js'

const cli = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'gateway', 'cli.js')

// Loads client_test.py as a module, sets the globals its __main__ block would (the suite's own
// default topics), and lists the tests or runs one; exit code 0 when it passed.
const DRIVER = `
import importlib.util, sys, unittest
where, host, port, name = sys.argv[1:5]
sys.path.insert(0, where)
spec = importlib.util.spec_from_file_location("client_test", where + "/client_test.py")
suite = importlib.util.module_from_spec(spec)
spec.loader.exec_module(suite)
suite.host, suite.port = host, int(port)
suite.topics = ("TopicA", "TopicA/B", "Topic/C", "TopicA/C", "/TopicA")
suite.wildtopics = ("TopicA/+", "+/C", "#", "/#", "/+", "+/+", "TopicA/#")
suite.nosubscribe_topics = ("test/nosubscribe",)
if name == "--list":
    print("\\n".join(unittest.TestLoader().getTestCaseNames(suite.Test)))
    sys.exit(0)
result = unittest.TextTestRunner(stream=sys.stdout, verbosity=0).run(unittest.TestSuite([suite.Test(name)]))
sys.exit(0 if result.wasSuccessful() else 1)
`

interface Run { code: number | null, output: string, timedOut: boolean }

async function python (args: string[], timeoutMs: number): Promise<Run> {
  const proc = spawn('python3', ['-c', DRIVER, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  proc.stdout.on('data', (d: Buffer) => { output += d.toString() })
  proc.stderr.on('data', (d: Buffer) => { output += d.toString() })
  let timedOut = false
  const timer = setTimeout(() => { timedOut = true; proc.kill('SIGKILL') }, timeoutMs)
  const code = await new Promise<number | null>(resolve => proc.once('exit', c => resolve(c)))
  clearTimeout(timer)
  return { code, output, timedOut }
}

/** Starts `flowgate start` on `config`; resolves with its MQTT port once it has started. */
async function startGateway (config: string): Promise<{ port: number, stop: () => Promise<void> }> {
  const proc = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, cli, 'start', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] })
  const exited = new Promise<void>(resolve => proc.once('exit', () => resolve()))
  const lines: string[] = []
  const port = await new Promise<number>((resolve, reject) => {
    let port: number | undefined
    createInterface({ input: proc.stderr }).on('line', line => {
      lines.push(line)
      try {
        const entry = JSON.parse(line) as { event?: string, port?: number }
        if (entry.event === 'listening') port ??= entry.port
        if (entry.event === 'started' && port !== undefined) resolve(port)
      } catch { /* not a log line */ }
    })
    void exited.then(() => reject(new Error(`the gateway exited before it started:\n${lines.join('\n')}`)))
  })
  return {
    port,
    async stop () {
      proc.kill('SIGTERM')
      await exited
    }
  }
}

async function main (): Promise<number> {
  const given = process.argv[2]
  if (given === undefined) {
    console.error('usage: npm run interop:paho -- PATH_TO_PAHO_MQTT_TESTING [--timeout SECONDS]')
    return 2
  }
  const where = [resolve(given, 'interoperability'), resolve(given)].find(d => existsSync(join(d, 'client_test.py')))
  if (where === undefined) {
    console.error(`no interoperability/client_test.py under ${given}`)
    return 2
  }
  const timeoutAt = process.argv.indexOf('--timeout')
  const timeoutMs = (timeoutAt > 0 ? Number(process.argv[timeoutAt + 1]) : 60) * 1000

  const dir = await mkdtemp(join(tmpdir(), 'flowgate-paho-'))
  const config = join(dir, 'flowgate.yaml')
  await writeFile(config, `gateway:
  id: paho-interop
  dataDir: ${JSON.stringify(join(dir, 'data'))}
  logLevel: info
broker:
  listeners:
    - { host: 127.0.0.1, port: 0 }
  acl:
    # as the suite's README asks: everything allowed, but no subscriptions to test/nosubscribe
    - deny: true
      subscribe: ["test/nosubscribe"]
admin:
  enabled: false
`)
  const gateway = await startGateway(config)
  try {
    const host = '127.0.0.1'
    const listed = await python([where, host, String(gateway.port), '--list'], timeoutMs)
    if (listed.code !== 0) throw new Error(`cannot list the suite's tests:\n${listed.output}`)
    const names = listed.output.split('\n').map(s => s.trim()).filter(s => /^test\w*$/.test(s))
    console.log(`Paho MQTT 3.1.1 interoperability suite (${join(where, 'client_test.py')}) against flowgate on ${host}:${gateway.port}`)
    let passed = 0
    for (const name of names) {
      const run = await python([where, host, String(gateway.port), name], timeoutMs)
      const ok = run.code === 0
      if (ok) passed++
      console.log(`  ${ok ? 'pass' : run.timedOut ? 'TIMEOUT' : 'FAIL'}  ${name}`)
      if (!ok) console.log(run.output.split('\n').map(l => `        ${l}`).join('\n'))
    }
    console.log(`${passed}/${names.length} passed`)
    return passed === names.length && names.length > 0 ? 0 : 1
  } finally {
    await gateway.stop()
    await rm(dir, { recursive: true, force: true })
  }
}

process.exitCode = await main()
