/**
 * `aacseed serve`, `seed` and `run`: the commands that start an engine. The engines, the job
 * service and the HTTP server are imported when a command runs, not when this module loads:
 * `aacseed --help` loads every command module, and must not pay for WebTorrent or Fastify.
 */
import { setFlagsFromString } from 'node:v8'
import { ENGINE_KINDS, JOB_NAMES, type Config, type JobName } from '../../config/index.js'
import { openDatabase } from '../../db/index.js'
import { AacseedError, ConfigError, UsageError } from '../../errors.js'
import { Lease, LeaseHeldError, Leases } from '../../jobs/leases.js'
import { cliLeases, WAIT_HELP, WAIT_OPTIONS, WAIT_USAGE } from '../leases.js'
import { runInServe } from '../forward.js'
import { createLogger, type Logger } from '../../log/index.js'
import { defineCommand, stringFlag, writeJson, type CommandContext } from '../command.js'
import { aacseedCommand } from '../invocation.js'
import type { StartupRuns } from '../../jobs/service.js'

function logger(ctx: CommandContext, config: Config): Logger {
  return createLogger({ level: config.log.level, pretty: ctx.out.isTTY === true, destination: ctx.out })
}

export function withEngineKind(config: Config, kind: string | undefined): Config {
  if (kind === undefined) return config
  const known = ENGINE_KINDS.find((k) => k === kind)
  if (!known)
    throw new UsageError(`--engine must be one of ${ENGINE_KINDS.join(', ')}, not ${JSON.stringify(kind)}`)
  return { ...config, engine: { ...config.engine, kind: known } }
}

/**
 * SIGINT/SIGTERM listened for from the first moment of a command, not only once it waits: a
 * signal that arrives while the engine starts or torrents are handed over must stop it too.
 * (Once any library listens for SIGINT, Node no longer exits on it by default, so a signal
 * before our own listener was swallowed, and the first Ctrl-C seemed ignored.)
 */
function stopSignals(): { stopped: Promise<string>; signal: AbortSignal; dispose(): void } {
  const controller = new AbortController()
  let resolve!: (sig: string) => void
  const stopped = new Promise<string>((res) => (resolve = res))
  const onSignal = (sig: NodeJS.Signals): void => {
    process.off('SIGTERM', onSignal)
    process.off('SIGINT', onSignal)
    // A second signal while stopping means "now".
    process.once(sig, () => process.exit(130))
    controller.abort()
    resolve(sig)
  }
  process.on('SIGTERM', onSignal)
  process.on('SIGINT', onSignal)
  return {
    stopped,
    signal: controller.signal,
    dispose() {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
    },
  }
}

const STOPPED = Symbol('stopped')

/** `p`'s value, or STOPPED as soon as a stop signal came (p keeps running; the caller tears down). */
async function unlessStopped<T>(p: Promise<T>, stopped: Promise<string>): Promise<T | typeof STOPPED> {
  return Promise.race([p, stopped.then((): typeof STOPPED => STOPPED)])
}

/** Resolves when `p` settles or after `ms`, whichever is first: teardown never hangs the exit. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  await Promise.race([p.catch(() => undefined), new Promise<void>((res) => (timer = setTimeout(res, ms)))])
  clearTimeout(timer)
}

function waitForStopSignal(): Promise<string> {
  return new Promise((res) => {
    const on = (sig: string) => {
      process.off('SIGTERM', onTerm)
      process.off('SIGINT', onInt)
      // A second signal while stopping means "now".
      process.once(sig as NodeJS.Signals, () => process.exit(130))
      res(sig)
    }
    const onTerm = () => on('SIGTERM')
    const onInt = () => on('SIGINT')
    process.once('SIGTERM', onTerm)
    process.once('SIGINT', onInt)
  })
}

/**
 * How far serve's V8 old generation may grow past what the last full collection left live
 * before the next one starts: 100% (twice the live heap), where V8's own sizing let it grow
 * further (its factor rises, up to 4×, while collections look cheap next to the allocation).
 *
 * Why: serve's memory is mostly V8 heap (#14 §4). Handing 10,000 torrents to webtorrent at
 * start-up allocates fast, and V8 let the heap grow well past what stays live (~30 KB a
 * torrent, ~314 MB at 10,000). Measured on a shared machine, 10,000 torrents (bench:seed's
 * scale phase; peak RSS, then serve's CPU seconds until all were seeding): V8's sizing 902 MB
 * and 38.2 s; 100% 646 MB and 36.9 s; 60% 556 MB and 44.5 s; 30% 522 MB and 46.2 s. Lower
 * saves more memory but costs start-up CPU in full collections of a 300 MB heap. The flag is
 * process-wide, so the coverage worker's heap is bounded too (159 -> 91 MB). Set at run time,
 * V8 reads it each time it sets the next limit (as `mirror sync`'s downloadingHeap does the
 * other way).
 */
export function boundServeHeap(): void {
  setFlagsFromString('--heap-growing-percent=100')
}

export const serveCommand = defineCommand({
  name: 'serve',
  usage: '[--engine webtorrent|transmission]',
  options: { engine: { type: 'string' } },
  help: [
    'Logs JSON lines to stdout (readable text on a terminal). Stops cleanly on SIGTERM or SIGINT.',
    '--engine KIND   override engine.kind (webtorrent, transmission, qbittorrent, deluge, rtorrent)',
  ],
  async run(ctx) {
    const config = withEngineKind(ctx.config({ checkRoots: true }), stringFlag(ctx.values.engine))
    boundServeHeap()
    const [{ createEngine }, { jobDefinitions, Service, startupSummary }, { runnerJobs, startServeHttp }] =
      await Promise.all([
        import('../../engines/index.js'),
        import('../../jobs/service.js'),
        import('../../http/index.js'),
      ])
    const log = logger(ctx, config)
    const db = openDatabase(config.catalog.database)
    const leases = new Leases(db, { holder: 'serve' })
    // One serve per database: it owns the engine, and the CLI finds it (and its API) here.
    let serveLease: Lease
    try {
      serveLease = leases.acquire('serve', 'serve')
    } catch (e) {
      db.close()
      throw e
    }
    const engine = createEngine(config.engine, { logger: log.child({ area: 'engine' }), env: ctx.env })
    const service = new Service({ config, db, engine, logger: log, leases })
    try {
      service.runner.validate()
    } catch (e) {
      serveLease.release()
      db.close()
      throw e
    }
    const stopped = waitForStopSignal()
    let startup = null as StartupRuns | null
    // Typed by `as`: they are set inside the start-up below, which narrowing does not follow.
    let http = null as { url: string; close(): Promise<void> } | null
    let tracker = null as { close(): Promise<void> } | null
    // Start-up (a daemon that does not answer, the first seed job handing 10,000 torrents over)
    // may take minutes; a stop signal meanwhile must stop serve within systemd's stop timeout,
    // not after start-up. The start-up carries on until the teardown aborts it.
    const startUp = (async (): Promise<void> => {
      // Before the engine, so its first announces find the tracker.
      if (config.tracker.enabled) {
        const { startTracker } = await import('../../tracker/index.js')
        const t = await startTracker(config.tracker, log)
        tracker = t
        log.info(
          { area: 'tracker', http: t.httpAnnounce, udp: t.udpAnnounce },
          `tracker at ${t.httpAnnounce}${t.udpAnnounce ? ` and ${t.udpAnnounce}` : ''}`,
        )
      }
      await service.startEngine()
      // Before the start-up jobs, so the dashboard answers while they run.
      if (config.http.enabled) {
        const schedules = Object.fromEntries(
          jobDefinitions({ config, db, engine, logger: log }).map((j) => [j.name, j.schedule]),
        )
        http = await startServeHttp({
          config,
          engine,
          jobs: runnerJobs(service.runner, schedules),
          logger: log,
          env: ctx.env,
        })
      }
      if (http) leases.setHttpUrl(serveLease, http.url)
      startup = await service.start()
    })()
    const started = await Promise.race([
      startUp.then(
        () => true,
        async (e: unknown) => {
          await http?.close()
          await engine.close().catch(() => undefined)
          serveLease.release()
          await tracker?.close()
          db.close()
          throw e
        },
      ),
      stopped.then(() => false),
    ])
    if (!started) {
      // What start-up still does fails once the service has stopped (the runner refuses new runs).
      startUp.catch(() => undefined)
      const sig = await stopped
      log.info({ signal: sig }, 'stopping during start-up')
      await http?.close()
      serveLease.release()
      await service.stop()
      await tracker?.close()
      log.info('stopped')
      // A request to a daemon that never answered may still hold a socket; a clean exit comes first.
      setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref()
      return 0
    }
    const configArg = stringFlag(ctx.values.config) ?? ctx.env.AACSEED_CONFIG
    const check = [
      `${aacseedCommand(process.argv[1], ctx.env, ctx.cwd)} jobs${configArg ? ` --config ${configArg}` : ''}`,
      ...(config.http.enabled ? [`http://${config.http.host}:${config.http.port}/`] : []),
    ]
    // Since the process started (imports included): what an operator waits for after a restart.
    const startupMs = Math.round(performance.now())
    log.info(
      {
        engine: engine.kind,
        database: config.catalog.database,
        roots: config.catalog.roots,
        check,
        startupMs,
        seed: startup?.seed.counts ?? null,
        status: startup?.status.counts ?? null,
      },
      `aacseed serving after ${(startupMs / 1000).toFixed(1)} s: ${startup ? startupSummary(startup) : 'no start-up runs'}; check it with: ${check.join('  or  ')}`,
    )
    const sig = await stopped
    log.info({ signal: sig }, 'stopping')
    // First: no request may start a job or read a closing database.
    await http?.close()
    serveLease.release()
    await service.stop()
    await tracker?.close()
    log.info('stopped')
    return 0
  },
})

export const seedCommand = defineCommand({
  name: 'seed',
  usage: `[--engine webtorrent|transmission] [--json] ${WAIT_USAGE}`,
  options: { engine: { type: 'string' }, json: { type: 'boolean' }, ...WAIT_OPTIONS },
  help: WAIT_HELP,
  async run(ctx) {
    // First of all, before any library is loaded that might listen for SIGINT itself.
    const stop = stopSignals()
    try {
      return await seed(ctx, stop)
    } finally {
      stop.dispose()
      // A stopped process ends even if a library left a socket or timer behind (an announce in
      // flight when the signal came); unref'd, so a clean exit comes first.
      if (stop.signal.aborted) setTimeout(() => process.exit(process.exitCode ?? 130), 2000).unref()
    }
  },
})

async function seed(ctx: CommandContext, stop: ReturnType<typeof stopSignals>): Promise<number> {
  const config = withEngineKind(ctx.config(), stringFlag(ctx.values.engine))
  const [{ createEngine }, { startEngine }, { seedTorrents }] = await Promise.all([
    import('../../engines/index.js'),
    import('../../engines/start.js'),
    import('../../jobs/seed.js'),
  ])
  const log = createLogger({ level: 'warn', destination: ctx.err, pretty: false })
  const db = openDatabase(config.catalog.database)
  const leases = cliLeases(db, ctx, stop.signal)
  const serve = config.engine.kind === 'webtorrent' ? leases.holderOf('serve') : undefined
  if (serve) {
    // serve's embedded engine is the one seeding: hand it the torrents, do not start another.
    try {
      const run = await unlessStopped(runInServe(serve, 'seed', config, ctx.env, 'seed'), stop.stopped)
      if (run === STOPPED) return 130
      return printRun(ctx, run, `seed (in serve, pid ${serve.pid})`, leases)
    } finally {
      db.close()
    }
  }
  let lease: Lease | undefined
  const engine = createEngine(config.engine, { logger: log, env: ctx.env })
  try {
    lease = await leases.take('seed', 'seed')
    if ((await unlessStopped(startEngine(engine), stop.stopped)) === STOPPED) return 130
    const r = await unlessStopped(seedTorrents(db, engine), stop.stopped)
    if (r === STOPPED) return 130
    const report = {
      engine: engine.kind,
      added: r.added,
      already: r.duplicate,
      verified: r.verified,
      failed: r.failed,
    }
    if (ctx.values.json) writeJson(ctx, report)
    else {
      ctx.out.write(
        `${engine.kind}: ${r.added} added, ${r.duplicate} already seeding, ${r.verified} verified against changed data, ${r.failed.length} failed\n`,
      )
      for (const f of r.failed) ctx.out.write(`  ${f.name}: ${f.error}\n`)
    }
    if (engine.kind === 'webtorrent' && r.failed.length === 0) {
      ctx.err.write('seeding with the embedded engine; press Ctrl-C to stop (or run `aacseed serve`)\n')
      await stop.stopped
    }
    return r.failed.length > 0 ? 1 : 0
  } finally {
    // Bounded: a stop signal means the process ends within seconds, whatever the engine does.
    await within(engine.close(), 5000)
    lease?.release()
    db.close()
  }
}

/** A run's outcome as `run` prints it; a skipped run (someone else holds it) exits 2, a failed one 1. */
function printRun(
  ctx: CommandContext,
  run: { job: string; outcome: string; counts: Record<string, number> | null; error: string | null },
  label: string,
  leases?: Leases,
): number {
  if (ctx.values.json) writeJson(ctx, run)
  else
    ctx.out.write(
      `${label}: ${run.outcome} ${JSON.stringify(run.counts ?? {})}${run.error ? ` error: ${run.error}` : ''}\n`,
    )
  if (run.outcome === 'skipped') {
    // Skipped because the same job was running: name who runs it, as a held lease does.
    const held = leases?.holderOf(run.job)
    throw held
      ? new LeaseHeldError(held)
      : new ConfigError(run.error ?? `${run.job} is already running; wait for it to finish`)
  }
  if (run.outcome === 'failed')
    throw new AacseedError('job-failed', `job ${run.job} failed: ${run.error ?? 'unknown error'}`)
  return (run.counts?.problems ?? 0) > 0 ? 1 : 0
}

export const runCommand = defineCommand({
  name: 'run',
  usage: `JOB [--json] ${WAIT_USAGE}   (JOB: ${JOB_NAMES.join(', ')})`,
  options: { json: { type: 'boolean' }, ...WAIT_OPTIONS },
  help: [...WAIT_HELP, '(in this process only: a job sent to the running serve is its to schedule)'],
  async run(ctx) {
    const name = ctx.positionals[0]
    if (ctx.positionals.length !== 1 || !JOB_NAMES.includes(name as JobName))
      throw new UsageError(`usage: aacseed run JOB, where JOB is one of ${JOB_NAMES.join(', ')}`)
    const config = ctx.config({ checkRoots: name === 'scan' })
    const [{ createEngine }, { startEngine }, { JobRunner }, { jobDefinitions }] = await Promise.all([
      import('../../engines/index.js'),
      import('../../engines/start.js'),
      import('../../jobs/index.js'),
      import('../../jobs/service.js'),
    ])
    const log = createLogger({
      level: config.log.level,
      destination: ctx.err,
      pretty: ctx.err.isTTY === true,
    })
    const db = openDatabase(config.catalog.database)
    const leases = cliLeases(db, ctx)
    const serve = leases.holderOf('serve')
    if (serve) {
      // The job runs in serve, with serve's engine and runner: never a second, empty engine here.
      try {
        const run = await runInServe(serve, name!, config, ctx.env)
        return printRun(ctx, run, `${name} (in serve, pid ${serve.pid})`, leases)
      } finally {
        db.close()
      }
    }
    const needsEngine = name === 'seed' || name === 'engine_status'
    if (needsEngine && config.engine.kind === 'webtorrent') {
      db.close()
      throw new UsageError(
        `run ${name} needs the running engine, and the embedded engine runs inside serve, which is not running on ${config.catalog.database}: start aacseed serve${name === 'seed' ? ' (or aacseed seed, which keeps seeding)' : ''}`,
      )
    }
    const engine = createEngine(config.engine, { logger: log.child({ area: 'engine' }), env: ctx.env })
    try {
      if (needsEngine) await startEngine(engine)
      const runner = new JobRunner({
        db,
        logger: log,
        jobs: jobDefinitions({ config, db, engine, logger: log, leases }),
        keepRuns: config.jobs.keep_runs,
        leases,
      })
      return printRun(ctx, await runner.runNow(name!, 'manual'), name!)
    } finally {
      await engine.close().catch(() => undefined)
      db.close()
    }
  },
})
