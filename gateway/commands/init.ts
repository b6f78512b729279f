import { randomBytes } from 'node:crypto'
import { chmod, chown, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { hostname } from 'node:os'
import { join, resolve } from 'node:path'
import { distPath, starterConfig } from '../../config/index.js'
import { EXIT_OK, FlowgateError } from '../errors.js'
import { GATEWAY_NODE_FLAGS } from '../runtime.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

/** The unit shipped in the package, and the command it starts. */
const UNIT_FILE = distPath('../config/flowgate.service')
/** The `flowgate` command (package.json's bin): the bundled command. */
const CLI = distPath('gateway/flowgate.js')
/** The data directory of the unit's StateDirectory=flowgate. */
const SERVICE_DATA_DIR = '/var/lib/flowgate'
/** The user the unit runs as. */
const SERVICE_USER = 'flowgate'

/** One ExecStart word: quoted when it holds white space or quotes, `%` doubled (systemd.service "Command lines"). */
function unitWord (word: string): string {
  const escaped = word.replace(/%/g, '%%')
  return /[\s"'\\]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped
}

/**
 * The shipped unit with this installation's paths: the node running now, its
 * runtime flags, this package's command (flowgate.js), the config file and the environment
 * file beside it. Paths under /home or /root need ProtectHome=read-only.
 */
export function renderUnit (template: string, paths: { node: string, cli: string, config: string }): string {
  const dir = resolve(paths.config, '..')
  const execStart = [paths.node, ...GATEWAY_NODE_FLAGS, paths.cli, 'start', '--config', paths.config].map(unitWord).join(' ')
  const inHome = [paths.node, paths.cli, paths.config].some(p => /^\/(home|root|run\/user)(\/|$)/.test(p))
  return template
    .replace(/^ExecStart=.*$/m, `ExecStart=${execStart}`)
    .replace(/^EnvironmentFile=.*$/m, `EnvironmentFile=-${unitWord(join(dir, 'flowgate.env'))}`)
    .replace(/^ProtectHome=yes$/m, inHome ? 'ProtectHome=read-only' : 'ProtectHome=yes')
}

/** The group id of `name` from /etc/group, if there is such a group. */
async function groupId (name: string): Promise<number | undefined> {
  const text = await readFile('/etc/group', 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    const [group, , gid] = line.split(':')
    if (group === name && gid !== undefined && /^[0-9]+$/.test(gid)) return Number(gid)
  }
  return undefined
}

/** Writes `text` to `file` with `mode`, atomically; without `force`, never over an existing file. */
async function writeNew (file: string, text: string, mode: number, force: boolean): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`
  await writeFile(tmp, text, { mode, flag: 'wx' })
  try {
    await chmod(tmp, mode) // the umask may have taken bits away
    if (force) {
      await rename(tmp, file)
      return
    }
    try {
      await link(tmp, file) // fails when the file exists, whoever made it meanwhile
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw new FlowgateError('FG_ERR_FILE_EXISTS', `${file} exists; nothing was written (--force overwrites it)`)
      }
      throw err
    }
  } finally {
    await rm(tmp, { force: true })
  }
}

export const init: Command = {
  usage: 'init [--dir DIR] [--force] [--systemd]   write a commented starter config, DIR/flowgate.yaml; --systemd: for the service, and print its unit',
  async run (args) {
    const { values } = parseOptions(args, { dir: { type: 'string', short: 'd' }, force: { type: 'boolean' }, systemd: { type: 'boolean' } })
    const dir = resolve(typeof values.dir === 'string' ? values.dir : '.')
    const service = values.systemd === true
    const file = join(dir, 'flowgate.yaml')
    const text = starterConfig({
      gatewayId: hostname(),
      dataDir: service ? SERVICE_DATA_DIR : join(dir, 'flowgate-data'),
      adminToken: randomBytes(32).toString('base64url'),
      service
    })
    const unit = service ? renderUnit(await readFile(UNIT_FILE, 'utf8'), { node: process.execPath, cli: CLI, config: file }) : undefined
    try {
      await mkdir(dir, { recursive: true })
    } catch (cause) {
      throw new FlowgateError('FG_ERR_USAGE', `cannot create ${dir} (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause })
    }
    // the file holds the admin token: readable by its owner (and, for the service, its group) only
    await writeNew(file, text, 0o600, values.force === true)
    const note = (line: string): void => { process.stderr.write(`${line}\n`) }
    note(`flowgate init: wrote ${file} (with a new admin token; mode 600)`)
    if (unit === undefined) {
      note(`check it:  flowgate check-config --config ${file}\nrun it:    flowgate start --config ${file}`)
      return EXIT_OK
    }
    const gid = await groupId(SERVICE_USER)
    if (gid !== undefined && process.getuid?.() === 0) {
      await chown(file, 0, gid)
      await chmod(file, 0o640)
      note(`flowgate init: ${file} is readable by the group ${SERVICE_USER} (mode 640)`)
    } else {
      note(`flowgate init: the service runs as the user ${SERVICE_USER}; create it and let it read the config:\n` +
        `  sudo useradd --system --user-group --home-dir ${SERVICE_DATA_DIR} --no-create-home --shell /usr/sbin/nologin ${SERVICE_USER}\n` +
        `  sudo chgrp ${SERVICE_USER} ${file} && sudo chmod 640 ${file}`)
    }
    note('flowgate init: the systemd unit is on stdout: save it as /etc/systemd/system/flowgate.service, then\n' +
      '  sudo systemctl daemon-reload && sudo systemctl enable --now flowgate')
    process.stdout.write(unit)
    return EXIT_OK
  }
}
