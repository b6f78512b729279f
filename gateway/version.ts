import { readFileSync } from 'node:fs'

/** flowgate's version, from package.json (two levels above dist/gateway/). */
export const VERSION: string = (() => {
  for (const rel of ['../../package.json', '../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string, version?: string }
      if (pkg.name === 'flowgate' && pkg.version !== undefined) return pkg.version
    } catch { /* try the next */ }
  }
  return '0.0.0'
})()
