/**
 * Readiness for systemd (`Type=notify`, config/flowgate.service). When systemd
 * starts the gateway it sets NOTIFY_SOCKET; the gateway then reports READY=1
 * once it serves (store open, listeners bound, admin API up) and STOPPING=1
 * when it begins to stop, each with a STATUS line for `systemctl status`.
 *
 * Node cannot send a datagram to a Unix socket, so the message goes through
 * systemd-notify(1), a child process: the unit sets NotifyAccess=all. Since
 * systemd 246, systemd-notify waits until the manager has processed the
 * message, so the short-lived sender is still there to be attributed to the
 * service. Without NOTIFY_SOCKET (run by hand, or Type=exec) this does nothing.
 */
import { spawn } from 'node:child_process'
import type { Logger } from './logger.js'

export interface SystemdNotifier {
  /** Whether systemd asked for notifications (NOTIFY_SOCKET is set). */
  readonly enabled: boolean
  /** Sends `VAR=value` assignments (READY=1, STOPPING=1, STATUS=…); resolves when sent or failed. */
  notify (assignments: Record<string, string>): Promise<void>
}

export interface NotifierDeps {
  env?: NodeJS.ProcessEnv
  /** The systemd-notify command. */
  command?: string
}

export function systemdNotifier (logger: Logger, deps: NotifierDeps = {}): SystemdNotifier {
  const env = deps.env ?? process.env
  const socket = env.NOTIFY_SOCKET
  const command = deps.command ?? 'systemd-notify'
  let warned = false
  const warn = (detail: string): void => {
    if (warned) return
    warned = true
    logger.error({ event: 'systemd-notify-failed', detail }, `cannot tell systemd the gateway's state (${detail}); under Type=notify systemd waits for READY until TimeoutStartSec`)
  }
  return {
    enabled: socket !== undefined && socket !== '',
    async notify (assignments) {
      if (socket === undefined || socket === '') return
      // one line per value: a newline would start a new assignment
      const args = Object.entries(assignments).map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`)
      await new Promise<void>(resolve => {
        const child = spawn(command, args, { stdio: 'ignore', env })
        child.once('error', err => { warn(`${command}: ${(err as NodeJS.ErrnoException).code ?? err.message}`); resolve() })
        child.once('exit', code => { if (code !== 0 && code !== null) warn(`${command} exited with ${code}`); resolve() })
      })
    }
  }
}
