/**
 * Bundles the `flowgate` command: the build's own modules (dist/gateway/cli.js and everything it
 * imports, lazily loaded parts as their own chunks) and the pure-JavaScript packages they use
 * into a few files, dist/gateway/flowgate.js and dist/gateway/flowgate-*.js. Node's module loader
 * reads, resolves and compiles each module file on its own: for the ~200 files of the build that
 * was about a sixth of the time from start to ready on one core, and the ~250 files of the
 * packages on the way to ready (yaml alone has 72, aedes and mqtt-packet with their streams
 * some 60, pino 30) took another 0.07-0.09 s of 0.47-0.62 s. Bundled, a start loads a handful.
 *
 * Whitespace is left out: the modules' source text stays in the V8 heap for as long as the
 * gateway runs (idle RSS was 0.8 MiB lower). Names stay, so stack traces still name functions.
 *
 * Packages stay in node_modules (EXTERNAL) when they load native code from their own folder
 * (LevelDB, cbor-x's extension), or are large and loaded only on demand (the admin API's
 * framework and its parts, the metrics library, WebSocket listeners).
 *
 * A package the bundle holds twice (two versions in node_modules) fails the build: the gateway
 * configures some packages through their modules (broker.ts turns mqtt-packet's number cache
 * off), which works only on the one copy that the code using them holds.
 *
 * The chunks lie one folder below dist/, as config/paths.ts expects of every file that finds the
 * package's own files from its own location.
 *
 * The packages bundled are not installed with the command (they are development dependencies):
 * their names, versions and license texts go to dist/gateway/THIRD-PARTY-NOTICES.txt, which the
 * package ships.
 */
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'esbuild'

const EXTERNAL = [
  'level', 'classic-level', 'abstract-level', 'cbor-x', 'cbor-extract',
  'fastify', '@fastify/*', 'ajv', 'light-my-request', 'prom-client', 'ws'
]

/**
 * mqtt-packet's parser keeps each connection's unparsed bytes in a `bl()`: a BufferList that is
 * also a Duplex stream, built on readable-stream, the userland copy of Node's streams (25 modules,
 * 180 KB of source loaded at start, and a stream's state for every connection). The parser calls
 * only the BufferList's methods (append, consume, length, readUInt*, slice, toString), so in the
 * bundle its `bl()` makes the BufferList alone, from the same copy of bl.
 */
const parserBufferList: Plugin = {
  name: 'mqtt-packet-buffer-list',
  setup (b) {
    b.onResolve({ filter: /^bl$/ }, args => /[\\/]mqtt-packet[\\/]parser\.js$/.test(args.importer)
      ? { path: 'bl', namespace: 'parser-buffer-list', pluginData: dirname(args.importer) }
      : undefined)
    b.onLoad({ filter: /^bl$/, namespace: 'parser-buffer-list' }, args => ({
      contents: "const BufferList = require('bl/BufferList.js')\nmodule.exports = function bl () { return new BufferList() }\n",
      loader: 'js',
      resolveDir: args.pluginData as string
    }))
  }
}

const dir = fileURLToPath(new URL('../gateway/', import.meta.url))
// the chunks of an earlier build (their names carry a hash of their content)
for (const name of await readdir(dir)) {
  if (/^flowgate(-[A-Z0-9]+)?\.js(\.map)?$/.test(name)) await rm(`${dir}${name}`)
}
const { metafile } = await build({
  entryPoints: [`${dir}cli.js`],
  entryNames: 'flowgate',
  chunkNames: 'flowgate-[hash]',
  outdir: dir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  external: EXTERNAL,
  // CommonJS packages inside an ES module call require() for Node's own modules
  banner: { js: "import { createRequire as __flowgateCreateRequire } from 'node:module'; const require = __flowgateCreateRequire(import.meta.url);" },
  minifyWhitespace: true,
  plugins: [parserBufferList],
  metafile: true,
  sourcemap: true,
  logLevel: 'warning'
})

const copies = new Map<string, Set<string>>()
for (const input of Object.keys(metafile.inputs)) {
  const m = /^(.*node_modules\/((?:@[^/]+\/)?[^/]+))\//.exec(input)
  if (m === null) continue
  const [, folder = '', name = ''] = m
  copies.set(name, (copies.get(name) ?? new Set()).add(folder))
}
const twice = [...copies].filter(([, folders]) => folders.size > 1)
if (twice.length > 0) {
  for (const [name, folders] of twice) console.error(`build-bundle: ${name} would be bundled twice, from ${[...folders].join(' and ')}`)
  process.exit(1)
}

/** A package's license text: the first file named LICENSE, LICENCE or COPYING (any case, any extension). */
async function licenseText (folder: string): Promise<string | undefined> {
  const name = (await readdir(folder)).sort().find(n => /^(licen[cs]e|copying)(\.|-|$)/i.test(n))
  return name === undefined ? undefined : (await readFile(join(folder, name), 'utf8')).trim()
}

const notices: string[] = []
for (const [name, folders] of [...copies].sort(([a], [b]) => a.localeCompare(b))) {
  const folder = [...folders][0] as string
  const pkg = JSON.parse(await readFile(join(folder, 'package.json'), 'utf8')) as { version: string, license?: string }
  const text = await licenseText(folder)
  if (text === undefined && pkg.license === undefined) {
    console.error(`build-bundle: ${name} has neither a license file nor a license in package.json`)
    process.exit(1)
  }
  notices.push(`${name} ${pkg.version} (${pkg.license ?? 'see below'})\n\n${text ?? `${name} declares the ${String(pkg.license)} license and ships no license file.`}`)
}
await writeFile(`${dir}THIRD-PARTY-NOTICES.txt`, `The flowgate command (dist/gateway/flowgate*.js) includes the following packages.\n\n${notices.join(`\n\n${'-'.repeat(72)}\n\n`)}\n`)
