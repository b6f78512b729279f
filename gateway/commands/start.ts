import { watch, type FSWatcher } from 'node:fs'
import { basename, dirname, resolve } from 'node:path'
import { ConfigError } from '../../config/index.js'
import { EXIT_FAILURE, EXIT_OK } from '../errors.js'
import { loadGatewayConfig } from '../config.js'
import { createGateway, type Gateway } from '../gateway.js'
import { systemdNotifier } from '../systemd.js'
import { parseOptions } from './parse.js'
import type { Command } from './types.js'

/** Reloads on SIGHUP and when the config file changes; an invalid file is refused and the running config kept. */
function watchConfig (gateway: Gateway, file: string): () => void {
  let running: Promise<void> = Promise.resolve()
  let timer: NodeJS.Timeout | undefined
  let lastText: string | undefined
  const reload = (trigger: string): void => {
    running = running.then(async () => {
      try {
        const loaded = await loadGatewayConfig(file)
        // a file being written is often empty for a moment: taken as the defaults, it would remove
        // every bridge (and forget its cursor); the next write reloads
        if (loaded.empty === true) throw new ConfigError([{ path: '', message: 'the file is empty (or holds only comments); the running configuration is kept until it holds one' }], file)
        const text = JSON.stringify(loaded.config)
        if (trigger === 'file' && text === lastText) return
        await gateway.reload(loaded.config)
        // only once applied: a file refused (or a reload that failed) is tried again when written again
        lastText = text
      } catch (err) {
        gateway.logger.error({ event: 'reload-refused', trigger, err: { code: (err as { code?: string }).code, message: (err as Error).message } }, 'new configuration refused; the running configuration is kept')
      }
    })
  }
  lastText = JSON.stringify(gateway.config)
  const onHup = (): void => reload('SIGHUP')
  process.on('SIGHUP', onHup)
  // watch the directory: editors replace the file rather than write it in place
  let watcher: FSWatcher | undefined
  try {
    watcher = watch(dirname(file), (_event, name) => {
      if (name !== null && name !== basename(file)) return
      clearTimeout(timer)
      timer = setTimeout(() => reload('file'), 100) // let the writer finish
    })
  } catch (err) {
    gateway.logger.warn({ err }, 'cannot watch the config file; reload with SIGHUP')
  }
  // a change written while the gateway started, before the watch began, is read as a written one is
  timer = setTimeout(() => reload('file'), 100)
  return () => {
    clearTimeout(timer)
    watcher?.close()
    process.off('SIGHUP', onHup)
  }
}

/** One line for `systemctl status`: where the gateway serves and what its log holds. */
function servingStatus (gateway: Gateway): string {
  const { records } = gateway.log.stats()
  const urls = gateway.listeners.map(l => `${l.protocol}://${l.host}:${l.port}`)
  if (gateway.admin !== undefined) urls.push(`admin ${gateway.admin.url}`)
  return `serving ${urls.join(', ')}; ${records} records in the log`
}

export const start: Command = {
  usage: 'start [--config FILE]          run the gateway (embedded defaults without --config)',
  async run (args) {
    const { values } = parseOptions(args, { config: { type: 'string', short: 'c' } })
    const file = typeof values.config === 'string' ? resolve(values.config) : undefined
    const loaded = await loadGatewayConfig(file)
    let onFatal: (err: Error) => void = () => {}
    const gateway = await createGateway(loaded.config, { onFatal: err => onFatal(err) })
    const unwatch = file !== undefined ? watchConfig(gateway, file) : () => {}
    const systemd = systemdNotifier(gateway.logger)
    void systemd.notify({ READY: '1', STATUS: servingStatus(gateway) })
    return await new Promise<number>(resolve => {
      let stopping = false
      const stop = (reason: string, code: number): void => {
        if (stopping) return
        stopping = true
        unwatch()
        gateway.logger.info({ event: 'stopping', reason }, `stopping: ${reason}`)
        void systemd.notify({ STOPPING: '1', STATUS: `stopping: ${reason}` })
        gateway.close().then(() => resolve(code), () => resolve(EXIT_FAILURE))
      }
      onFatal = err => stop(err.message, EXIT_FAILURE)
      process.once('SIGINT', () => stop('SIGINT', EXIT_OK))
      process.once('SIGTERM', () => stop('SIGTERM', EXIT_OK))
    })
  }
}
