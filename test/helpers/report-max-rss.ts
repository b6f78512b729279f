/**
 * Loaded with `node --import` into a command under test: when the process exits it writes its peak
 * resident memory (kB) to the file named by FG_TEST_MAX_RSS_FILE. The peak is VmHWM, this
 * program's own: getrusage's maxRSS also counts the parent's memory at fork time.
 */
import { readFileSync, writeFileSync } from 'node:fs'

const out = process.env.FG_TEST_MAX_RSS_FILE
if (out !== undefined) {
  process.on('exit', () => {
    const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]
    writeFileSync(out, hwm ?? 'NaN')
  })
}
