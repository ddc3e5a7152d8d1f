/**
 * What the API may see and do of the job runner: list jobs and runs, and start one. `serve`
 * backs it with its JobRunner (`runnerJobs`); tests and the benchmark with anything that fits.
 */
import type { JobRun } from '../jobs/index.js'
import type { JobRunner } from '../jobs/index.js'
import { HttpError } from './errors.js'

export interface JobsApi {
  /** Job names and their cron schedules. */
  schedules(): Record<string, string>
  running(): string[]
  recentRuns(opts: { job?: string; limit: number }): JobRun[]
  /**
   * Starts a run and resolves as soon as it is recorded: `started` with the running run (and
   * `done`, which resolves when it ends), or `skipped` when the same job was still running.
   */
  start(name: string): Promise<{ run: JobRun; done: Promise<JobRun> }>
}

export function runnerJobs(runner: JobRunner, schedules: Record<string, string>): JobsApi {
  return {
    schedules: () => ({ ...schedules }),
    running: () => runner.running(),
    recentRuns: (opts) => runner.recentRuns(opts),
    async start(name) {
      if (!Object.hasOwn(schedules, name))
        throw new HttpError(
          404,
          'unknown-job',
          `no job ${JSON.stringify(name)}; jobs: ${Object.keys(schedules).join(', ')}`,
        )
      const done = runner.runNow(name, 'manual')
      done.catch(() => undefined)
      // runNow records the run (running, or skipped) before its first await: a pending promise
      // means the row is there; a settled one is the skipped run or the refusal.
      const settled = await Promise.race([done, Promise.resolve(undefined)])
      const run = settled ?? runner.recentRuns({ job: name, limit: 1 })[0]
      if (!run) throw new Error(`job ${name} started but its run is not recorded`)
      return { run, done }
    },
  }
}

export function runJson(r: JobRun) {
  const duration = r.finishedAt === null ? null : Date.parse(r.finishedAt) - Date.parse(r.startedAt)
  return {
    id: r.id,
    job: r.job,
    trigger: r.trigger,
    started_at: r.startedAt,
    finished_at: r.finishedAt,
    duration_ms: duration,
    outcome: r.outcome,
    counts: r.counts,
    error: r.error,
  }
}
