/**
 * The job run log, table `job_runs` (created by migration 003): one row per run of a scheduled
 * job, written when the run starts and completed when it ends, so `aacseed jobs` and the
 * dashboard can show what ran, when, how it ended and what it did. This module owns every
 * query on the table.
 *
 * Columns:
 * - `job`: the job's name, which is its key under `[jobs]` in the config (`scan`, `seed`, ...).
 * - `trigger`: what started it: `schedule` (its cron expression), `manual` (CLI or HTTP API),
 *   `startup` (run once when `aacseed serve` starts).
 * - `started_at`, `finished_at`: ISO 8601 UTC with milliseconds (`2026-11-24T10:00:00.000Z`),
 *   which sort as text in time order. `finished_at` is NULL while the run is `running`.
 * - `outcome`:
 *   - `running`: started, not finished;
 *   - `ok`: finished without an error;
 *   - `failed`: the job threw; `error` holds the message;
 *   - `skipped`: not run, because the same job was still running (`started_at` = `finished_at`),
 *     or because another process held its lease (src/jobs/leases.ts; `error` names the holder);
 *   - `interrupted`: cut short: aacseed was stopping (the run saw its abort signal, or did not
 *     finish within the stop timeout), or the process died and the next start found the row
 *     still `running`.
 * - `counts`: what the run did, as a JSON object of numbers (`{"files":12,"bytes":1048576}`);
 *   NULL when the job returned none (failed, skipped, interrupted by a crash).
 * - `error`: why a run failed, was skipped or was interrupted; NULL otherwise.
 */
import type { Db } from '../db/index.js'

export type JobTrigger = 'schedule' | 'manual' | 'startup'
export type JobOutcome = 'running' | 'ok' | 'failed' | 'skipped' | 'interrupted'
export type JobCounts = Record<string, number>

export interface JobRun {
  id: number
  job: string
  trigger: JobTrigger
  startedAt: string
  finishedAt: string | null
  outcome: JobOutcome
  counts: JobCounts | null
  error: string | null
}

interface JobRunRow {
  id: number
  job: string
  trigger: JobTrigger
  started_at: string
  finished_at: string | null
  outcome: JobOutcome
  counts: string | null
  error: string | null
}

const COLUMNS = 'id, job, trigger, started_at, finished_at, outcome, counts, error'

export class JobRuns {
  readonly #insert
  readonly #finish
  readonly #interruptAll
  readonly #interruptOne
  readonly #prune
  readonly #byId
  readonly #recent
  readonly #recentOfJob

  readonly #db: Db

  constructor(db: Db) {
    this.#db = db
    this.#insert = db.prepare<[string, string, string, string | null, string, string | null]>(
      'INSERT INTO job_runs (job, trigger, started_at, finished_at, outcome, error) VALUES (?, ?, ?, ?, ?, ?)',
    )
    // Only a row still `running` is completed: one marked `interrupted` by stop() stays so.
    this.#finish = db.prepare<[string, string, string | null, string | null, number]>(
      "UPDATE job_runs SET finished_at = ?, outcome = ?, counts = ?, error = ? WHERE id = ? AND outcome = 'running'",
    )
    this.#interruptAll = db.prepare<[string, string]>(
      "UPDATE job_runs SET finished_at = ?, outcome = 'interrupted', error = ? WHERE outcome = 'running'",
    )
    this.#interruptOne = db.prepare<[string, string, number]>(
      "UPDATE job_runs SET finished_at = ?, outcome = 'interrupted', error = ? WHERE id = ? AND outcome = 'running'",
    )
    // The newest `keep` rows of a job stay; a running row is never pruned.
    this.#prune = db.prepare<[string, string, number]>(
      `DELETE FROM job_runs WHERE job = ? AND outcome != 'running'
         AND id NOT IN (SELECT id FROM job_runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT ?)`,
    )
    this.#byId = db.prepare<[number], JobRunRow>(`SELECT ${COLUMNS} FROM job_runs WHERE id = ?`)
    this.#recent = db.prepare<[number], JobRunRow>(
      `SELECT ${COLUMNS} FROM job_runs ORDER BY started_at DESC, id DESC LIMIT ?`,
    )
    this.#recentOfJob = db.prepare<[string, number], JobRunRow>(
      `SELECT ${COLUMNS} FROM job_runs WHERE job = ? ORDER BY started_at DESC, id DESC LIMIT ?`,
    )
  }

  /** Records a run that starts now; returns its id. */
  start(job: string, trigger: JobTrigger, at: Date): number {
    return Number(this.#insert.run(job, trigger, at.toISOString(), null, 'running', null).lastInsertRowid)
  }

  /** Completes a `running` row; false if it was no longer running (already marked interrupted). */
  finish(
    id: number,
    outcome: 'ok' | 'failed' | 'interrupted' | 'skipped',
    at: Date,
    counts: JobCounts | null,
    error: string | null,
  ): boolean {
    return (
      this.#finish.run(at.toISOString(), outcome, counts === null ? null : JSON.stringify(counts), error, id)
        .changes > 0
    )
  }

  /** Records a run that was not started because the same job was still running. */
  skipped(job: string, trigger: JobTrigger, at: Date, error: string): number {
    const t = at.toISOString()
    return Number(this.#insert.run(job, trigger, t, t, 'skipped', error).lastInsertRowid)
  }

  /**
   * Marks one run, or with no id every run still `running` (except those of the jobs in
   * `alive`, whose runs another live process holds), as `interrupted`; returns how many.
   */
  interrupt(at: Date, error: string, id?: number, alive: readonly string[] = []): number {
    const t = at.toISOString()
    if (id !== undefined) return this.#interruptOne.run(t, error, id).changes
    if (alive.length === 0) return this.#interruptAll.run(t, error).changes
    return this.#db
      .prepare(
        `UPDATE job_runs SET finished_at = ?, outcome = 'interrupted', error = ? WHERE outcome = 'running' AND job NOT IN (${alive.map(() => '?').join(', ')})`,
      )
      .run(t, error, ...alive).changes
  }

  /** Deletes all but the newest `keep` finished runs of a job; returns how many went. */
  prune(job: string, keep: number): number {
    return this.#prune.run(job, job, keep).changes
  }

  get(id: number): JobRun | undefined {
    const row = this.#byId.get(id)
    return row && toRun(row)
  }

  /** Newest first. */
  recent(opts: { job?: string | undefined; limit: number }): JobRun[] {
    const rows =
      opts.job === undefined ? this.#recent.all(opts.limit) : this.#recentOfJob.all(opts.job, opts.limit)
    return rows.map(toRun)
  }
}

function toRun(r: JobRunRow): JobRun {
  return {
    id: r.id,
    job: r.job,
    trigger: r.trigger,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    outcome: r.outcome,
    counts: r.counts === null ? null : (JSON.parse(r.counts) as JobCounts),
    error: r.error,
  }
}
