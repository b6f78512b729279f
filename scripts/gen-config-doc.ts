/** Rewrites the config reference block in README.md from the schema: `npm run docs`. */
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DOC_END, DOC_START, renderConfigReference } from '../config/doc.js'

const readme = join(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'README.md')
const text = await readFile(readme, 'utf8')
const start = text.indexOf(DOC_START)
const end = text.indexOf(DOC_END)
if (start < 0 || end < start) throw new Error('README.md has no config reference markers')
await writeFile(readme, text.slice(0, start) + renderConfigReference() + text.slice(end + DOC_END.length))
console.log('README.md config reference updated')
