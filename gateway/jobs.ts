/**
 * Scheduled jobs (the retention sweep, the heartbeat). Schedules are cron expressions of five
 * fields, or six with seconds first, read by croner as delivery windows are (gateway/window.ts).
 * Each job has one timer, set for its next run, so an idle gateway spends nothing on its jobs
 * between runs. A run still going when the next is due makes that one skip: runs never overlap.
 * A failed run is reported and the job keeps its schedule.
 */
import { Cron } from 'croner'
import { parseSchedule } from './window.js'

/** Why a job schedule cannot be used, or undefined when it can. */
export function checkJobSchedule (expression: string): string | undefined {
  try {
    parseSchedule(expression)
  } catch (err) {
    return `not a valid cron expression: ${JSON.stringify(expression)} (${(err as Error).message})`
  }
  return undefined
}

export class Jobs {
  private readonly jobs = new Map<string, Cron>()

  constructor (private readonly onError: (name: string, err: unknown) => void) {}

  /** Schedules `run` as `name`, replacing a job of that name; no expression: the job is removed. */
  set (name: string, expression: string | undefined, run: () => Promise<void>): void {
    this.jobs.get(name)?.stop()
    this.jobs.delete(name)
    if (expression === undefined) return
    this.jobs.set(name, new Cron(expression, { mode: '5-or-6-parts', protect: true, unref: true }, async () => {
      await run().catch((err: unknown) => { this.onError(name, err) })
    }))
  }

  stop (): void {
    for (const job of this.jobs.values()) job.stop()
    this.jobs.clear()
  }
}
