/**
 * `aacseed serve`: one database, one engine, the scheduled jobs, and a clean stop.
 * Each job is a thin adapter from a capability (catalog, torrents, engines) to counts.
 */
import { scan, scanSettings } from '../catalog/index.js'
import type { Config, JobName } from '../config/index.js'
import type { Db } from '../db/index.js'
import { EngineStatusStore, isFailedCopy, type Engine } from '../engines/index.js'
import { startEngine } from '../engines/start.js'
import { ConfigError, errorMessage } from '../errors.js'
import { Fleet, scrapeSwarm } from '../fleet/index.js'
import type { Logger } from '../log/index.js'
import { MirrorSync } from '../mirror/index.js'
import { makeSettings, publishList } from '../publish/index.js'
import { makeTorrents } from '../torrents/index.js'
import { catalogLock, type Leases } from './leases.js'
import { JobRunner, withProblems, type JobDefinition } from './runner.js'
import type { JobRun } from './runs.js'
import { seedTorrents } from './seed.js'

export interface ServiceDeps {
  config: Config
  db: Db
  engine: Engine
  logger: Logger
  /** Cross-process guards (src/jobs/leases.ts): each job's own, and the catalog's for its writers. */
  leases?: Leases
}

export function jobDefinitions({ config, db, engine, logger, leases }: ServiceDeps): JobDefinition[] {
  // Built on first use: a seedbox's unreadable secret file fails the fleet jobs, not `run scan`.
  let fleet: Fleet | undefined
  const getFleet = (): Fleet => (fleet ??= new Fleet(config, db, { logger: logger.child({ area: 'fleet' }) }))
  // Scans, torrent making and mirror placing each rewrite catalog rows: one at a time, here and across
  // processes.
  const exclusive = catalogLock(leases, 'mirror_sync')
  // Each job's counts that report a problem when above 0 come first (the runner reminds of them
  // while they persist, runner.ts), checked against what the job returns when compiled. Not
  // problems: what a run did, and what waits by design (a mirror download deferred by its budget,
  // a fleet action deferred because its seedbox missed the poll, which `fleet_poll`'s `failed`
  // reports).
  const jobs: Record<JobName, Pick<JobDefinition, 'run' | 'problems'>> = {
    scan: withProblems(['problems'], async (signal) => {
      if (config.catalog.roots.length === 0) return { roots: 0 }
      const r = await exclusive(
        () => scan({ db, roots: config.catalog.roots, ...scanSettings(config.catalog), signal }),
        'scan',
      )
      return {
        entries_read: r.stats.entriesRead,
        entries_unchanged: r.stats.entriesUnchanged,
        entries_removed: r.stats.entriesRemoved,
        records: r.records,
        problems: r.problems.length,
      }
    }),
    make_torrents: withProblems(['with_problems', 'problems'], async (signal) => {
      const r = await exclusive(async () => {
        const made = await makeTorrents({ db, torrents: config.torrents, ...makeSettings(db), signal })
        await publishList(db, config)
        return made
      }, 'make_torrents')
      return {
        made: r.made.length,
        unchanged: r.unchanged,
        with_problems: r.withProblems,
        problems: r.problems.length,
      }
    }),
    seed: withProblems(['failed'], async (signal) => {
      const r = await seedTorrents(db, engine, { signal })
      warnPerTorrent(logger.child({ area: 'seed' }), r.failed, 'engine did not take the torrent')
      return { added: r.added, already: r.duplicate, verified: r.verified, failed: r.failed.length }
    }),
    engine_status: withProblems(['errors'], async () => {
      const statuses = await engine.list()
      // A turn of the event loop between reading the engine's state and writing it: at 10,000
      // torrents each is 10-30 ms of the main thread, and serve's API is answered in between
      // instead of waiting for both (#14 §4: the poll runs every second in bench:seed).
      await new Promise<void>((resolve) => setImmediate(resolve))
      new EngineStatusStore(db).record(engine.kind, statuses)
      // The list's `aa_currently_seeding` follows what the engine reports.
      await publishList(db, config)
      return {
        torrents: statuses.length,
        seeding: statuses.filter((s) => s.state === 'seeding').length,
        errors: statuses.filter((s) => isFailedCopy(s.state)).length,
        uploaded_bytes: statuses.reduce((n, s) => n + s.uploaded, 0),
      }
    }),
    fleet_poll: withProblems(['failed', 'degraded', 'lost'], async (signal) => {
      const r = await getFleet().poll(signal)
      // No seedbox configured: nothing was polled, and the fleet's health counts (a read of every
      // torrent's health, about 100 ms of serve's event loop at 10,000 torrents, every minute)
      // would only repeat what engine_status records.
      if (r.seedboxes === 0) {
        await publishList(db, config)
        return { seedboxes: 0, answered: 0, failed: 0, torrents: 0 }
      }
      const c = getFleet().status().counts
      await publishList(db, config)
      return {
        seedboxes: r.seedboxes,
        answered: r.answered,
        failed: r.failed.length,
        torrents: r.torrents,
        ok: c.ok,
        degraded: c.degraded,
        lost: c.lost,
      }
    }),
    fleet_apply: withProblems(['failed', 'shortfalls'], async (signal) => {
      const r = await getFleet().apply(signal)
      return {
        added: r.added,
        already: r.duplicate,
        started: r.started,
        removed: r.removed,
        deferred: r.deferred,
        failed: r.failed.length,
        shortfalls: r.shortfalls,
      }
    }),
    mirror_sync: withProblems(
      ['sources_failed', 'entries_rejected', 'rejected', 'failed'],
      async (signal) => {
        if (config.mirror.sources.length === 0) return { sources: 0 }
        const sync = new MirrorSync({
          db,
          config,
          engine,
          logger: logger.child({ area: 'mirror' }),
          exclusive,
          afterPlace: async () => {
            await publishList(db, config)
            await seedTorrents(db, engine, { signal })
          },
        })
        const r = await sync.run({ refresh: 'due', signal })
        return {
          sources_failed: r.sources.filter((s) => s.error !== null).length,
          entries_rejected: r.rejectedEntries.length,
          queued: r.queued.length,
          started: r.started.length,
          downloading: r.downloading.length,
          done: r.done.length,
          rejected: r.rejected.length,
          deferred: r.deferred.length,
          failed: r.failed.length,
        }
      },
    ),
    scrape: withProblems(['failed'], async (signal) => {
      const r = await scrapeSwarm(db, config, { signal })
      await publishList(db, config)
      return { trackers: r.trackers, torrents: r.torrents, figures: r.figures, failed: r.failed.length }
    }),
  }
  return (Object.keys(jobs) as JobName[]).map((name) => ({
    name,
    schedule: config.jobs[name],
    ...jobs[name],
  }))
}

/** Per-torrent warnings one job run writes; the rest are summed up in one line. */
export const TORRENT_LINES_PER_RUN = 10

/**
 * A warning per failed torrent, for the first `TORRENT_LINES_PER_RUN` of them, then one line for
 * the rest: a data disk that is gone fails all 10,000 torrents at every seed run (every 10
 * minutes by default), and the first few name the problem as well as all of them would.
 */
export function warnPerTorrent(
  log: Pick<Logger, 'warn'>,
  failed: ReadonlyArray<{ name: string; error: string }>,
  msg: string,
): void {
  for (const f of failed.slice(0, TORRENT_LINES_PER_RUN)) log.warn({ torrent: f.name, err: f.error }, msg)
  const rest = failed.length - TORRENT_LINES_PER_RUN
  if (rest > 0)
    log.warn(
      { torrents: rest, err: failed[TORRENT_LINES_PER_RUN]!.error },
      `${msg}: ${rest} more torrent(s) (such as ${failed[TORRENT_LINES_PER_RUN]!.name}: ${failed[TORRENT_LINES_PER_RUN]!.error})`,
    )
}

/** The start-up runs of `seed` and `engine_status`, for serve's one start-up line. */
export interface StartupRuns {
  seed: JobRun
  status: JobRun
}

/**
 * serve's start-up in one line: journald gets this instead of a line per torrent (the engines log
 * those at debug level). Failed torrents have their own warning lines (the seed job's).
 */
export function startupSummary(runs: StartupRuns): string {
  const seed = runs.seed.counts
  const status = runs.status.counts
  const parts: string[] = []
  if (seed)
    parts.push(
      `${seed.added ?? 0} added, ${seed.already ?? 0} already there, ${seed.verified ?? 0} verified, ${seed.failed ?? 0} failed`,
    )
  else parts.push(`seed job ${runs.seed.outcome}${runs.seed.error ? `: ${runs.seed.error}` : ''}`)
  if (status) parts.push(`${status.torrents ?? 0} in the engine, ${status.seeding ?? 0} seeding so far`)
  else parts.push(`engine status ${runs.status.outcome}${runs.status.error ? `: ${runs.status.error}` : ''}`)
  return parts.join('; ')
}

export class Service {
  readonly runner: JobRunner

  constructor(private readonly deps: ServiceDeps) {
    this.runner = new JobRunner({
      db: deps.db,
      logger: deps.logger,
      jobs: jobDefinitions(deps),
      keepRuns: deps.config.jobs.keep_runs,
      ...(deps.leases ? { leases: deps.leases } : {}),
    })
  }

  /**
   * A taken port is the operator's to fix (exit 2: systemd does not restart in a loop). An
   * unreachable or refusing daemon may come back: the jobs record their failures and retry.
   */
  async startEngine(): Promise<void> {
    try {
      await startEngine(this.deps.engine)
    } catch (e) {
      if (e instanceof ConfigError) throw e
      this.deps.logger.error(
        { area: 'engine', err: errorMessage(e) },
        'engine did not start; jobs will retry on schedule',
      )
    }
  }

  /**
   * After `startEngine()`. Seeds what was already made first (no scan needed: a restart is
   * seeding within seconds), then schedules the jobs and brings the catalog and torrents up to
   * date in the background.
   */
  async start(): Promise<StartupRuns> {
    this.runner.validate()
    this.runner.start()
    const seed = await this.runner.runNow('seed', 'startup')
    const status = await this.runner.runNow('engine_status', 'startup')
    void this.catchUp()
    return { seed, status }
  }

  private async catchUp(): Promise<void> {
    for (const job of ['scan', 'make_torrents', 'seed', 'engine_status', 'mirror_sync'] as const) {
      const run = await this.runner.runNow(job, 'startup').catch(() => null)
      if (!run || run.outcome === 'interrupted') return
    }
  }

  /**
   * Within 10 s: jobs aborted and awaited (their transactions commit or roll back), then the
   * engine and the database close. A job that does not stop within 7 s is abandoned: its run is
   * recorded `interrupted`, and the database is then left open under it rather than closed mid-job
   * (which made its next statement throw); the process exit ends it, and SQLite rolls back any
   * transaction it had open, so the catalog stays as of its last commit.
   */
  async stop(): Promise<void> {
    const abandoned = await this.runner.stop(7000)
    await this.deps.engine
      .close()
      .catch((e: unknown) => this.deps.logger.warn({ err: e }, 'engine did not close cleanly'))
    if (abandoned.length > 0) {
      this.deps.logger.warn(
        { jobs: abandoned },
        `jobs ${abandoned.join(', ')} did not stop in time; the database stays open under them until the process exits`,
      )
      return
    }
    this.deps.db.close()
  }
}
