/**
 * Which prebuilt native binary a Raspberry Pi would load: the matching rules of
 * the two loaders our native dependencies use (node-gyp-build for classic-level,
 * node-gyp-build-optional-packages for cbor-extract), applied to a target
 * instead of the running process, and the CPU a binary was built for, read from
 * its ELF header. Pure: file names and bytes in, verdicts out.
 */

export interface Target {
  /** `linux-arm64`, `linux-arm`: Node's platform-arch. */
  platform: 'linux'
  arch: 'arm64' | 'arm'
  /** ARM architecture version of the board: 8 (64-bit), 7 (Pi 2/3/4 on 32-bit OS), 6 (Pi Zero/1). */
  armv: 6 | 7 | 8
  libc: 'glibc'
  label: string
}

export const TARGETS: readonly Target[] = [
  { platform: 'linux', arch: 'arm64', armv: 8, libc: 'glibc', label: 'linux-arm64 (Pi 3/4/5/Zero 2 W, 64-bit OS)' },
  { platform: 'linux', arch: 'arm', armv: 7, libc: 'glibc', label: 'linux-arm armv7 (Pi 2/3/4, 32-bit OS)' },
  { platform: 'linux', arch: 'arm', armv: 6, libc: 'glibc', label: 'linux-arm armv6 (Pi Zero/1, 32-bit OS)' }
]

/** Node majors we support and their module ABI (process.versions.modules). */
export const NODE_ABIS: Readonly<Record<number, string>> = { 20: '115', 22: '127', 24: '137' }

/** `lenient`: node-gyp-build (untagged files match any runtime and ABI); `strict`: node-gyp-build-optional-packages. */
export type Loader = 'lenient' | 'strict'

interface Tags { file: string, runtime?: string, napi?: boolean, abi?: string, armv?: string, libc?: string, specificity: number }

/** Tags in a prebuild's file name (`node.napi.armv7.glibc.node`), as both loaders read them. */
export function parseTags (file: string): Tags | undefined {
  const parts = file.split('.')
  if (parts.pop() !== 'node') return undefined
  const tags: Tags = { file, specificity: 0 }
  for (const tag of parts) {
    if (tag === 'node' || tag === 'electron' || tag === 'node-webkit') tags.runtime = tag
    else if (tag === 'napi') tags.napi = true
    else if (tag.startsWith('abi')) tags.abi = tag.slice(3)
    else if (tag.startsWith('armv')) tags.armv = tag.slice(4)
    else if (tag === 'glibc' || tag === 'musl') tags.libc = tag
    else continue
    tags.specificity++
  }
  return tags
}

function matches (tags: Tags, target: Target, abi: string, loader: Loader): boolean {
  const agnostic = tags.runtime === 'node' && tags.napi === true
  if (loader === 'strict') {
    if (tags.runtime !== 'node' && !agnostic) return false
    if (tags.abi !== abi && tags.napi !== true) return false
  } else {
    if (tags.runtime !== undefined && tags.runtime !== 'node' && !agnostic) return false
    if (tags.abi !== undefined && tags.abi !== abi && tags.napi !== true) return false
  }
  if (tags.armv !== undefined && tags.armv !== String(target.armv)) return false
  if (tags.libc !== undefined && tags.libc !== target.libc) return false
  return true
}

/** The file the loader would pick for `target` on Node with module ABI `abi`, if any. */
export function pickPrebuild (files: readonly string[], target: Target, abi: string, loader: Loader): string | undefined {
  const candidates = files.map(parseTags).filter((t): t is Tags => t !== undefined && matches(t, target, abi, loader))
  candidates.sort((a, b) => {
    if (a.runtime !== b.runtime) return a.runtime === 'node' ? -1 : 1
    if (a.abi !== b.abi) return a.abi !== undefined ? -1 : 1
    return b.specificity - a.specificity
  })
  return candidates[0]?.file
}

/** The `prebuilds/` folder (`linux-arm64`, `darwin-x64+arm64`) node-gyp-build would look in. */
export function pickTupleDir (dirs: readonly string[], target: Target): string | undefined {
  return dirs
    .map(name => ({ name, parts: name.split('-') }))
    .filter(d => d.parts.length === 2 && d.parts[0] === target.platform && (d.parts[1] ?? '').split('+').includes(target.arch))
    .sort((a, b) => (a.parts[1] ?? '').split('+').length - (b.parts[1] ?? '').split('+').length)[0]?.name
}

const EM_ARM = 40
const EM_AARCH64 = 183
/** Tag_CPU_arch values (ARM IHI 0045, "Addenda to the ARM ABI") a Pi's CPU runs. */
const ARM_CPU_ARCH_NAMES: Readonly<Record<number, string>> = { 1: 'v4', 2: 'v4T', 3: 'v5T', 4: 'v5TE', 5: 'v5TEJ', 6: 'v6', 7: 'v6KZ', 8: 'v6T2', 9: 'v6K', 10: 'v7', 14: 'v8' }

export interface ElfArch { machine: 'arm' | 'arm64' | 'other', cpuArch?: number, cpuArchName?: string }

function uleb (buf: Buffer, at: number): [number, number] {
  let value = 0
  let shift = 0
  let pos = at
  for (;;) {
    const byte = buf[pos++] ?? 0
    value += (byte & 0x7f) * 2 ** shift
    shift += 7
    if ((byte & 0x80) === 0 || pos >= buf.length) return [value, pos]
  }
}

/** Tag_CPU_arch from an `.ARM.attributes` section ("aeabi" vendor, file scope). */
function armCpuArch (sec: Buffer): number | undefined {
  if (sec[0] !== 0x41) return undefined // 'A': format version
  let at = 1
  while (at + 4 <= sec.length) {
    const len = sec.readUInt32LE(at)
    const end = at + len
    const nameEnd = sec.indexOf(0, at + 4)
    const vendor = sec.subarray(at + 4, nameEnd).toString('latin1')
    if (vendor === 'aeabi') {
      let p = nameEnd + 1
      while (p < end) {
        const scope = sec[p] ?? 0
        const size = sec.readUInt32LE(p + 1)
        if (scope === 1) {
          let q = p + 5
          while (q < p + size) {
            const [tag, next] = uleb(sec, q)
            q = next
            if (tag === 6) return uleb(sec, q)[0]
            // NUL-terminated strings: Tag_CPU_raw_name (4), Tag_CPU_name (5), Tag_conformance (67), odd tags >= 32
            if (tag === 4 || tag === 5 || tag === 67 || (tag >= 32 && tag % 2 === 1)) q = sec.indexOf(0, q) + 1
            else if (tag === 32) q = sec.indexOf(0, uleb(sec, q)[1]) + 1 // Tag_compatibility: a number, then a string
            else q = uleb(sec, q)[1]
          }
        }
        p += size
      }
    }
    at = end
  }
  return undefined
}

/** The machine an ELF shared object is for and, for 32-bit ARM, the architecture version it was built for. */
export function elfArch (buf: Buffer): ElfArch {
  if (buf.length < 52 || buf.readUInt32BE(0) !== 0x7f454c46) return { machine: 'other' }
  const is64 = buf[4] === 2
  const machine = buf.readUInt16LE(18)
  if (machine === EM_AARCH64) return { machine: 'arm64' }
  if (machine !== EM_ARM || is64) return { machine: 'other' }
  const shoff = buf.readUInt32LE(32)
  const shentsize = buf.readUInt16LE(46)
  const shnum = buf.readUInt16LE(48)
  const shstrndx = buf.readUInt16LE(50)
  const section = (i: number): { name: number, offset: number, size: number } => {
    const h = shoff + i * shentsize
    return { name: buf.readUInt32LE(h), offset: buf.readUInt32LE(h + 16), size: buf.readUInt32LE(h + 20) }
  }
  if (shoff === 0 || shoff + shnum * shentsize > buf.length) return { machine: 'arm' }
  const names = section(shstrndx)
  for (let i = 0; i < shnum; i++) {
    const s = section(i)
    const nameEnd = buf.indexOf(0, names.offset + s.name)
    if (buf.subarray(names.offset + s.name, nameEnd).toString('latin1') === '.ARM.attributes') {
      const cpuArch = armCpuArch(buf.subarray(s.offset, s.offset + s.size))
      return cpuArch === undefined ? { machine: 'arm' } : { machine: 'arm', cpuArch, cpuArchName: ARM_CPU_ARCH_NAMES[cpuArch] ?? `#${cpuArch}` }
    }
  }
  return { machine: 'arm' }
}

/** Whether a binary built for `elf` runs on `target`'s CPU; the reason when not. */
export function runsOn (elf: ElfArch, target: Target): { ok: boolean, reason?: string } {
  if (target.arch === 'arm64') return elf.machine === 'arm64' ? { ok: true } : { ok: false, reason: `not an AArch64 binary (${elf.machine})` }
  if (elf.machine !== 'arm') return { ok: false, reason: `not a 32-bit ARM binary (${elf.machine})` }
  if (elf.cpuArch === undefined) return { ok: false, reason: 'no ARM architecture attribute' }
  // ARMv6 boards (ARM1176JZF-S: ARMv6KZ) lack Thumb-2 (v6T2) and everything from v7 on
  const ok = target.armv === 6 ? elf.cpuArch <= 9 && elf.cpuArch !== 8 : elf.cpuArch <= 10
  return ok ? { ok } : { ok, reason: `built for ARM${elf.cpuArchName ?? elf.cpuArch}` }
}
