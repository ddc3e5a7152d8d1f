import { existsSync } from 'node:fs'
import { resolve } from 'node:path'
import type { Command } from '../command.js'

export interface PrestartContext {
  /**
   * The command's arguments (after its name), unparsed: only a hint (the command parses them
   * itself), as its options are not loaded yet.
   */
  args: string[]
  env: NodeJS.ProcessEnv
  cwd: string
}

export interface CommandEntry {
  name: string
  /** One line for `aacseed --help` and a command's own help: here, so listing loads no command. */
  summary: string
  load(): Promise<Command>
  /**
   * Work that may begin while the command's modules load and its config and catalog are read:
   * it runs on the core that single-threaded start-up leaves idle. Not run for --help. A failure
   * is ignored: the command does the same work itself, and reports what went wrong.
   */
  prestart?(ctx: PrestartContext): Promise<void>
  /**
   * Started by bin/aacseed.js before the rest of the CLI loads, from the bare arguments: for threads
   * that take long to boot, so that they boot beside the process's own single-threaded start-up
   * rather than after it, and for work to hand them. Not run for --help; a failure is ignored, as
   * `prestart`'s is. A command with `early` runs its `prestart` only when `early` did not run.
   */
  early?(ctx: PrestartContext): Promise<void>
  /**
   * The command's modules and config load only once `prestart` has settled: for a prestart that
   * sets work going as early as it can (torrents make's head start), which loading beside it
   * would hold back.
   */
  prestartFirst?: boolean
  /**
   * Once `run` returns, nothing of the command is left running (its files are written and
   * synced, its database closed, its workers stopped), so the process may end then rather than
   * after Node's own teardown (~20 ms on the 2-core bench machine; see `exitsWhenDone`).
   */
  exitWhenDone?: boolean
}

/**
 * Every CLI command, in the order `aacseed --help` lists them. Loaded on demand: `aacseed scan`
 * should not pay for loading WebTorrent, Fastify and the fleet code it never uses.
 */
export const commandEntries: CommandEntry[] = [
  {
    name: 'scan',
    summary: 'catalog release roots into the database (incremental)',
    load: async () => (await import('./catalog.js')).scanCommand,
    // Filling a new catalog (`--db` names a file that does not exist yet): the reader threads
    // boot while the command's modules load (runScan takes them; see prestartReaders).
    prestart: async ({ args }) => {
      const db = dbArgument(args)
      if (db === undefined || db === ':memory:' || existsSync(resolve(db))) return
      ;(await import('../../catalog/line-pool.js')).prestartReaders()
    },
    // runScan closes the catalog and stops the reader threads (their connections close, the last
    // one checkpointing the WAL back) before it returns.
    exitWhenDone: true,
  },
  {
    name: 'validate',
    summary: 'check metadata files, data folders or whole roots against the standard, without a database',
    load: async () => (await import('./catalog.js')).validateCommand,
  },
  {
    name: 'get',
    summary: 'print one record by its AACID, read straight from its metadata file',
    load: async () => (await import('./catalog.js')).getCommand,
  },
  {
    name: 'torrents make',
    summary:
      'make the missing .torrent files for everything cataloged and problem-free, and publish the list',
    load: async () => (await import('./torrents.js')).torrentsMake,
    // A hash worker takes ~50 ms of CPU to boot: it starts first, beside the loading of the CLI,
    // and is handed the first torrent (torrents/head-start.ts) as soon as the config and the
    // catalog are read, before the CLI itself loads, so that it waits for work as little as can be.
    early: async (ctx) => {
      ;(await import('../../torrents/hash-pool.js')).prestartHashWorkers()
      ;(await import('../../torrents/head-start.js')).torrentsMakeHeadStart(ctx)
    },
    // The same when the CLI runs without bin/aacseed.js's `early` (main called in a process).
    prestart: async (ctx) => {
      if (earlyStarted) return
      ;(await import('../../torrents/hash-pool.js')).prestartHashWorkers()
      ;(await import('../../torrents/head-start.js')).torrentsMakeHeadStart(ctx)
    },
    prestartFirst: true,
    exitWhenDone: true,
  },
  {
    name: 'torrents list',
    summary: "print the torrent list (JSON compatible with Anna's Archive's, magnet links, or CSV)",
    load: async () => (await import('./torrents.js')).torrentsList,
  },
  {
    name: 'coverage',
    summary:
      'show how well each collection is kept: held here, torrented, seeded, on seedboxes, in the swarm; gaps and overlaps',
    load: async () => (await import('./coverage.js')).coverageCommand,
  },
  {
    name: 'serve',
    summary: 'run the service: seed, and keep the catalog, torrents and engine status up to date on schedule',
    load: async () => (await import('./service.js')).serveCommand,
  },
  {
    name: 'seed',
    summary: 'hand every made torrent to the engine and report; with webtorrent, keep seeding until Ctrl-C',
    load: async () => (await import('./service.js')).seedCommand,
  },
  {
    name: 'jobs',
    summary: 'show recent job runs (start, end, outcome, counts, error)',
    load: async () => (await import('./jobs.js')).jobsCommand,
  },
  {
    name: 'run',
    summary: 'run one job now and record it: in the running serve when there is one, else in this process',
    load: async () => (await import('./service.js')).runCommand,
  },
  {
    name: 'fleet plan',
    summary:
      'show which seedbox should hold which torrent: additions, removals, and torrents that cannot reach N',
    load: async () => (await import('./fleet.js')).fleetPlan,
  },
  {
    name: 'fleet apply',
    summary: 'poll, plan, and push the missing placements (and remove extras, with fleet.remove_extra)',
    load: async () => (await import('./fleet.js')).fleetApply,
  },
  {
    name: 'fleet status',
    summary:
      "seedboxes (up/down, last seen, RPC latency, free space, torrents, errors) and every torrent's copies and health",
    load: async () => (await import('./fleet.js')).fleetStatus,
  },
  {
    name: 'mirror sources',
    summary: 'fetch each mirror source and show what it offers',
    load: async () => (await import('./mirror.js')).mirrorSources,
  },
  {
    name: 'mirror sync',
    summary:
      'fetch the ranges the mirror sources list and this machine lacks; verify, catalog and publish them',
    load: async () => (await import('./mirror.js')).mirrorSync,
    // The thread that reads a source's list into the catalog (and the parser thread it runs)
    // boots beside the loading of the CLI and of webtorrent, rather than after it: see
    // prestartListWorker. A dry run reads the lists on this thread, through the parser alone.
    early: async ({ args }) => {
      if (asksForHelp(args)) return
      const { prestartListWorker } = await import('../../mirror/list-read.js')
      prestartListWorker(args.includes('--dry-run') ? './list-worker.js' : './list-store-worker.js')
    },
    // Its run closes the engine (every torrent removed, `stopped` announced), the list threads
    // and the catalog before it returns; the downloaded files are placed and published by then.
    exitWhenDone: true,
  },
  {
    name: 'mirror status',
    summary: 'show the mirror downloads: queued, downloading, done and rejected',
    load: async () => (await import('./mirror.js')).mirrorStatus,
  },
  {
    name: 'plan',
    summary: 'choose the upstream torrents that help the archive most for a disk budget',
    load: async () => (await import('./mirror.js')).planCommand,
  },
  {
    name: 'health',
    summary:
      'everything that needs attention: seedboxes down, torrents below N or lost, copies in error, trackers failing, mirror troubles',
    load: async () => (await import('./fleet.js')).healthCommand,
  },
  {
    name: 'config',
    summary: 'show which config file is in use and the settings as resolved; secrets only as set or unset',
    load: async () => (await import('./config.js')).configCommand,
  },
  {
    name: 'doctor',
    summary: 'check this machine: Node, paths, disk, ports, engine, seedboxes, clocks, the systemd unit',
    load: async () => (await import('./doctor.js')).doctorCommand,
  },
  {
    name: 'demo',
    summary: 'write a sample release tree and catalog it',
    load: async () => (await import('./catalog.js')).demoCommand,
  },
  {
    name: 'aacid parse',
    summary: 'parse an AACID and print its parts as JSON',
    load: async () => (await import('./aacid.js')).aacidParse,
  },
  {
    name: 'aacid new',
    summary: 'make a new AACID (the id is truncated or dropped to keep it within 150 characters)',
    load: async () => (await import('./aacid.js')).aacidNew,
  },
]

/** The command an invocation names (by two words, else one), and the arguments after its name. */
export function findCommand(argv: string[]): [CommandEntry | undefined, string[]] {
  const two = `${argv[0]} ${argv[1] ?? ''}`
  const byTwo = commandEntries.find((c) => c.name === two)
  if (byTwo) return [byTwo, argv.slice(2)]
  const byOne = commandEntries.find((c) => c.name === argv[0])
  return [byOne, argv.slice(1)]
}

/** Whether a command's arguments ask for its help rather than to run it. */
export function asksForHelp(args: string[]): boolean {
  return args.some((a) => a === '--help' || a === '-h')
}

/** Whether `startEarly` ran a command's `early` work in this process (then `prestart` need not). */
let earlyStarted = false

/** Runs the `early` work of the command `argv` names (bin/aacseed.js, before the CLI loads). */
export async function startEarly(argv: string[]): Promise<void> {
  const [entry, rest] = findCommand(argv)
  if (!entry?.early || asksForHelp(rest)) return
  earlyStarted = true
  await entry.early({ args: rest, env: process.env, cwd: process.cwd() }).catch(() => {})
}

/** The value of `--db` in a command's unparsed arguments, if it has one. */
function dbArgument(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!
    if (a === '--') return undefined
    if (a === '--db') return args[i + 1]
    if (a.startsWith('--db=')) return a.slice('--db='.length)
  }
  return undefined
}
