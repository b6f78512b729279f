import { readFileSync } from 'node:fs'
import { distUrl } from '../config/index.js'

/** flowgate's version, from package.json (beside dist/; from the checkout's root when run from source). */
export const VERSION: string = (() => {
  for (const rel of ['../package.json', 'package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(distUrl(rel), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'flowgate' && pkg.version !== undefined) return pkg.version
    } catch { /* try the next */ }
  }
  return '0.0.0'
})()
