import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import t from 'tap'
import { elfArch, pickPrebuild, pickTupleDir, runsOn, TARGETS } from '../../scripts/prebuilds.js'
import { repoRoot } from '../helpers/paths.js'

const [arm64, armv7, armv6] = TARGETS as [typeof TARGETS[0], typeof TARGETS[0], typeof TARGETS[0]]
const cborExtract = ['index.js', 'package.json', 'node.abi137.glibc.node', 'node.abi137.musl.node', 'node.napi.glibc.node', 'node.napi.musl.node']

t.test('picks the binary each loader would load', async t => {
  t.equal(pickPrebuild(cborExtract, arm64, '115', 'strict'), 'node.napi.glibc.node', 'Node 20: N-API, glibc')
  t.equal(pickPrebuild(cborExtract, arm64, '137', 'strict'), 'node.abi137.glibc.node', 'Node 24: its own ABI first')
  t.equal(pickPrebuild(['node.abi137.glibc.node'], arm64, '127', 'strict'), undefined, 'another ABI only: none')
  t.equal(pickPrebuild(['cbor.glibc.node'], arm64, '115', 'strict'), undefined, 'untagged runtime: the strict loader takes none')
  t.equal(pickPrebuild(['classic-level.armv8.node'], arm64, '115', 'lenient'), 'classic-level.armv8.node', 'untagged runtime: node-gyp-build takes it')
  t.equal(pickPrebuild(['classic-level.armv6.node', 'classic-level.armv7.node'], armv7, '127', 'lenient'), 'classic-level.armv7.node')
  t.equal(pickPrebuild(['classic-level.armv6.node', 'classic-level.armv7.node'], armv6, '127', 'lenient'), 'classic-level.armv6.node')
  t.equal(pickPrebuild(['x.musl.node'], arm64, '115', 'lenient'), undefined, 'musl is not Raspberry Pi OS')
})

t.test('picks the prebuilds/ folder node-gyp-build would look in', async t => {
  const dirs = ['android-arm64', 'darwin-x64+arm64', 'linux-arm', 'linux-arm64', 'linux-x64']
  t.equal(pickTupleDir(dirs, arm64), 'linux-arm64')
  t.equal(pickTupleDir(dirs, armv7), 'linux-arm')
  t.equal(pickTupleDir(['linux-x64'], arm64), undefined)
})

t.test('reads the CPU a binary is built for from its ELF header', async t => {
  const prebuilds = join(repoRoot, 'node_modules', 'classic-level', 'prebuilds')
  const read = async (f: string): Promise<Buffer> => await readFile(join(prebuilds, f))
  const a64 = elfArch(await read('linux-arm64/classic-level.armv8.node'))
  t.same(a64, { machine: 'arm64' })
  const v7 = elfArch(await read('linux-arm/classic-level.armv7.node'))
  t.same([v7.machine, v7.cpuArchName], ['arm', 'v7'])
  const v6 = elfArch(await read('linux-arm/classic-level.armv6.node'))
  t.equal(v6.machine, 'arm')
  t.ok(runsOn(v6, armv6).ok, `the armv6 build runs on a Pi Zero (ARM${v6.cpuArchName ?? '?'})`)
  t.same(runsOn(v7, armv6), { ok: false, reason: 'built for ARMv7' }, 'an ARMv7 build does not')
  t.ok(runsOn(v7, armv7).ok)
  t.notOk(runsOn(v7, arm64).ok, 'a 32-bit binary is not for a 64-bit OS')
  t.same(elfArch(await read('linux-x64/classic-level.node')), { machine: 'other' })
  t.same(elfArch(Buffer.from('not an ELF file at all, but long enough to have a header..')), { machine: 'other' })
})
