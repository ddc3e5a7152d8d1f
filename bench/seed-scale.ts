/**
 * bench:seed, the scale phase: `aacseed serve` (embedded WebTorrent) starting over a catalog of
 * N torrents (default 10,000): a generated mix of small metadata files (3 in 5) and data folders
 * of two small files (2 in 5) over 40 collections, cataloged and torrented once (cached under
 * .bench-cache/seed-scale-N/, not timed). Each run starts from that catalog as a restart does:
 * nothing re-hashed, since every release's data identity is the one its torrent was made from.
 *
 * Measured from the moment serve is spawned: time until the engine_status job reports all N
 * seeding, and serve's CPU time (user + sys) by then; the seed job's `verified` count (0: nothing re-hashed); the process's peak RSS (VmHWM)
 * and open descriptors (sampled every 50 ms); each engine_status run's duration (a poll of the
 * engine's state); and autocannon on /api/coverage throughout.
 *
 * Bars (issue #14 §4): all seeding within 30 s, peak RSS ≤ 1 GB, ≤ 2,000 fds, a poll ≤ 1 s,
 * /api/coverage p99 ≤ 50 ms.
 */
import autocannon from 'autocannon'
import { spawn, spawnSync } from 'node:child_process'
import {
  closeSync,
  copyFileSync,
  existsSync,
  openSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { encodeMetaFile } from '../src/catalog/index.js'
import { openDatabase } from '../src/db/index.js'
import { aacid, dataName, metaName, rec } from '../test/fixtures.js'
import { freePort } from '../test/helpers.js'

const repo = resolve(import.meta.dirname, '..', '..')
const CLI = join(repo, 'bin', 'aacseed.js')

export interface ScaleResult {
  torrents: number
  seconds: number | null
  /** serve's CPU seconds (user + sys, from /proc/PID/stat) when all were seeding; null if never. */
  cpu: { user: number; sys: number } | null
  verified: number | null
  peakRssMb: number
  peakFds: number
  pollMs: { p50: number; max: number; runs: number }
  coverage: { p99: number; requests: number; errors: number }
  /**
   * What the tracker knows once all are seeding (polled until it lists all N or 30 s pass): the
   * torrents it has a peer for, and whether that peer (serve) is a seeder in every one and a
   * leecher in none; the seconds after serve started when it listed all N (null: never).
   */
  tracker: { torrents: number; seederOnly: boolean; seconds: number | null }
}

function tree(cache: string, n: number): void {
  const root = join(cache, 'releases')
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })
  for (let i = 0; i < n; i++) {
    const c = `s${String(i % 40).padStart(2, '0')}_files`
    const from = Math.floor(i / 40) * 10
    if (i % 5 < 3)
      writeFileSync(join(root, metaName(c, from, from + 9)), encodeMetaFile([rec(aacid(c, from + 1))]))
    else {
      const dir = join(root, dataName(c, from, from + 9))
      mkdirSync(dir)
      for (let k = 1; k <= 2; k++)
        writeFileSync(join(dir, aacid(c, from + k)), Buffer.alloc(2000 + ((i * 7 + k) % 3000), i & 0xff))
    }
  }
}

function config(work: string, cache: string, http: number, peer: number, tracker: string): string {
  const path = join(work, 'aacseed.toml')
  writeFileSync(
    path,
    [
      '[catalog]',
      `roots = [${JSON.stringify(join(cache, 'releases'))}]`,
      `database = ${JSON.stringify(join(work, 'aacseed.db'))}`,
      '[torrents]',
      `out_dir = ${JSON.stringify(join(cache, 'torrents'))}`,
      'list_path = ""',
      '[engine.webtorrent]',
      'host = "127.0.0.1"',
      `port = ${peer}`,
      'dht = false',
      'lsd = false',
      `trackers = [${JSON.stringify(tracker)}]`,
      '[jobs]',
      'engine_status = "* * * * * *"',
      '[http]',
      'enabled = true',
      'host = "127.0.0.1"',
      `port = ${http}`,
      '',
    ].join('\n'),
  )
  return path
}

/** Cataloged and torrented once; returns the prepared database. */
export function prepareScale(cache: string, n: number): string {
  const prepared = join(cache, 'prepared.db')
  if (existsSync(join(cache, 'complete'))) return prepared
  rmSync(cache, { recursive: true, force: true })
  mkdirSync(cache, { recursive: true })
  console.log(
    `  generating ${n.toLocaleString('en')} releases, cataloging and torrenting them (once; cached in ${cache})…`,
  )
  const t0 = performance.now()
  tree(cache, n)
  const work = join(cache, 'prepare')
  mkdirSync(work, { recursive: true })
  const cfg = config(work, cache, 0, 0, 'http://127.0.0.1:1/announce')
  for (const args of [['scan'], ['torrents', 'make']]) {
    // stdout ignored: `torrents make` prints a line per torrent, past spawnSync's buffer.
    const r = spawnSync(process.execPath, [CLI, ...args, '--config', cfg], {
      cwd: work,
      encoding: 'utf8',
      stdio: ['ignore', 'ignore', 'pipe'],
      maxBuffer: 64 << 20,
    })
    if (r.status !== 0)
      throw new Error(`aacseed ${args.join(' ')} exited ${r.status}: ${r.stderr.slice(-2000)}`)
  }
  copyFileSync(join(work, 'aacseed.db'), prepared)
  rmSync(work, { recursive: true, force: true })
  writeFileSync(join(cache, 'complete'), '')
  console.log(`  prepared in ${((performance.now() - t0) / 1000).toFixed(0)} s`)
  return prepared
}

function procStatusKb(pid: number, field: string): number | null {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : null
  } catch {
    return null
  }
}

/** utime and stime of a process, in seconds (USER_HZ = 100); null once it is gone. */
function cpuTimes(pid: number): { user: number; sys: number } | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
    return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 }
  } catch {
    return null
  }
}

function fdCount(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length
  } catch {
    return 0
  }
}

interface Runs {
  seeding: number
  verified: number | null
  polls: number[]
}

function readRuns(dbPath: string): Runs {
  const db = openDatabase(dbPath, { readonly: true })
  try {
    const rows = db
      .prepare(
        "SELECT job, counts, started_at AS startedAt, finished_at AS finishedAt FROM job_runs WHERE job IN ('engine_status', 'seed') AND outcome = 'ok' ORDER BY id",
      )
      .all() as Array<{ job: string; counts: string | null; startedAt: string; finishedAt: string }>
    const status = rows.filter((r) => r.job === 'engine_status')
    const seed = rows.find((r) => r.job === 'seed')
    const last = status.at(-1)
    return {
      seeding: last?.counts ? ((JSON.parse(last.counts) as { seeding?: number }).seeding ?? 0) : 0,
      verified: seed?.counts ? ((JSON.parse(seed.counts) as { verified?: number }).verified ?? null) : null,
      polls: status.map((r) => Date.parse(r.finishedAt) - Date.parse(r.startedAt)),
    }
  } catch {
    return { seeding: 0, verified: null, polls: [] }
  } finally {
    db.close()
  }
}

export const scaleCache = (n: number): string => join(repo, '.bench-cache', `seed-scale-${n}`)

/**
 * The tracker every torrent announces to, a process of its own (bittorrent-tracker's command,
 * HTTP only): in the benchmark's process it would answer only between autocannon's requests.
 */
interface TrackerStats {
  activeTorrents: number
  peersSeederOnly: number
  peersLeecherOnly: number
  peersSeederAndLeecher: number
}

/** bittorrent-tracker's /stats.json, next to the announce URL; null if it does not answer. */
async function trackerStats(announce: string): Promise<TrackerStats | null> {
  return fetch(announce.replace(/\/announce$/, '/stats.json'))
    .then((r) => (r.ok ? (r.json() as Promise<TrackerStats>) : null))
    .catch(() => null)
}

async function trackerProcess(ctx: TestContext): Promise<string> {
  const port = await freePort()
  const child = spawn(
    process.execPath,
    [
      join(repo, 'node_modules', 'bittorrent-tracker', 'bin', 'cmd.js'),
      '--http',
      '--port',
      String(port),
      '--http-hostname',
      '127.0.0.1',
      '--silent',
    ],
    { stdio: 'ignore' },
  )
  const exited = new Promise((res) => child.once('exit', res))
  ctx.after(async () => {
    child.kill('SIGTERM')
    await exited
  })
  const announce = `http://127.0.0.1:${port}/announce`
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${port}/stats.json`)
      .then(() => true)
      .catch(() => false)
    if (up) return announce
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error('the tracker did not start')
}

export async function seedScale(ctx: TestContext, n: number, timeoutS: number): Promise<ScaleResult> {
  const cache = scaleCache(n)
  const prepared = prepareScale(cache, n)
  const work = join(cache, `run-${process.pid}`)
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work, { recursive: true })
  ctx.after(() => rmSync(work, { recursive: true, force: true }))
  copyFileSync(prepared, join(work, 'aacseed.db'))
  const tracker = await trackerProcess(ctx)
  const httpPort = await freePort()
  const cfg = config(work, cache, httpPort, await freePort(), tracker)
  const dbPath = join(work, 'aacseed.db')

  const started = performance.now()
  // Its log, kept from the last run for a look afterwards.
  const log = openSync(join(cache, 'serve.log'), 'w')
  // BENCH_CPU_PROF=DIR: a CPU profile of serve into DIR (written when it stops).
  const prof = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`]
    : []
  const child = spawn(process.execPath, [...prof, CLI, 'serve', '--config', cfg], {
    cwd: work,
    stdio: ['ignore', log, log],
  })
  closeSync(log)
  const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
  ctx.after(async () => {
    child.kill('SIGTERM')
    await exited
  })
  const pid = child.pid!
  let peakRss = 0
  let peakFds = 0
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, procStatusKb(pid, 'VmHWM') ?? 0)
    peakFds = Math.max(peakFds, fdCount(pid))
  }, 50)

  // Autocannon on /api/coverage from the moment the API answers until all are seeding.
  let cannon: ReturnType<typeof autocannon> | null = null
  let seconds: number | null = null
  let cpu: ScaleResult['cpu'] = null
  let runs: Runs = { seeding: 0, verified: null, polls: [] }
  const deadline = started + timeoutS * 1000
  while (performance.now() < deadline) {
    if (cannon === null) {
      const up = await fetch(`http://127.0.0.1:${httpPort}/api/coverage`)
        .then((r) => r.ok)
        .catch(() => false)
      if (up)
        cannon = autocannon({
          url: `http://127.0.0.1:${httpPort}/api/coverage`,
          connections: 10,
          duration: timeoutS,
        })
    }
    runs = readRuns(dbPath)
    if (runs.seeding >= n) {
      seconds = (performance.now() - started) / 1000
      // CPU time, not wall: on a shared machine it is what compares one build with another.
      cpu = cpuTimes(pid)
      break
    }
    await new Promise((r) => setTimeout(r, 200))
  }
  // Every torrent must also be announced, as a seeder: polled (and a few more polls of the engine
  // made meanwhile) for at least 3 s and until the tracker lists all, for at most 30 s.
  let stats: TrackerStats | null = null
  let trackerSeconds: number | null = null
  const settled = performance.now() + 3000
  const giveUp = performance.now() + 30_000
  while (performance.now() < giveUp) {
    stats = await trackerStats(tracker)
    if (trackerSeconds === null && stats && stats.activeTorrents >= n)
      trackerSeconds = (performance.now() - started) / 1000
    if (trackerSeconds !== null && performance.now() >= settled) break
    await new Promise((r) => setTimeout(r, 200))
  }
  runs = readRuns(dbPath)
  const running = cannon as ReturnType<typeof autocannon> | null
  running?.stop()
  const result = running ? await running : null
  clearInterval(sampler)
  const polls = [...runs.polls].sort((a, b) => a - b)
  return {
    torrents: n,
    seconds,
    cpu,
    verified: runs.verified,
    peakRssMb: peakRss / 1024,
    peakFds,
    pollMs: { p50: polls[Math.floor(polls.length / 2)] ?? NaN, max: polls.at(-1) ?? NaN, runs: polls.length },
    coverage: {
      p99: result?.latency.p99 ?? NaN,
      requests: result?.requests.total ?? 0,
      errors: result ? result.errors + result.timeouts + result.non2xx : 0,
    },
    tracker: {
      torrents: stats?.activeTorrents ?? 0,
      seederOnly:
        stats !== null &&
        stats.peersSeederOnly === 1 &&
        stats.peersLeecherOnly === 0 &&
        stats.peersSeederAndLeecher === 0,
      seconds: trackerSeconds,
    },
  }
}
