/**
 * check:prebuilds — every native package of the production install has a
 * prebuilt binary that a Raspberry Pi loads, for each Node major we support,
 * so installing there never needs a compiler (npm 11 does not even run install
 * scripts unless allowed). Reads package-lock.json: the native packages are the
 * production ones with an install script. A binary comes either from the
 * package's own prebuilds/ folder (node-gyp-build) or from a platform package
 * fetched from the registry (node-gyp-build-optional-packages). Each binary is
 * chosen by the loader's own rules and its ELF header must be for the board's CPU.
 *
 *   npm run check:prebuilds [-- --json]
 *
 * Exit 1 when linux-arm64 or linux-arm armv7 lacks a binary on any supported
 * Node; armv6 (Pi Zero/1) is reported, not required (Node.js publishes no
 * official armv6 builds).
 */
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { elfArch, NODE_ABIS, pickPrebuild, pickTupleDir, runsOn, TARGETS, type Loader, type Target } from './prebuilds.js'

const run = promisify(execFile)

interface LockEntry { version?: string, dev?: boolean, hasInstallScript?: boolean, optionalDependencies?: Record<string, string> }

interface Verdict { pkg: string, version: string, target: string, required: boolean, node: number, file?: string, ok: boolean, reason?: string }

/** Downloads `name@version` from the registry and unpacks it; returns the package folder. */
async function fetchPackage (name: string, version: string, into: string): Promise<string> {
  const dest = await mkdtemp(join(into, 'pkg-'))
  const { stdout } = await run('npm', ['pack', `${name}@${version}`, '--pack-destination', dest, '--silent'], { cwd: dest })
  const tarball = stdout.trim().split('\n').pop() as string
  await run('tar', ['xzf', join(dest, tarball), '-C', dest])
  return join(dest, 'package')
}

/** Where a native package's binaries for `target` are, and which loader rules pick among them. */
async function binariesFor (root: string, path: string, name: string, entry: LockEntry, target: Target, scratch: string): Promise<{ dir?: string, files: string[], loader: Loader, reason?: string }> {
  const dir = join(root, path)
  const manifest = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> }
  const deps = manifest.dependencies ?? {}
  if ('node-gyp-build-optional-packages' in deps) {
    const platformPackage = `${name.startsWith('@') ? '' : `@${name}/`}${name}-${target.platform}-${target.arch}`
    const version = entry.optionalDependencies?.[platformPackage]
    if (version === undefined) return { files: [], loader: 'strict', reason: `no platform package ${platformPackage}` }
    try {
      const fetched = await fetchPackage(platformPackage, version, scratch)
      return { dir: fetched, files: await readdir(fetched), loader: 'strict' }
    } catch (err) {
      return { files: [], loader: 'strict', reason: `${platformPackage}@${version} cannot be fetched (${(err as Error).message.split('\n')[0] ?? ''})` }
    }
  }
  if ('node-gyp-build' in deps) {
    const prebuilds = join(dir, 'prebuilds')
    const tuple = pickTupleDir(await readdir(prebuilds).catch(() => []), target)
    if (tuple === undefined) return { files: [], loader: 'lenient', reason: `no prebuilds/${target.platform}-${target.arch}` }
    return { dir: join(prebuilds, tuple), files: await readdir(join(prebuilds, tuple)), loader: 'lenient' }
  }
  return { files: [], loader: 'strict', reason: 'builds from source or downloads at install time (no loader of prebuilt binaries)' }
}

async function checkPrebuilds (root: string): Promise<Verdict[]> {
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> }
  const native = Object.entries(lock.packages).filter(([path, e]) => path !== '' && e.dev !== true && e.hasInstallScript === true)
  const scratch = await mkdtemp(join(tmpdir(), 'flowgate-prebuilds-'))
  const verdicts: Verdict[] = []
  try {
    for (const [path, entry] of native) {
      const name = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length)
      const version = entry.version ?? '?'
      for (const target of TARGETS) {
        await mkdir(scratch, { recursive: true })
        const found = await binariesFor(root, path, name, entry, target, scratch)
        for (const [major, abi] of Object.entries(NODE_ABIS)) {
          const base = { pkg: name, version, target: target.label, required: target.armv !== 6, node: Number(major) }
          const file = pickPrebuild(found.files, target, abi, found.loader)
          if (file === undefined || found.dir === undefined) {
            verdicts.push({ ...base, ok: false, reason: found.reason ?? `no binary the loader picks for ABI ${abi}` })
            continue
          }
          const fits = runsOn(elfArch(await readFile(join(found.dir, file))), target)
          verdicts.push({ ...base, file, ok: fits.ok, ...(fits.reason !== undefined ? { reason: fits.reason } : {}) })
        }
      }
    }
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  return verdicts
}

async function main (): Promise<void> {
  const root = process.cwd()
  const verdicts = await checkPrebuilds(root)
  const failed = verdicts.filter(v => v.required && !v.ok)
  if (process.argv.includes('--json')) {
    process.stdout.write(JSON.stringify(verdicts) + '\n')
  } else {
    for (const v of verdicts) {
      const mark = v.ok ? 'ok  ' : v.required ? 'FAIL' : 'none'
      process.stdout.write(`${mark} ${`${v.pkg}@${v.version}`.padEnd(22)} ${v.target.padEnd(44)} node ${v.node}: ${v.file ?? ''}${v.reason !== undefined ? ` (${v.reason})` : ''}\n`)
    }
    const pkgs = new Set(verdicts.map(v => v.pkg))
    process.stdout.write(`${pkgs.size} native package(s) in the production install: ${[...pkgs].join(', ')}; ` +
      (failed.length === 0 ? 'each has a prebuilt binary for linux-arm64 and linux-arm (armv7) on Node 20, 22 and 24\n' : `${failed.length} required binaries missing\n`))
  }
  process.exitCode = failed.length === 0 ? 0 : 1
}

await main()
