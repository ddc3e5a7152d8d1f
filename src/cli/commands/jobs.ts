/** `aacseed jobs`: the job run log, read from the database; no engine, no scheduler. */
import { resolve } from 'node:path'
import { JOB_NAMES, type JobName } from '../../config/index.js'
import { openExistingDatabase } from '../../db/index.js'
import { UsageError } from '../../errors.js'
import { JobRuns } from '../../jobs/runs.js'
import { defineCommand, stringFlag, writeJson } from '../command.js'

export const jobsCommand = defineCommand({
  name: 'jobs',
  usage: '[--job NAME] [--limit N] [--json] [--db PATH]',
  options: {
    job: { type: 'string' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    db: { type: 'string' },
  },
  help: [
    `--job NAME   one job: ${JOB_NAMES.join(', ')}`,
    '--limit N    at most N runs, newest first (default 20)',
    '--json       the runs as JSON',
    '--db PATH    the catalog (default: catalog.database)',
  ],
  async run(ctx) {
    const job = stringFlag(ctx.values.job)
    if (job !== undefined && !JOB_NAMES.includes(job as JobName))
      throw new UsageError(
        `--job ${JSON.stringify(job)}: no such job; jobs are ${JOB_NAMES.join(', ')}\nusage: aacseed jobs [--job NAME] [--limit N] [--json] [--db PATH]`,
      )
    const limitArg = stringFlag(ctx.values.limit) ?? '20'
    const limit = Number(limitArg)
    if (!Number.isInteger(limit) || limit < 1)
      throw new UsageError(`--limit ${JSON.stringify(limitArg)}: must be a whole number of at least 1`)
    const config = ctx.config()
    const db = openExistingDatabase(resolve(ctx.cwd, stringFlag(ctx.values.db) ?? config.catalog.database))
    try {
      const runs = new JobRuns(db).recent({ job, limit })
      if (ctx.values.json) writeJson(ctx, runs)
      else if (runs.length === 0) ctx.out.write('no job runs yet\n')
      else {
        for (const r of runs) {
          const counts = Object.entries(r.counts ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')
          ctx.out.write(
            `${r.startedAt}  ${r.job.padEnd(13)} ${r.outcome.padEnd(11)} ${r.trigger.padEnd(8)} ${counts}${r.error ? `  error: ${r.error}` : ''}\n`,
          )
        }
      }
      return 0
    } finally {
      db.close()
    }
  },
})
