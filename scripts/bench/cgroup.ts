/**
 * A memory ceiling for one benchmarked process: a child cgroup of this
 * process's own with a memory limit, through cgroup v2 when its memory
 * controller is available here, else through the cgroup v1 memory controller.
 * Where neither can be made, `kind` is 'none' and `reason` says why: the
 * benchmark then reports RSS only.
 */
import { existsSync } from 'node:fs'
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

export interface CeilingStats {
  /** Highest memory use the cgroup saw (RSS and page cache charged to it), bytes. */
  peak?: number
  /** Times the use reached the limit (the kernel then reclaims page cache first). */
  limitHits?: number
  /** Processes the kernel killed for want of memory in the cgroup. */
  oomKills?: number
}

export interface MemoryCeiling {
  kind: 'cgroup v2' | 'cgroup v1' | 'none'
  /** The cgroup directory, or why there is none. */
  where: string
  /** The command to run instead of `argv`, placing the process in the cgroup before it starts. */
  wrap (argv: readonly string[]): string[]
  stats (): Promise<CeilingStats>
  /** Removes the cgroup (once its processes have exited). */
  close (): Promise<void>
}

interface Mount {
  /** Where it is mounted. */
  point: string
  /** The cgroup it shows at that point (not / inside some containers). */
  fsRoot: string
  type: string
  options: string[]
}

async function mounts (): Promise<Mount[]> {
  const text = await readFile('/proc/self/mountinfo', 'utf8').catch(() => '')
  return text.split('\n').filter(Boolean).map(line => {
    const [left, right] = line.split(' - ')
    const fields = (left ?? '').split(' ')
    const [type, , superOptions] = (right ?? '').split(' ')
    return { point: fields[4] ?? '', fsRoot: fields[3] ?? '/', type: type ?? '', options: (superOptions ?? '').split(',') }
  })
}

/** This process's cgroup path for a v1 controller, or for v2 (`controller` undefined). */
async function ownPath (controller?: string): Promise<string | undefined> {
  const text = await readFile('/proc/self/cgroup', 'utf8').catch(() => '')
  for (const line of text.split('\n')) {
    const [id, controllers, path] = line.split(':')
    if (controller === undefined ? id === '0' && controllers === '' : (controllers ?? '').split(',').includes(controller)) return path
  }
  return undefined
}

/** The directory of cgroup `path` under `mount`. */
function cgroupDir (mount: Mount, path: string): string {
  const rel = mount.fsRoot !== '/' && path.startsWith(mount.fsRoot) ? path.slice(mount.fsRoot.length) : path
  return join(mount.point, rel)
}

const read = async (file: string): Promise<string | undefined> => await readFile(file, 'utf8').then(s => s.trim(), () => undefined)
const num = (s: string | undefined): number | undefined => s === undefined || !/^[0-9]+$/.test(s) ? undefined : Number(s)
const field = (text: string | undefined, key: string): number | undefined => num(new RegExp(`^${key} ([0-9]+)$`, 'm').exec(text ?? '')?.[1])

function wrapper (procs: string): (argv: readonly string[]) => string[] {
  // the shell joins the cgroup, then becomes the command: same process, so its children follow
  return argv => ['sh', '-c', 'echo $$ > "$0" && exec "$@"', procs, ...argv]
}

async function tryV2 (bytes: number, name: string): Promise<MemoryCeiling | string> {
  const mount = (await mounts()).find(m => m.type === 'cgroup2')
  const own = await ownPath()
  if (mount === undefined || own === undefined) return 'no cgroup2 hierarchy'
  const base = cgroupDir(mount, own)
  const controllers = await read(join(base, 'cgroup.controllers'))
  if (controllers === undefined || !controllers.split(' ').includes('memory')) return `cgroup2 at ${mount.point} has no memory controller (controllers: ${controllers ?? 'none'})`
  const dir = join(base, name)
  try {
    await mkdir(dir)
    if (!((await read(join(dir, 'cgroup.controllers'))) ?? '').split(' ').includes('memory')) {
      await writeFile(join(base, 'cgroup.subtree_control'), '+memory')
    }
    await writeFile(join(dir, 'memory.max'), String(bytes))
    if (existsSync(join(dir, 'memory.swap.max'))) await writeFile(join(dir, 'memory.swap.max'), '0')
  } catch (err) {
    await rmdir(dir).catch(() => {})
    return `cgroup2 memory limit cannot be set in ${base} (${(err as NodeJS.ErrnoException).code ?? String(err)})`
  }
  return {
    kind: 'cgroup v2',
    where: dir,
    wrap: wrapper(join(dir, 'cgroup.procs')),
    async stats () {
      const events = await read(join(dir, 'memory.events'))
      const peak = num(await read(join(dir, 'memory.peak')))
      const limitHits = field(events, 'max')
      const oomKills = field(events, 'oom_kill')
      return { ...(peak !== undefined ? { peak } : {}), ...(limitHits !== undefined ? { limitHits } : {}), ...(oomKills !== undefined ? { oomKills } : {}) }
    },
    close: async () => await rmdir(dir).catch(() => {})
  }
}

async function tryV1 (bytes: number, name: string): Promise<MemoryCeiling | string> {
  const mount = (await mounts()).find(m => m.type === 'cgroup' && m.options.includes('memory'))
  const own = await ownPath('memory')
  if (mount === undefined || own === undefined) return 'no cgroup v1 memory controller'
  const base = cgroupDir(mount, own)
  const dir = join(base, name)
  try {
    await mkdir(dir)
    await writeFile(join(dir, 'memory.limit_in_bytes'), String(bytes))
    // no swap beyond the limit either, where swap accounting exists
    if (existsSync(join(dir, 'memory.memsw.limit_in_bytes'))) await writeFile(join(dir, 'memory.memsw.limit_in_bytes'), String(bytes))
  } catch (err) {
    await rmdir(dir).catch(() => {})
    return `cgroup v1 memory limit cannot be set in ${base} (${(err as NodeJS.ErrnoException).code ?? String(err)})`
  }
  return {
    kind: 'cgroup v1',
    where: dir,
    wrap: wrapper(join(dir, 'cgroup.procs')),
    async stats () {
      const peak = num(await read(join(dir, 'memory.max_usage_in_bytes')))
      const limitHits = num(await read(join(dir, 'memory.failcnt')))
      const oomKills = field(await read(join(dir, 'memory.oom_control')), 'oom_kill')
      return { ...(peak !== undefined ? { peak } : {}), ...(limitHits !== undefined ? { limitHits } : {}), ...(oomKills !== undefined ? { oomKills } : {}) }
    },
    close: async () => await rmdir(dir).catch(() => {})
  }
}

export async function memoryCeiling (bytes: number, name: string): Promise<MemoryCeiling> {
  const v2 = await tryV2(bytes, name)
  if (typeof v2 !== 'string') return v2
  const v1 = await tryV1(bytes, name)
  if (typeof v1 !== 'string') return v1
  return { kind: 'none', where: `${v2}; ${v1}`, wrap: argv => [...argv], stats: async () => ({}), close: async () => {} }
}
