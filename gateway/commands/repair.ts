import { resolve } from 'node:path'
import { parseDuration, parseSize } from '../../config/index.js'
import { createStoredBrokerPersistence, EventLog, Store, type DropEvent } from '../../storage/index.js'
import { loadGatewayConfig } from '../config.js'
import { EXIT_OK } from '../errors.js'
import { clockStepMessage } from '../store-messages.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

/**
 * `flowgate repair`: what the gateway does at start and while reading, done by hand on a stopped
 * gateway, over the whole store at once: LevelDB's repair where LevelDB reports damage, every
 * record batch read and checked, what was lost counted (reason `corrupt`) and printed. Records
 * that are still readable are never discarded.
 */
export const repair: Command = {
  usage: 'repair [--config FILE]          check a stopped gateway\'s store, repair what LevelDB reports damaged, print what was lost',
  async run (args) {
    const { values } = parseOptions(args, { config: { type: 'string', short: 'c' } })
    const { config } = await loadGatewayConfig(typeof values.config === 'string' ? values.config : undefined)
    const dataDir = resolve(config.gateway.dataDir)
    const out = (line: string): void => { process.stdout.write(line + '\n') }
    out(`flowgate repair: ${dataDir}`)
    const repaired: string[] = []
    const store = await Store.open(dataDir, { onRepair: () => repaired.push('state store') })
    const lost: DropEvent[] = []
    let log: EventLog | undefined
    try {
      log = await EventLog.open(store, {
        durability: 'sync',
        maxAgeMs: parseDuration(config.storage.retention.maxAge),
        maxBytes: parseSize(config.storage.retention.maxBytes),
        whenFull: config.storage.whenFull,
        reserveFreeBytes: 0
      })
      repaired.push(...log.atOpen.repaired)
      lost.push(...log.atOpen.lost)
      log.on('repaired', (e: { dir: string }) => repaired.push(e.dir))
      log.on('drop', (e: DropEvent) => { if (e.reason === 'corrupt') lost.push(e) })
      const before = log.stats().drops.corrupt - lost.reduce((n, e) => n + e.records, 0)
      const { records, segments } = await log.verify()
      const stats = log.stats()
      const damaged: Array<{ key: string, message: string }> = []
      const persistence = createStoredBrokerPersistence(store, { onDamaged: entries => damaged.push(...entries) })
      await persistence.setup({ id: 'repair', counter: 0 } as unknown as Parameters<typeof persistence.setup>[0])
      await persistence.close()
      out(`state store: ${repaired.includes('state store') ? 'damaged; LevelDB repaired it, keeping every entry it could read' : 'ok'}`)
      if (damaged.length > 0) out(`broker state: ${damaged.length} entries could not be read and were removed`)
      const step = log.atOpen.clockStep
      if (step !== undefined) out(`clock: ${clockStepMessage(step.stepMs, step.found)}`)
      out(`event log: ${segments} segments, ${records} records readable, sequence numbers ${stats.firstSeq}-${stats.lastSeq}`)
      for (const dir of repaired.filter(d => d !== 'state store')) out(`  segment ${dir}: damaged; LevelDB repaired it, keeping every record it could read`)
      for (const e of lost) out(`  lost: sequence numbers ${e.fromSeq ?? '?'}-${e.toSeq ?? '?'} (${e.records} records)`)
      const found = lost.reduce((n, e) => n + e.records, 0)
      out(found > 0 || repaired.length > 0 || damaged.length > 0
        ? `result: damage found and repaired; ${found} records lost now, ${stats.drops.corrupt} lost to damage in all (${before} known before)`
        : `result: no damage found (${stats.drops.corrupt} records lost to damage before)`)
    } finally {
      await log?.close()
      await store.close()
    }
    return EXIT_OK
  }
}
