/**
 * Who may log in: users with scrypt password hashes, a password file that is
 * read again when it changes, and anonymous clients only where the config
 * allows them (by default only on loopback listeners).
 */
import { spawn, spawnSync } from 'node:child_process'
import { rename, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import mqtt, { type IClientOptions } from 'mqtt'
import { securityOf } from '../../gateway/broker.js'
import { hashPassword, parseHash, verifyPassword } from '../../gateway/auth/index.js'
import { cliPath } from '../helpers/child.js'
import { connect, startGateway, tempDir } from '../helpers/gateway.js'
import { LogCapture, securityConfig } from '../helpers/security.js'

// cheap hashes keep the test fast; the format and the check are the same as with the default cost
const FAST = { N: 1024, r: 8, p: 1 }

/** The CONNACK return code of a refused connection, or 0 when it was accepted (and is then ended). */
async function connectCode (port: number, opts: IClientOptions): Promise<number> {
  try {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, connectTimeout: 5000, ...opts })
    await client.endAsync(true)
    return 0
  } catch (err) {
    return Number((err as { code?: unknown }).code)
  }
}

function portOf (gw: { listeners: ReadonlyArray<{ port: number }> }, i = 0): number {
  const l = gw.listeners[i]
  if (l === undefined) throw new Error(`no listener ${i}`)
  return l.port
}

t.test('a user logs in with the right password only; unknown users and wrong passwords get 4', async t => {
  const dir = await tempDir(t)
  const alice = await hashPassword('alice-secret', FAST)
  const logs = new LogCapture()
  const gw = await startGateway(t, securityConfig(join(dir, 'data'), `listeners:
  - port: 0
auth:
  users:
    - { name: alice, password: "${alice}" }`), { logger: logs.logger })
  const port = portOf(gw)

  t.equal(await connectCode(port, { username: 'alice', password: 'alice-secret' }), 0, 'right password: accepted')
  t.equal(await connectCode(port, { username: 'alice', password: 'alice-secreT' }), 4, 'wrong password: bad user name or password')
  t.equal(await connectCode(port, { username: 'mallory', password: 'alice-secret' }), 4, 'unknown user: the same answer')
  t.equal(await connectCode(port, { username: 'alice' }), 4, 'no password: refused')
  t.equal(await connectCode(port, {}), 0, 'anonymous on the loopback listener: accepted (the default)')

  const client = await connect(t, `mqtt://127.0.0.1:${port}`, { clientId: 'alice-dev', username: 'alice', password: 'alice-secret' })
  await client.publishAsync('devices/alice/t', '1', { qos: 1 })
  const records = await gw.log.read(1, 100)
  t.equal(records.at(-1)?.username, 'alice', 'the verified user is recorded with the publish')

  const stats = securityOf(gw.broker)?.stats()
  t.equal(stats?.authFailures.badCredentials, 3, 'each refusal is counted')
  const failures = logs.events('auth-failed')
  t.equal(failures.length, 3, 'each refusal is logged')
  t.same(failures.map(f => f.user), ['alice', 'mallory', 'alice'], 'with the user name tried')
  t.notOk(JSON.stringify(logs.entries).includes('alice-secre'), 'no password in the log')
})

t.test('a listener on a non-loopback address refuses anonymous clients unless allowed, and says so at start', async t => {
  const dir = await tempDir(t)
  const logs = new LogCapture()
  const bob = await hashPassword('bob-pw', FAST)
  const gw = await startGateway(t, securityConfig(join(dir, 'data'), `listeners:
  - { host: 0.0.0.0, port: 0 }
  - { host: 0.0.0.0, port: 0, allowAnonymous: true }
  - { host: 127.0.0.1, port: 0 }
auth:
  users:
    - { name: bob, password: "${bob}" }`), { logger: logs.logger })

  const [open, explicit, loopback] = [portOf(gw, 0), portOf(gw, 1), portOf(gw, 2)]
  t.equal(await connectCode(open, {}), 5, '0.0.0.0: anonymous refused (not authorized)')
  t.equal(await connectCode(open, { username: 'bob', password: 'bob-pw' }), 0, '0.0.0.0: a user logs in')
  t.equal(await connectCode(explicit, {}), 0, '0.0.0.0 with allowAnonymous: true: anonymous accepted')
  t.equal(await connectCode(loopback, {}), 0, '127.0.0.1: anonymous accepted by default')
  t.equal(securityOf(gw.broker)?.stats().authFailures.anonymous, 1, 'the refusal is counted')

  const announced = logs.events('listener-security')
  t.equal(announced.length, 3, 'one startup line per listener')
  t.match(announced[0], { anonymous: false, loopback: false, level: 30, msg: /anonymous clients refused on mqtt:\/\/0\.0\.0\.0:\d+ \(not a loopback address\)/ })
  t.match(announced[1], { anonymous: true, loopback: false, level: 40, msg: /anonymous clients ALLOWED on mqtt:\/\/0\.0\.0\.0:\d+/ })
  t.match(announced[2], { anonymous: true, loopback: true, msg: /anonymous clients allowed on mqtt:\/\/127\.0\.0\.1:\d+ \(loopback\)/ })
})

t.test('broker.auth.allowAnonymous: false refuses anonymous clients on loopback too', async t => {
  const dir = await tempDir(t)
  const gw = await startGateway(t, securityConfig(join(dir, 'data'), `listeners:
  - port: 0
auth:
  allowAnonymous: false`))
  t.equal(await connectCode(portOf(gw), {}), 5, 'anonymous refused')
  t.equal(await connectCode(portOf(gw), { username: 'someone', password: 'x' }), 4, 'with no users, any user name is refused')
})

t.test('the password file is read again when it changes; a broken file keeps the users read before', async t => {
  const dir = await tempDir(t)
  const file = join(dir, 'passwd')
  const line = async (user: string, pw: string): Promise<string> => `${user}:${await hashPassword(pw, FAST)}\n`
  await writeFile(file, `# flowgate users\n${await line('bob', 'one')}`)
  const logs = new LogCapture()
  const gw = await startGateway(t, securityConfig(join(dir, 'data'), `listeners:
  - { port: 0, allowAnonymous: false }
auth:
  passwordFile: ${JSON.stringify(file)}`), { logger: logs.logger })
  const port = portOf(gw)
  t.equal(await connectCode(port, { username: 'bob', password: 'one' }), 0, 'bob logs in with the password in the file')

  // an editor's save: write elsewhere, rename over the file
  const reloaded = logs.waitFor(e => e.event === 'password-file-reloaded')
  await writeFile(`${file}.tmp`, (await line('bob', 'two')) + (await line('carol', 'three')))
  await rename(`${file}.tmp`, file)
  t.match(await reloaded, { count: 2 }, 'the change is noticed and logged')
  t.equal(await connectCode(port, { username: 'bob', password: 'one' }), 4, 'the old password no longer works')
  t.equal(await connectCode(port, { username: 'bob', password: 'two' }), 0, 'the new one does')
  t.equal(await connectCode(port, { username: 'carol', password: 'three' }), 0, 'a new user logs in')

  // an in-place write with a bad line: logged by line number, the users stay as they were
  const failed = logs.waitFor(e => e.event === 'password-file-error')
  await writeFile(file, 'carol:not-a-hash-at-all\n')
  const error = await failed
  t.match(error, { issues: [{ line: 1 }] }, 'the bad line is named')
  t.notOk(JSON.stringify(error).includes('not-a-hash'), 'its content is not echoed')
  t.equal(await connectCode(port, { username: 'carol', password: 'three' }), 0, 'carol still logs in')
})

t.test('flowgate passwd hashes a password read from stdin', async t => {
  const proc = spawn(process.execPath, [cliPath, 'passwd', '--user', 'dave', '--cost', '1024'], { stdio: ['pipe', 'pipe', 'pipe'] })
  let out = ''
  proc.stdout.on('data', (d: Buffer) => { out += d.toString() })
  proc.stdin.end('d4ve-pw\n')
  const code = await new Promise<number | null>(resolve => proc.once('exit', c => resolve(c)))
  t.equal(code, 0)
  t.match(out, /^dave:scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+\n$/, 'a user:hash line')
  t.notOk(out.includes('d4ve-pw'), 'the password is not printed')

  const dir = await tempDir(t)
  const file = join(dir, 'passwd')
  await writeFile(file, out)
  const gw = await startGateway(t, securityConfig(join(dir, 'data'), `listeners:
  - port: 0
auth:
  passwordFile: ${JSON.stringify(file)}`))
  t.equal(await connectCode(portOf(gw), { username: 'dave', password: 'd4ve-pw' }), 0, 'the hash works')
})

/**
 * Runs `flowgate passwd` on a pseudo-terminal (util-linux `script`), typing each answer and Enter
 * once its prompt is on the screen. Resolves with the exit code and everything the terminal
 * showed, echo included.
 */
async function passwdAtTerminal (answers: string[]): Promise<{ code: number | null, screen: string }> {
  const command = [process.execPath, cliPath, 'passwd', '--cost', '1024'].map(a => `'${a}'`).join(' ')
  const proc = spawn('script', ['-qfec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] })
  const prompts = ['Password: ', 'Again: ']
  let screen = ''
  let asked = 0
  const onOutput = (d: Buffer): void => {
    screen += d.toString()
    // answer a prompt only once it is on the screen: typed earlier, the terminal would still echo it
    while (asked < answers.length && screen.includes(prompts[asked] as string)) {
      proc.stdin.write(`${answers[asked] as string}\r`)
      asked++
    }
  }
  proc.stdout.on('data', onOutput)
  proc.stderr.on('data', onOutput)
  const code = await new Promise<number | null>(resolve => proc.once('exit', c => resolve(c)))
  return { code, screen }
}

const hasScript = spawnSync('script', ['--version']).status === 0

t.test('flowgate passwd at a terminal asks twice and shows neither answer', { skip: hasScript ? false : 'util-linux `script` (a pseudo-terminal) is not installed' }, async t => {
  const { code, screen } = await passwdAtTerminal(['s3cret-at-tty', 's3cret-at-tty'])
  t.equal(code, 0, screen)
  t.notOk(screen.includes('s3cret'), 'the password is not echoed')
  const hash = /scrypt\$\S+/.exec(screen)?.[0]
  t.ok(hash, 'a hash is printed')
  t.ok(await verifyPassword('s3cret-at-tty', parseHash(hash ?? '')), 'the hash is of the typed password')

  // pasted at the first prompt, both answers at once: the second is kept for the second prompt
  const pasted = await passwdAtTerminal(['pasted-pw\r\npasted-pw'])
  t.equal(pasted.code, 0, pasted.screen)
  t.notOk(pasted.screen.includes('pasted'), 'a pasted password is not echoed')
  t.ok(await verifyPassword('pasted-pw', parseHash(/scrypt\$\S+/.exec(pasted.screen)?.[0] ?? '')), 'and is hashed without its line ending')

  const differ = await passwdAtTerminal(['first-answer', 'second-answer'])
  t.equal(differ.code, 2, 'two different answers are refused')
  t.match(differ.screen, /differ/, 'with the reason')
  t.notOk(differ.screen.includes('answer'), 'neither answer is echoed')
  t.notOk(/scrypt\$/.test(differ.screen), 'and no hash is printed')
})
