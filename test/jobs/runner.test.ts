import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { test, type TestContext } from 'node:test'
import { join } from 'node:path'
import { getTasks } from 'node-cron'
import { openDatabase, type Db } from '../../src/db/index.js'
import { AacseedError, ConfigError } from '../../src/errors.js'
import {
  InvalidCronError,
  JobRunner,
  withProblems,
  type JobCounts,
  type JobDefinition,
} from '../../src/jobs/index.js'
import { TORRENT_LINES_PER_RUN, warnPerTorrent } from '../../src/jobs/service.js'
import { createLogger, type Logger } from '../../src/log/index.js'
import { tempDir, waitFor } from '../helpers.js'

interface LogLine {
  level: number
  msg: string
  area?: string
  job?: string
}

function setup(t: TestContext): { db: Db; logger: Logger; logs: LogLine[]; path: string } {
  const path = join(tempDir(t), 'aacseed.db')
  const db = openDatabase(path)
  t.after(() => db.close())
  const logs: LogLine[] = []
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(l) as LogLine)
      cb()
    },
  })
  return { db, logger: createLogger({ level: 'debug', destination: stream }), logs, path }
}

function runner(
  t: TestContext,
  env: { db: Db; logger: Logger },
  jobs: JobDefinition[],
  keepRuns?: number,
): JobRunner {
  const r = new JobRunner({ db: env.db, logger: env.logger, jobs, ...(keepRuns ? { keepRuns } : {}) })
  t.after(() => r.stop(1000))
  return r
}

function job(
  name: string,
  run: (signal: AbortSignal) => Promise<JobCounts>,
  schedule = '0 0 1 1 *',
): JobDefinition {
  return { name, schedule, run }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

test('the job_runs table comes with the database', (t) => {
  const { db } = setup(t)
  const cols = (db.prepare("SELECT name FROM pragma_table_info('job_runs')").pluck().all() as string[]).sort()
  assert.deepEqual(cols, ['counts', 'error', 'finished_at', 'id', 'job', 'outcome', 'started_at', 'trigger'])
  const idx = db.prepare("SELECT name FROM pragma_index_list('job_runs')").pluck().all() as string[]
  assert.ok(idx.includes('job_runs_job_started'), idx.join(','))
})

test('a run is recorded running, then ok with its counts', async (t) => {
  const env = setup(t)
  const gate = deferred()
  const r = runner(t, env, [
    job('scan', async () => {
      await gate.promise
      return { files: 3, bytes: 1024 }
    }),
  ])
  const pending = r.runNow('scan', 'manual')
  await waitFor('the running row', () => r.recentRuns()[0]?.outcome === 'running')
  assert.deepEqual(r.running(), ['scan'])
  assert.equal(r.recentRuns()[0]!.finishedAt, null)
  gate.resolve()
  const run = await pending
  assert.equal(run.outcome, 'ok')
  assert.equal(run.trigger, 'manual')
  assert.deepEqual(run.counts, { files: 3, bytes: 1024 })
  assert.equal(run.error, null)
  assert.ok(run.finishedAt! >= run.startedAt)
  assert.deepEqual(r.recentRuns(), [run])
  assert.deepEqual(r.running(), [])
})

test('a run that comes while the same job runs is recorded as skipped and returns at once', async (t) => {
  const env = setup(t)
  const gate = deferred()
  let calls = 0
  const r = runner(t, env, [
    job('seed', async () => {
      calls++
      await gate.promise
      return { torrents: 1 }
    }),
    job('scan', async () => ({ files: 0 })),
  ])
  const first = r.runNow('seed', 'schedule')
  const second = await r.runNow('seed', 'manual')
  assert.equal(second.outcome, 'skipped')
  assert.equal(second.error, 'previous run still running')
  assert.equal(second.finishedAt, second.startedAt)
  // Another job is not held up by it.
  assert.equal((await r.runNow('scan')).outcome, 'ok')
  gate.resolve()
  assert.equal((await first).outcome, 'ok')
  assert.equal(calls, 1)
  // Newest first: the skipped run started after the one it was skipped for.
  assert.deepEqual(
    r.recentRuns({ job: 'seed' }).map((x) => x.outcome),
    ['skipped', 'ok'],
  )
  assert.ok(env.logs.some((l) => l.level === 40 && l.job === 'seed' && /skipped/.test(l.msg)))
})

test('a job that throws is recorded failed and logged, and the runner keeps working', async (t) => {
  const env = setup(t)
  let fail = true
  const r = runner(t, env, [
    job('make_torrents', async () => {
      if (fail) throw new Error('disk full')
      return { made: 2 }
    }),
    // Throws before it even returns a promise.
    {
      name: 'engine_status',
      schedule: '* * * * *',
      run: (() => {
        throw new TypeError('not a function')
      }) as unknown as JobDefinition['run'],
    },
  ])
  const failed = await r.runNow('make_torrents')
  assert.equal(failed.outcome, 'failed')
  assert.equal(failed.error, 'disk full')
  assert.equal(failed.counts, null)
  assert.ok(failed.finishedAt)
  assert.equal((await r.runNow('engine_status')).error, 'not a function')
  const err = env.logs.find((l) => l.level === 50 && l.job === 'make_torrents')
  assert.ok(err, JSON.stringify(env.logs))
  assert.equal(err.area, 'jobs')
  assert.match(err.msg, /make_torrents failed.*disk full/)
  fail = false
  assert.deepEqual((await r.runNow('make_torrents')).counts, { made: 2 })
})

test('bad cron expressions are a configuration error naming each job and expression', (t) => {
  const env = setup(t)
  const before = getTasks().size
  const r = runner(t, env, [
    job('scan', async () => ({}), '* *'),
    job('seed', async () => ({}), '*/10 * * * *'),
    job('engine_status', async () => ({}), '61 * * * *'),
  ])
  assert.throws(
    () => r.validate(),
    (e: unknown) => {
      assert.ok(e instanceof InvalidCronError && e instanceof ConfigError && e instanceof AacseedError)
      assert.equal(e.code, 'invalid-cron')
      assert.equal(e.location.field, 'jobs.scan')
      const lines = e.message.split('\n')
      assert.equal(lines.length, 2, e.message)
      assert.match(lines[0]!, /^config: jobs\.scan: invalid cron expression "\* \*": expected 5 or 6 fields/)
      assert.match(lines[1]!, /^config: jobs\.engine_status: invalid cron expression "61 \* \* \* \*"/)
      return true
    },
  )
  // start() validates first and schedules nothing.
  assert.throws(() => r.start(), InvalidCronError)
  assert.equal(getTasks().size, before)
})

test('runs left running by a killed process are marked interrupted on start', async (t) => {
  const env = setup(t)
  const insert = env.db.prepare(
    "INSERT INTO job_runs (job, trigger, started_at, outcome) VALUES (?, 'schedule', ?, ?)",
  )
  insert.run('scan', '2026-01-01T00:00:00.000Z', 'running')
  insert.run('seed', '2026-01-01T00:00:01.000Z', 'ok')
  const r = runner(t, env, [job('scan', async () => ({})), job('seed', async () => ({}))])
  r.start()
  const scan = r.recentRuns({ job: 'scan' })[0]!
  assert.equal(scan.outcome, 'interrupted')
  assert.ok(scan.finishedAt)
  assert.match(scan.error!, /stopped before the run finished/)
  assert.equal(r.recentRuns({ job: 'seed' })[0]!.outcome, 'ok')
  assert.ok(env.logs.some((l) => l.level === 40 && /left running/.test(l.msg)))
  await r.stop()
})

test('stop() aborts running jobs and waits for them', async (t) => {
  const env = setup(t)
  let sawAbort = false
  const r = runner(t, env, [
    job('scan', async (signal) => {
      await new Promise<void>((res) => signal.addEventListener('abort', () => res(), { once: true }))
      sawAbort = true
      await sleep(150) // cleaning up after the abort
      signal.throwIfAborted()
      return {}
    }),
  ])
  r.start()
  const pending = r.runNow('scan')
  await waitFor('scan running', () => r.running().includes('scan'))
  const t0 = performance.now()
  await r.stop(5000)
  const waited = performance.now() - t0
  assert.ok(sawAbort)
  assert.ok(waited >= 140 && waited < 2000, `waited ${waited} ms`)
  const run = await pending
  assert.equal(run.outcome, 'interrupted')
  assert.equal(run.error, 'aacseed stopped before the run finished')
  await assert.rejects(
    r.runNow('scan'),
    (e: unknown) => e instanceof AacseedError && e.code === 'jobs-stopping',
  )
})

test('stop() gives up on a job that ignores the signal after the timeout and records it interrupted', async (t) => {
  const env = setup(t)
  const gate = deferred()
  const r = runner(t, env, [
    job('seed', async () => {
      await gate.promise
      return { torrents: 5 }
    }),
  ])
  const pending = r.runNow('seed')
  await waitFor('seed running', () => r.running().includes('seed'))
  const t0 = performance.now()
  await r.stop(200)
  const waited = performance.now() - t0
  assert.ok(waited >= 190 && waited < 1500, `waited ${waited} ms`)
  const row = r.recentRuns({ job: 'seed' })[0]!
  assert.equal(row.outcome, 'interrupted')
  assert.match(row.error!, /did not stop within 200 ms/)
  // When it finally ends, the row keeps saying interrupted.
  gate.resolve()
  const run = await pending
  assert.equal(run.outcome, 'interrupted')
  assert.equal(r.recentRuns({ job: 'seed' })[0]!.outcome, 'interrupted')
})

test('only the newest keep_runs runs of each job are kept', async (t) => {
  const env = setup(t)
  let n = 0
  const r = runner(t, env, [job('scan', async () => ({ n: ++n })), job('seed', async () => ({}))], 3)
  await r.runNow('seed')
  for (let i = 0; i < 5; i++) await r.runNow('scan')
  const scans = r.recentRuns({ job: 'scan' })
  assert.deepEqual(
    scans.map((s) => s.counts?.n),
    [5, 4, 3],
  )
  assert.equal(r.recentRuns({ job: 'seed' }).length, 1)
  assert.equal(r.recentRuns({ limit: 2 }).length, 2)
})

test('runNow rejects an unknown job', async (t) => {
  const r = runner(t, setup(t), [job('scan', async () => ({}))])
  await assert.rejects(
    r.runNow('nope'),
    (e: unknown) => e instanceof AacseedError && e.code === 'unknown-job' && /scan/.test(e.message),
  )
})

test('a schedule with seconds fires the job (cron "* * * * * *", UTC); a scheduled failure stays in the log', async (t) => {
  const env = setup(t)
  const r = runner(t, env, [
    job('engine_status', async () => ({ torrents: 0 }), '* * * * * *'),
    job('seed', () => Promise.reject(new Error('transmission unreachable')), '* * * * * *'),
  ])
  r.start()
  const run = await waitFor(
    'a scheduled run',
    () => r.recentRuns({ job: 'engine_status' }).find((x) => x.trigger === 'schedule' && x.outcome === 'ok'),
    2500,
    50,
  )
  assert.equal(run.job, 'engine_status')
  const failed = await waitFor(
    'a failed scheduled run',
    () => r.recentRuns({ job: 'seed' }).find((x) => x.outcome === 'failed'),
    2500,
    50,
  )
  assert.equal(failed.error, 'transmission unreachable')
  await r.stop()
  const count = r.recentRuns().length
  await sleep(1200)
  assert.equal(r.recentRuns().length, count, 'no run after stop()')
})

test('a scheduled run that changed nothing logs its end at debug; a change, a failure or a recovery stays at info', async (t) => {
  const env = setup(t)
  let counts: JobCounts = { torrents: 3, seeding: 3, errors: 0, uploaded_bytes: 100 }
  let fail = false
  const r = new JobRunner({
    db: env.db,
    logger: env.logger,
    jobs: [
      job('engine_status', async () => {
        if (fail) throw new Error('daemon down')
        return counts
      }),
    ],
    retry: { retries: 0, backoff: { baseMs: 1, maxMs: 1 } },
  })
  t.after(() => r.stop(1000))
  const ends = (): Array<{ level: number; msg: string }> =>
    env.logs.filter((l) => l.job === 'engine_status' && /finished|failed after/.test(l.msg))
  await r.runScheduled('engine_status')
  // Nothing to compare with yet: info.
  assert.deepEqual(
    ends().map((l) => l.level),
    [30],
  )
  // The same counts (only the running byte total grew): debug, once per run.
  counts = { ...counts, uploaded_bytes: 5000 }
  await r.runScheduled('engine_status')
  await r.runScheduled('engine_status')
  assert.deepEqual(
    ends().map((l) => l.level),
    [30, 20, 20],
  )
  assert.match(ends()[1]!.msg, /nothing changed/)
  // A count moved (a torrent in error): info; the same again: debug.
  counts = { ...counts, seeding: 2, errors: 1 }
  await r.runScheduled('engine_status')
  await r.runScheduled('engine_status')
  assert.deepEqual(
    ends().map((l) => l.level),
    [30, 20, 20, 30, 20],
  )
  // A failure is an error line, and the next success, even with the counts of before, is info.
  fail = true
  await r.runScheduled('engine_status')
  fail = false
  await r.runScheduled('engine_status')
  assert.deepEqual(
    ends().map((l) => l.level),
    [30, 20, 20, 30, 20, 50, 30],
  )
  // A run asked for by hand is always info.
  await r.runNow('engine_status', 'manual')
  assert.equal(ends().at(-1)!.level, 30)
})

test('a job run warns about the first 10 failed torrents one by one and sums up the rest in one line', (t) => {
  const env = setup(t)
  const failed = Array.from({ length: 10_000 }, (_, i) => ({ name: `r${i}`, error: 'ENOENT: data gone' }))
  warnPerTorrent(env.logger, failed, 'engine did not take the torrent')
  const warns = env.logs.filter((l) => l.level === 40) as Array<
    LogLine & { torrent?: string; torrents?: number }
  >
  assert.equal(warns.length, TORRENT_LINES_PER_RUN + 1)
  assert.deepEqual(
    warns.slice(0, 10).map((l) => l.torrent),
    failed.slice(0, 10).map((f) => f.name),
  )
  assert.equal(warns.at(-1)!.torrents, 9990)
  assert.match(warns.at(-1)!.msg, /9990 more torrent\(s\) \(such as r10: ENOENT: data gone\)/)
  // A few failures are each a line, and no summary.
  env.logs.length = 0
  warnPerTorrent(env.logger, failed.slice(0, 3), 'engine did not take the torrent')
  assert.equal(env.logs.filter((l) => l.level === 40).length, 3)
})

test('problems that persist with unchanged counts are a warning once an hour, not a debug line forever; their end is one info line', async (t) => {
  const env = setup(t)
  let now = 1_700_000_000_000
  let counts: JobCounts = { torrents: 3, seeding: 3, errors: 0, uploaded_bytes: 0 }
  const r = new JobRunner({
    db: env.db,
    logger: env.logger,
    jobs: [{ ...job('engine_status', async () => counts), problems: ['errors'] }],
    now: () => now,
  })
  t.after(() => r.stop(1000))
  const ends = (): Array<LogLine & { problems?: JobCounts; problemSeconds?: number }> =>
    env.logs.filter((l) => l.job === 'engine_status' && /finished/.test(l.msg))
  const everyMinute = async (runs: number): Promise<void> => {
    for (let i = 0; i < runs; i++) {
      now += 60_000
      await r.runScheduled('engine_status')
    }
  }
  await everyMinute(1)
  // A torrent goes into error: the counts moved, an info line (as before).
  counts = { ...counts, seeding: 2, errors: 1 }
  await everyMinute(1)
  assert.deepEqual(
    ends().map((l) => l.level),
    [30, 30],
  )
  // The same counts for the next 59 minutes: debug lines, as for a healthy steady state.
  await everyMinute(59)
  assert.deepEqual(
    new Set(
      ends()
        .slice(2)
        .map((l) => l.level),
    ),
    new Set([20]),
  )
  // An hour after the line that told them, the problems are told again, as a warning.
  await everyMinute(1)
  const reminder = ends().at(-1)!
  assert.equal(reminder.level, 40, reminder.msg)
  assert.match(reminder.msg, /its problems persist after 60 min: errors 1$/)
  assert.deepEqual(reminder.problems, { errors: 1 })
  assert.equal(reminder.problemSeconds, 3600)
  assert.equal(ends().filter((l) => l.level === 40).length, 1)
  // Then quiet again for the next hour, and one more reminder.
  await everyMinute(60)
  assert.deepEqual(
    ends()
      .slice(-60)
      .map((l) => l.level)
      .filter((l) => l !== 20),
    [40],
  )
  assert.match(ends().at(-1)!.msg, /after 120 min/)
  // The torrent recovers: one info line that says the problems are gone.
  counts = { ...counts, seeding: 3, errors: 0 }
  await everyMinute(1)
  assert.equal(ends().at(-1)!.level, 30)
  assert.match(ends().at(-1)!.msg, /its problems are gone after 121 min$/)
  // Healthy and unchanged: debug again, for hours.
  const before = ends().length
  await everyMinute(120)
  assert.deepEqual(
    new Set(
      ends()
        .slice(before)
        .map((l) => l.level),
    ),
    new Set([20]),
  )
})

test('counts that are not problems never remind, however long they stay above 0; a failed run in between does not restart the hour', async (t) => {
  const env = setup(t)
  let now = 1_700_000_000_000
  let fail = false
  const counts: JobCounts = { added: 0, already: 5, failed: 2 }
  const r = new JobRunner({
    db: env.db,
    logger: env.logger,
    jobs: [
      {
        ...job('seed', async () => (fail ? Promise.reject(new Error('disk gone')) : counts)),
        problems: ['failed'],
      },
      job('scan', async () => ({ records: 12 })),
    ],
    retry: { retries: 0, backoff: { baseMs: 1, maxMs: 1 } },
    now: () => now,
  })
  t.after(() => r.stop(1000))
  const warnings = (name: string): LogLine[] =>
    env.logs.filter((l) => l.job === name && l.level === 40 && /finished/.test(l.msg))
  for (let minute = 0; minute < 30; minute++) {
    now += 60_000
    await r.runScheduled('seed')
    await r.runScheduled('scan')
  }
  fail = true
  now += 60_000
  await r.runScheduled('seed')
  fail = false
  for (let minute = 0; minute < 30; minute++) {
    now += 60_000
    await r.runScheduled('seed')
    await r.runScheduled('scan')
  }
  assert.equal(warnings('scan').length, 0)
  // Problems since minute 1; the failed run at minute 31 said nothing about them: reminded at 61.
  assert.equal(warnings('seed').length, 1)
  assert.match(warnings('seed')[0]!.msg, /its problems persist after 60 min: failed 2$/)
})

test("a job's problem names are checked, when compiled, against the counts it returns: a misspelled one does not build", async () => {
  // The checks are the @ts-expect-error lines: `npm test` compiles this file with tsc, which fails
  // on an expected error that is not there (a problem name that is not a count would compile).
  type Part = Pick<JobDefinition, 'run' | 'problems'>
  const ok: Part = withProblems(['failed'], async () => ({ added: 1, failed: 0 }))
  // Counts of two shapes (a job with nothing configured returns fewer): a name of either.
  const shapes: Part = withProblems(['roots', 'failed'], async (signal) =>
    signal.aborted ? { roots: 0 } : { added: 1, failed: 0 },
  )
  // @ts-expect-error -- 'faild' is not a count the run returns
  const misspelled: Part = withProblems(['faild'], async () => ({ added: 1, failed: 0 }))
  // @ts-expect-error -- counts typed as any JobCounts name no count to check a problem against
  const wide: Part = withProblems(['failed'], async (): Promise<JobCounts> => ({ failed: 0 }))
  assert.deepEqual(ok.problems, ['failed'])
  assert.deepEqual(await ok.run(new AbortController().signal), { added: 1, failed: 0 })
  assert.deepEqual(await shapes.run(AbortSignal.abort()), { roots: 0 })
  assert.equal(misspelled.problems?.length, 1)
  assert.equal(wide.problems?.length, 1)
})
