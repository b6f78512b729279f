/**
 * Completes the dashboard in dist/: its page, styles and icon beside the compiled scripts, and
 * uPlot copied in from node_modules (vendor/), so the package serves every file itself and the page
 * needs no network at run time. uPlot's licence goes with it.
 */
import { copyFile, mkdir } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const source = join(root, 'gateway', 'admin', 'dashboard')
const target = join(root, 'dist', 'gateway', 'admin', 'dashboard')
const uplot = dirname(createRequire(import.meta.url).resolve('uplot/package.json'))

const copies: Array<[string, string]> = [
  [join(source, 'index.html'), join(target, 'index.html')],
  [join(source, 'dashboard.css'), join(target, 'dashboard.css')],
  [join(source, 'favicon.svg'), join(target, 'favicon.svg')],
  [join(uplot, 'dist', 'uPlot.iife.min.js'), join(target, 'vendor', 'uPlot.iife.min.js')],
  [join(uplot, 'dist', 'uPlot.min.css'), join(target, 'vendor', 'uPlot.min.css')],
  [join(uplot, 'LICENSE'), join(target, 'vendor', 'uPlot.LICENSE')]
]

await mkdir(join(target, 'vendor'), { recursive: true })
for (const [from, to] of copies) await copyFile(from, to)
