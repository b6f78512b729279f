import { readFile } from 'node:fs/promises'
import { runCesql } from '../../bridges/index.js'
import type { Command } from './types.js'

export const cesql: Command = {
  usage: 'cesql EXPR [--event FILE]      evaluate a CESQL expression; --jsonl reads {"expression","event"} lines on stdin',
  async run (args) {
    return await runCesql(args, { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, readFile: async path => await readFile(path, 'utf8') })
  }
}
