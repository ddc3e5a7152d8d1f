/**
 * Runs the scheduled jobs of `aacseed serve`: each on its cron schedule (UTC) and on demand,
 * never two runs of the same job at once, every run recorded in `job_runs` (src/jobs/runs.ts).
 * A job that throws is logged and recorded as failed; the runner and the process carry on.
 *
 * Lifecycle: `validate()` (also done by `start()`), `start()` once in the serving process,
 * `runNow()` any time, `stop()` on SIGTERM before the engines and the database are closed.
 */
import { createTask, validateDetailed, type Logger as CronLogger, type ScheduledTask } from 'node-cron'
import type { Db } from '../db/index.js'
import { databaseEnvironmentError } from '../db/failure.js'
import { AacseedError, ConfigError, errorMessage } from '../errors.js'
import { errnoEnvironmentError } from '../fs.js'
import type { Logger } from '../log/index.js'
import { Outages } from '../log/outage.js'
import { backoffDelay, sleep, type Backoff } from '../retry.js'
import { heldMessage, Lease, LeaseHeldError, type Leases } from './leases.js'
import { JobRuns, type JobCounts, type JobRun, type JobTrigger } from './runs.js'

export interface JobDefinition {
  /** The job's key under `[jobs]` in the config (`scan`, `make_torrents`, ...); errors name it so. */
  name: string
  /** A cron expression in UTC: 5 fields, or 6 with seconds first (node-cron syntax). */
  schedule: string
  /**
   * Does one run and returns what it did as counts (`{ files: 12 }`). The signal aborts when
   * aacseed stops: return or throw soon after, the process exits a few seconds later.
   */
  run(signal: AbortSignal): Promise<JobCounts>
  /**
   * The counts that report a problem when above 0 (`errors`, `failed`, ...); the others say what
   * the run did. Problems that persist run after run are a warning at most hourly, even when the
   * counts do not move; their end is news. `withProblems` checks them against the run's counts.
   */
  problems?: readonly string[]
}

/**
 * The names a job's runs return counts under, for each shape they return (`keyof` of a union
 * holds only the names all of its shapes share). Counts typed as any `JobCounts` name nothing:
 * a problem name could not be checked against them.
 */
export type CountName<C> = C extends unknown
  ? string extends keyof C
    ? never
    : Extract<keyof C, string>
  : never

/** A job's run and problems, or, when a problem is not among its counts, the names that are not. */
export type CheckedProblems<C, P extends string> = [Exclude<P, CountName<C>>] extends [never]
  ? Pick<JobDefinition, 'run' | 'problems'>
  : { 'problems that are not counts of the job': Exclude<P, CountName<C>> }

/**
 * A job's run with its `problems`, each checked when compiled against the counts the run returns:
 * a misspelled name would never be above 0, and the job's persisting problems would never be a
 * warning. A name that is not a count makes the result unfit for a `JobDefinition` (the compiler
 * names it). Let the run's return type be inferred: `Promise<JobCounts>` names no count, and then
 * no problem compiles.
 *
 * The check is in the result, not in `problems`' own type: there, the compiler fixes `C` (to
 * `JobCounts`) before it infers the run's counts.
 */
export function withProblems<C extends Record<string, number | undefined>, const P extends string>(
  problems: readonly P[],
  run: (signal: AbortSignal) => Promise<C>,
): CheckedProblems<C, P>
// A run that returns counts of more than one shape is typed as their union, each shape with the
// others' names as `?: undefined`: those are absent from the objects it returns (and the runner
// keeps only the finite numbers of what a job returns, `normalizeCounts`).
export function withProblems(
  problems: readonly string[],
  run: (signal: AbortSignal) => Promise<Record<string, number | undefined>>,
): object {
  return { run: run as JobDefinition['run'], problems }
}

export interface JobRunnerOptions {
  db: Db
  logger: Logger
  jobs: JobDefinition[]
  /** Runs kept per job in the database (config `jobs.keep_runs`). */
  keepRuns?: number
  /**
   * A scheduled run that fails (a full disk, a seedbox down) is tried again this many times, with
   * this backoff, before it waits for its next slot. Default: 3 retries, 1 min doubling to 15 min.
   */
  retry?: { retries: number; backoff: Backoff }
  /**
   * Cross-process guard: each run holds the lease named after its job, so the same job never
   * runs in two processes on one database; a run whose lease another process holds is
   * recorded as skipped, with the holder named.
   */
  leases?: Leases
  /** The clock of the reminders of persisting problems, in ms (tests move it). */
  now?: () => number
}

const DEFAULT_RETRY = { retries: 3, backoff: { baseMs: 60_000, maxMs: 15 * 60_000 } }

/** A cron expression that node-cron rejects; a configuration error (exit code 2). */
export class InvalidCronError extends ConfigError {
  override readonly code = 'invalid-cron'
}

/** How often problems that persist, run after run, are a warning again. */
const PROBLEM_REMINDER_MS = 60 * 60_000

const STILL_RUNNING = 'previous run still running'
const STOPPED = 'aacseed stopped before the run finished'

interface Running {
  id: number
  controller: AbortController
  done: Promise<JobRun>
}

export class JobRunner {
  readonly #jobs: ReadonlyMap<string, JobDefinition>
  readonly #runs: JobRuns
  readonly #log: Logger
  readonly #keepRuns: number
  readonly #retry: { retries: number; backoff: Backoff }
  /** Aborted by stop(): cuts the waits between retries short. */
  readonly #stopped = new AbortController()
  readonly #leases: Leases | undefined
  readonly #running = new Map<string, Running>()
  /** Each job's counts from its last successful run in this process: what a run's news is measured against. */
  readonly #lastCounts = new Map<string, JobCounts>()
  /** Each job's problems (its `problems` counts above 0) as an outage: since when, and when to remind. */
  readonly #problems: Outages
  #tasks: ScheduledTask[] = []
  #started = false
  #stopping: Promise<string[]> | undefined

  constructor(opts: JobRunnerOptions) {
    const jobs = new Map<string, JobDefinition>()
    for (const job of opts.jobs) {
      if (jobs.has(job.name)) throw new Error(`job ${job.name} is defined twice`)
      jobs.set(job.name, job)
    }
    this.#jobs = jobs
    this.#runs = new JobRuns(opts.db)
    this.#log = opts.logger.child({ area: 'jobs' })
    this.#keepRuns = opts.keepRuns ?? 1000
    this.#retry = opts.retry ?? DEFAULT_RETRY
    this.#leases = opts.leases
    this.#problems = new Outages({ reminderMs: PROBLEM_REMINDER_MS, now: opts.now ?? Date.now })
  }

  /** Checks every cron expression; throws one InvalidCronError listing all the bad ones. */
  validate(): void {
    const bad: { name: string; line: string }[] = []
    for (const job of this.#jobs.values()) {
      const result = validateDetailed(job.schedule)
      if (result.valid) continue
      const why = result.errors.map((e) => e.message).join('; ')
      bad.push({
        name: job.name,
        line: `config: jobs.${job.name}: invalid cron expression ${JSON.stringify(job.schedule)}${why ? `: ${why}` : ''}`,
      })
    }
    if (bad.length > 0)
      throw new InvalidCronError(bad.map((b) => b.line).join('\n'), { field: `jobs.${bad[0]!.name}` })
  }

  /**
   * Validates, marks runs left `running` by a process that died as `interrupted`, and schedules
   * every job. Only the one serving process may call it. With leases, a run whose job's lease
   * another live process holds (`aacseed run scan` in another shell) is left running.
   */
  start(): void {
    if (this.#started) throw new Error('JobRunner.start() called twice')
    this.validate()
    this.#started = true
    const leases = this.#leases
    const alive = leases ? [...this.#jobs.keys()].filter((name) => leases.holderOf(name) !== undefined) : []
    const interrupted = this.#runs.interrupt(
      new Date(),
      'aacseed stopped before the run finished (found at start-up)',
      undefined,
      alive,
    )
    if (interrupted > 0)
      this.#log.warn(
        { runs: interrupted },
        `marked ${interrupted} run(s) left running by an earlier process as interrupted`,
      )
    for (const job of this.#jobs.values()) {
      // noOverlap stays off: our own guard records the skipped run, node-cron's would only drop it.
      const task = createTask(job.schedule, () => this.runScheduled(job.name), {
        name: `aacseed:${job.name}`,
        timezone: 'UTC',
        noOverlap: false,
        logger: this.#cronLogger(),
      })
      // node-cron logs a warning of its own unless someone listens.
      task.on('execution:missed', (ctx) => {
        this.#log.warn(
          { job: job.name, slot: ctx.date.toISOString() },
          `job ${job.name}: missed its ${ctx.date.toISOString()} slot (event loop busy)`,
        )
      })
      this.#tasks.push(task)
    }
    for (const task of this.#tasks) void task.start()
    this.#log.info(
      { jobs: [...this.#jobs.values()].map((j) => `${j.name}=${j.schedule}`) },
      'job schedules started (UTC)',
    )
  }

  /**
   * Runs a job now and resolves with its recorded run: `ok`, `failed`, `interrupted`, or
   * `skipped` at once when the same job is already running. Rejects only for an unknown job,
   * a runner that is stopping, or a database that cannot be written.
   */
  async runNow(name: string, trigger: JobTrigger = 'manual'): Promise<JobRun> {
    const job = this.#jobs.get(name)
    if (!job)
      throw new AacseedError(
        'unknown-job',
        `unknown job ${JSON.stringify(name)}; jobs: ${[...this.#jobs.keys()].join(', ')}`,
      )
    if (this.#stopping) throw new AacseedError('jobs-stopping', `cannot run job ${name}: aacseed is stopping`)
    const current = this.#running.get(name)
    if (current) {
      const id = this.#runs.skipped(name, trigger, new Date(), STILL_RUNNING)
      this.#log.warn(
        { job: name, trigger, run: id, running: current.id },
        `job ${name} skipped: ${STILL_RUNNING}`,
      )
      return this.#runs.get(id)!
    }
    let lease: Lease | undefined
    if (this.#leases) {
      // Only a CLI process waits (`aacseed run JOB --wait`); serve skips at once, without an await
      // between its in-process check above and taking the lease.
      const taken = this.#leases.waits
        ? await this.#leases.tryAcquireWaiting(name, name)
        : this.#leases.tryAcquire(name, name)
      const got = taken instanceof Lease ? taken : 'held' in taken ? taken.held : taken
      if (!(got instanceof Lease)) {
        const why = heldMessage(got)
        const id = this.#runs.skipped(name, trigger, new Date(), why)
        this.#log.warn(
          { job: name, trigger, run: id, holder: got.holder, pid: got.pid },
          `job ${name} skipped: ${why}`,
        )
        return this.#runs.get(id)!
      }
      lease = got
    }
    const controller = new AbortController()
    const startedAt = new Date()
    let id: number
    try {
      id = this.#runs.start(name, trigger, startedAt)
    } catch (e) {
      lease?.release()
      throw e
    }
    const done = this.#execute(job, { id, trigger, startedAt }, controller.signal)
    this.#running.set(name, { id, controller, done })
    try {
      return await done
    } finally {
      this.#running.delete(name)
      lease?.release()
    }
  }

  /** Names of the jobs running now. */
  running(): string[] {
    return [...this.#running.keys()]
  }

  /** Recorded runs, newest first, of one job or all. */
  recentRuns(opts: { job?: string; limit?: number } = {}): JobRun[] {
    return this.#runs.recent({ job: opts.job, limit: opts.limit ?? 50 })
  }

  /**
   * Stops all schedules, aborts the signal of every running job and waits for them up to
   * `timeoutMs`; runs still going then are recorded as interrupted. Resolves in time for serve to
   * close the engines and the database within systemd's stop timeout. Idempotent.
   */
  stop(timeoutMs = 8000): Promise<string[]> {
    this.#stopping ??= this.#stop(timeoutMs)
    return this.#stopping
  }

  /** Resolves with the jobs that did not stop in time (abandoned: still running, recorded interrupted). */
  async #stop(timeoutMs: number): Promise<string[]> {
    this.#stopped.abort()
    for (const task of this.#tasks) void task.destroy()
    this.#tasks = []
    const running = [...this.#running.entries()]
    if (running.length === 0) return []
    this.#log.info({ jobs: running.map(([name]) => name), timeoutMs }, 'stopping running jobs')
    for (const [, r] of running) r.controller.abort()
    let timer: NodeJS.Timeout | undefined
    const timedOut = new Promise<'timeout'>((res) => (timer = setTimeout(() => res('timeout'), timeoutMs)))
    const all = Promise.allSettled(running.map(([, r]) => r.done))
    const result = await Promise.race([all, timedOut])
    clearTimeout(timer)
    if (result !== 'timeout') return []
    const abandoned: string[] = []
    for (const [name, r] of running) {
      if (!this.#running.has(name)) continue
      abandoned.push(name)
      this.#log.warn({ job: name, run: r.id }, `job ${name} did not stop within ${timeoutMs} ms; leaving it`)
      this.#record(() =>
        this.#runs.interrupt(new Date(), `${STOPPED}: did not stop within ${timeoutMs} ms`, r.id),
      )
    }
    return abandoned
  }

  /**
   * A scheduled run (the node-cron callback): never throws, so a failing job cannot reach
   * node-cron or the process. A failed run (or one that could not even be recorded, as on a
   * full disk) is retried with backoff, a bounded number of times; a skipped or interrupted run
   * is not. Resolves when the last try is over.
   */
  async runScheduled(name: string): Promise<void> {
    for (let failures = 0; ;) {
      if (this.#stopping) return
      let failed: boolean
      try {
        failed = (await this.runNow(name, 'schedule')).outcome === 'failed'
      } catch (e) {
        failed = true
        const shown = describeFailure(e)
        this.#log.error({ job: name, err: shown.err }, `job ${name}: could not run: ${shown.message}`)
      }
      if (!failed) return
      failures++
      if (failures > this.#retry.retries) {
        this.#log.warn(
          { job: name, failures },
          `job ${name}: failed ${failures} times; waiting for its next slot`,
        )
        return
      }
      const delay = backoffDelay(failures, this.#retry.backoff)
      this.#log.warn(
        { job: name, failures, delayMs: delay },
        `job ${name}: retry ${failures} of ${this.#retry.retries} in ${Math.round(delay / 1000)} s`,
      )
      await sleep(delay, this.#stopped.signal)
    }
  }

  async #execute(
    job: JobDefinition,
    run: { id: number; trigger: JobTrigger; startedAt: Date },
    signal: AbortSignal,
  ): Promise<JobRun> {
    const { id, trigger } = run
    const log = this.#log.child({ job: job.name, run: id })
    const started = performance.now()
    // A scheduled run's start is routine (engine_status every minute, or every second in
    // bench:seed): its one info line is the one that ends it, with its counts and duration.
    if (trigger === 'schedule') log.debug({ trigger }, `job ${job.name} started`)
    else log.info({ trigger }, `job ${job.name} started`)
    let counts: JobCounts | null = null
    let failure: unknown
    let failed = false
    try {
      // Called through then() so a job that throws before returning its promise is caught too.
      counts = normalizeCounts(await Promise.resolve().then(() => job.run(signal)))
    } catch (e) {
      failed = true
      failure = e
    }
    const ms = Math.round(performance.now() - started)
    let outcome: 'ok' | 'failed' | 'interrupted' | 'skipped'
    let error: string | null = null
    if (failure instanceof LeaseHeldError) {
      // Another process holds what this job needed (the catalog, say): not a failure of ours.
      outcome = 'skipped'
      error = failure.message
      log.warn({ ms }, `job ${job.name} skipped: ${error}`)
    } else if (signal.aborted) {
      outcome = 'interrupted'
      error = failed && !isAbortError(failure) ? `${STOPPED}: ${errorMessage(failure)}` : STOPPED
      log.warn({ ms, counts }, `job ${job.name} interrupted after ${ms} ms`)
    } else if (failed) {
      outcome = 'failed'
      const shown = describeFailure(failure)
      error = shown.message
      log.error({ ms, err: shown.err }, `job ${job.name} failed after ${ms} ms: ${error}`)
    } else {
      outcome = 'ok'
      this.#logFinished(job, trigger, log, ms, counts ?? {})
    }
    // A run that did not finish leaves no baseline: the next successful run is news (it recovered).
    if (outcome === 'ok' && counts) this.#lastCounts.set(job.name, counts)
    else this.#lastCounts.delete(job.name)
    const finishedAt = new Date()
    this.#record(() => this.#runs.finish(id, outcome, finishedAt, counts, error))
    this.#record(() => this.#runs.prune(job.name, this.#keepRuns))
    let recorded: JobRun | undefined
    this.#record(() => (recorded = this.#runs.get(id)))
    // After a stop timeout the row says interrupted although the job ended since; the row wins.
    return (
      recorded ?? {
        id,
        job: job.name,
        trigger,
        startedAt: run.startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        outcome,
        counts,
        error,
      }
    )
  }

  /**
   * The one line that ends a successful run. A scheduled run with the counts of the job's last is
   * a debug line; but problems that persist (the job's `problems` counts above 0, run after run)
   * are a warning when the last line about them is an hour old, and the run that reports none of
   * them any more says so. The run that first reports them is news already (its counts moved).
   */
  #logFinished(job: JobDefinition, trigger: JobTrigger, log: Logger, ms: number, counts: JobCounts): void {
    const last = this.#lastCounts.get(job.name)
    const quiet = trigger === 'schedule' && last !== undefined && sameCounts(last, counts)
    const problems = problemsIn(counts, job.problems ?? [])
    const outage = this.#problems.of(job.name)
    if (Object.keys(problems).length > 0) {
      const starting = outage.since === null
      outage.failed()
      // Asked even when starting: the line below tells the problems, so the reminder is an hour off.
      const warning = outage.warning()
      if (warning && !starting) {
        const minutes = Math.round(warning.downMs / 60_000)
        log.warn(
          { ms, counts, problems, problemSeconds: Math.round(warning.downMs / 1000) },
          `job ${job.name} finished in ${ms} ms; its problems persist after ${minutes} min: ${describeCounts(problems)}`,
        )
        return
      }
    } else {
      const end = outage.recovered()
      if (end) {
        const minutes = Math.round(end.downMs / 60_000)
        log.info(
          { ms, counts, problemSeconds: Math.round(end.downMs / 1000) },
          `job ${job.name} finished in ${ms} ms; its problems are gone after ${minutes} min`,
        )
        return
      }
    }
    if (quiet)
      log.debug({ ms, counts }, `job ${job.name} finished in ${ms} ms; nothing changed since its last run`)
    else log.info({ ms, counts }, `job ${job.name} finished in ${ms} ms`)
  }

  /** Writes to the run log; a failure there (a locked or closed database) is logged, not thrown. */
  #record(write: () => unknown): void {
    try {
      write()
    } catch (e) {
      this.#log.error({ err: e }, `cannot write the job run log: ${errorMessage(e)}`)
    }
  }

  #cronLogger(): CronLogger {
    const log = this.#log
    return {
      info: (m) => log.debug(m),
      warn: (m) => log.warn(m),
      error: (m, e) => log.error({ err: e ?? m }, `node-cron: ${errorMessage(m)}`),
      debug: (m, e) => log.debug({ err: e }, `node-cron: ${errorMessage(m)}`),
    }
  }
}

/**
 * What a failure is recorded and logged as. A fault of the machine (a full disk) is named as the
 * CLI names it (`no space left on /var/lib/aacseed (writing the catalog database …)`), without a
 * stack: the stack of a full disk helps nobody. Anything else keeps its stack for the log.
 */
function describeFailure(e: unknown): { message: string; err: unknown } {
  const env = databaseEnvironmentError(e) ?? errnoEnvironmentError(e)
  if (env)
    return { message: env.message, err: { type: 'EnvironmentError', code: env.code, message: env.message } }
  return { message: errorMessage(e), err: e }
}

function isAbortError(e: unknown): boolean {
  return e instanceof Error && e.name === 'AbortError'
}

/**
 * Whether a scheduled run said nothing new: the same counts as the job's previous run. This
 * decides a run's log level (with the reminders of persisting problems, `#logFinished`), so
 * `engine_status` once a minute (1,440 runs a day) logs at info only when a count moved, and a
 * run with changes, problems that came or went, a failure or a recovery stays at info. Counts named `*_bytes` are running totals of traffic
 * (`uploaded_bytes` grows whenever a peer downloads from us): they do not make a run news.
 */
export function sameCounts(a: JobCounts, b: JobCounts): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)])
  for (const k of keys) if (!k.endsWith('_bytes') && a[k] !== b[k]) return false
  return true
}

/** The named counts that are above 0. */
function problemsIn(counts: JobCounts, names: readonly string[]): JobCounts {
  const out: JobCounts = {}
  for (const k of names) if ((counts[k] ?? 0) > 0) out[k] = counts[k]!
  return out
}

function describeCounts(counts: JobCounts): string {
  return Object.entries(counts)
    .map(([k, n]) => `${k} ${n}`)
    .join(', ')
}

/** Keeps the finite numbers of what a job returned; anything else is a bug worth a null, not a crash. */
function normalizeCounts(v: unknown): JobCounts {
  const out: JobCounts = {}
  if (typeof v !== 'object' || v === null) return out
  for (const [k, n] of Object.entries(v)) if (typeof n === 'number' && Number.isFinite(n)) out[k] = n
  return out
}
