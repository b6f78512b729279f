/**
 * Bundles the `flowgate` command: the build's own modules (dist/gateway/cli.js and everything it
 * imports, lazily loaded parts as their own chunks) into a few files, dist/gateway/flowgate.js and
 * dist/gateway/flowgate-*.js; packages stay in node_modules. Node's module loader reads, resolves
 * and compiles each module file on its own, which for the ~200 files of the build was about a
 * sixth of the time from start to ready on one core; bundled, a start loads a handful.
 *
 * The chunks lie one folder below dist/, as config/paths.ts expects of every file that finds the
 * package's own files from its own location.
 */
import { readdir, rm } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const dir = fileURLToPath(new URL('../gateway/', import.meta.url))
// the chunks of an earlier build (their names carry a hash of their content)
for (const name of await readdir(dir)) {
  if (/^flowgate(-[A-Z0-9]+)?\.js(\.map)?$/.test(name)) await rm(`${dir}${name}`)
}
await build({
  entryPoints: [`${dir}cli.js`],
  entryNames: 'flowgate',
  chunkNames: 'flowgate-[hash]',
  outdir: dir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: true,
  logLevel: 'warning'
})
