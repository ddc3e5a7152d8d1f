/**
 * npm run bench:seed — seeding: upload speed against qBittorrent, time to seeding after a
 * restart, and 10,000 torrents in one engine.
 *
 * upload: a 2 GiB data folder (about 360 AACID-named blobs, generated once under
 *   .bench-cache/seed/) is seeded in turn by `aacseed serve` (embedded WebTorrent) and by
 *   qbittorrent-nox 4.5 (libtorrent; given the same .torrent against the same data), one seeder
 *   running at a time, and downloaded from each by aria2c and by libtorrent's Python binding
 *   (python3-libtorrent; uTP off on both ends of loopback: its uTP crawls there), over loopback
 *   with a local tracker, every piece checked by the downloader and the bytes counted. Rounds are
 *   interleaved (the seeder going first alternates); medians are compared. Per download: the
 *   time, the seeder's CPU seconds (utime + stime from /proc/PID/stat) and its peak RssAnon
 *   (sampled from /proc/PID/status: anonymous memory, without the page cache of mapped files).
 *   Bars: aacseed's time ≤ 1.0 × qBittorrent's and its CPU ≤ qBittorrent's, for each downloader;
 *   aacseed's peak RssAnon ≤ 256 MB. Each libtorrent download also prints its timeline (the same
 *   sampling for both seeders; `--timeline off` leaves it out): when the first byte and 10/50/90%
 *   were verified, the rate between 10% and 90%, the tail, the downloader's CPU seconds, and what
 *   libtorrent's peer waited for.
 * transmission: aria2c once from a tuned transmission-daemon 3.00 (bar: ours ≤ 1.5 × its time).
 * restart: `aacseed serve` restarted: time from start to seeding (no re-hash).
 * scale: ./seed-scale.ts (bars: 10,000 seeding ≤ 30 s, RSS ≤ 1 GB, ≤ 2,000 fds, a poll ≤ 1 s,
 *   /api/coverage p99 ≤ 50 ms).
 *
 *   npm run bench:seed                                        everything, at full size
 *   npm run bench:seed -- --phases upload --rounds 3          one phase
 *   npm run bench:seed -- --mib 256 --rounds 1 --torrents 1000   a small run
 *   npm run bench:seed -- --phases upload --rounds 1 --seeders aacseed --downloaders libtorrent \
 *     --serve-node-args='--cpu-prof --cpu-prof-dir=/tmp/prof'   one side only, serve profiled
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { parseArgs } from 'node:util'
import { createRemoteEngine } from '../src/engines/remote.js'
import { startDaemon } from '../test/engines/daemons.js'
import { scaleCache, seedScale } from './seed-scale.js'
import { aria2cDownload, infoHashOf, startTracker, startTransmission } from '../test/engines/fixtures.js'
import { freePort, waitFor } from '../test/helpers.js'
import { openDatabase } from '../src/db/index.js'
import { ensureData, FOLDER, SEED_CACHE, TOTAL } from './data.js'

const { values: args } = parseArgs({
  options: {
    phases: { type: 'string', default: 'upload,transmission,restart,scale' },
    rounds: { type: 'string', default: '3' },
    mib: { type: 'string' },
    torrents: { type: 'string', default: '10000' },
    'scale-timeout': { type: 'string', default: '120' },
    // Development A/B runs: one seeder or one downloader only (the bars need both of each).
    seeders: { type: 'string', default: 'aacseed,qbittorrent' },
    downloaders: { type: 'string', default: 'aria2c,libtorrent' },
    // Node options for `aacseed serve`, split on spaces (e.g. '--cpu-prof --cpu-prof-dir=DIR').
    'serve-node-args': { type: 'string', default: '' },
    // Each libtorrent download's timeline (on|off): first byte, rate between 10% and 90%, the
    // tail, the downloader's CPU, and what libtorrent's peer waited for (libtorrent-download.py).
    timeline: { type: 'string', default: 'on' },
  },
})
const PHASES = new Set(args.phases.split(','))
const ROUNDS = Number(args.rounds)
const DATA_BYTES = args.mib === undefined ? TOTAL : Number(args.mib) * 2 ** 20
const SCALE_TORRENTS = Number(args.torrents)
if (args.timeline !== 'on' && args.timeline !== 'off')
  throw new Error(`--timeline: on or off, not ${args.timeline}`)

const repo = resolve(import.meta.dirname, '..', '..')
const cache = DATA_BYTES === TOTAL ? SEED_CACHE : `${SEED_CACHE}-${DATA_BYTES}`

// The fixtures take a test context for clean-up; the benchmark gives them its own.
const cleanups: Array<() => unknown> = []
const ctx = {
  after: (fn: () => unknown) => cleanups.push(fn),
  diagnostic: () => {},
  skip: () => {},
} as unknown as TestContext

function serve(dir: string, config: string): { child: ChildProcess; exited: Promise<number | null> } {
  const nodeArgs = args['serve-node-args'].split(' ').filter((a) => a !== '')
  const child = spawn(
    process.execPath,
    [...nodeArgs, join(repo, 'bin', 'aacseed.js'), 'serve', '--config', config],
    {
      cwd: dir,
      stdio: 'ignore',
    },
  )
  const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
  cleanups.push(() => child.kill('SIGKILL'))
  if (nodeArgs.length > 0) console.log(`serve pid ${child.pid}`)
  return { child, exited }
}

function seedingCount(dbPath: string, sinceId: number): number {
  if (!existsSync(dbPath)) return 0
  const db = openDatabase(dbPath, { readonly: true })
  try {
    // serve creates the database file before it migrates it.
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'job_runs'").get()) return 0
    const rows = db
      .prepare(
        "SELECT counts FROM job_runs WHERE job = 'engine_status' AND outcome = 'ok' AND id > ? ORDER BY id DESC LIMIT 1",
      )
      .all(sinceId) as Array<{ counts: string }>
    return rows[0] ? (JSON.parse(rows[0].counts) as { seeding: number }).seeding : 0
  } finally {
    db.close()
  }
}

function lastRunId(dbPath: string): number {
  if (!existsSync(dbPath)) return 0
  const db = openDatabase(dbPath, { readonly: true })
  try {
    if (!db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'job_runs'").get()) return 0
    return (db.prepare('SELECT coalesce(max(id), 0) FROM job_runs').pluck().get() as number) ?? 0
  } finally {
    db.close()
  }
}

type Downloader = 'aria2c' | 'libtorrent'

async function libtorrentDownload(
  torrentPath: string,
  outDir: string,
  timeoutS: number,
  timeline?: string,
): Promise<void> {
  const child = spawn(
    '/usr/bin/python3',
    [
      join(repo, 'bench', 'libtorrent-download.py'),
      torrentPath,
      outDir,
      String(timeoutS),
      ...(timeline ? [timeline] : []),
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  cleanups.push(() => child.kill('SIGKILL'))
  let err = ''
  child.stderr.on('data', (d: Buffer) => (err += d.toString()))
  const code = await new Promise<number | null>((res) => child.once('exit', res))
  if (code !== 0) throw new Error(`libtorrent download exited ${code}: ${err}`)
}

/** utime and stime of a process, in seconds (USER_HZ = 100). */
function cpuTimes(pid: number): { user: number; sys: number } {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')
  return { user: Number(fields[11]) / 100, sys: Number(fields[12]) / 100 }
}

function rssAnonKb(pid: number): number {
  const m = /^RssAnon:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) : 0
}

interface Download {
  seconds: number
  /** The seeder's CPU seconds during the download, and its peak RssAnon (MB); null without a pid. */
  cpu: number | null
  /** The kernel's part of `cpu` (stime). */
  sys: number | null
  rssAnonMb: number | null
  /** With `--timeline on` (the default), for libtorrent: a one-line summary of the download's timeline. */
  timeline?: string
}

interface TimelineSample {
  t: number
  done: number
  rate: number
  cpu: number
  peers: Array<{ queue: number; read: number; write: number; rate: number; choked: boolean }>
}

/** libtorrent's peer_info read_state bits. */
const BW_NETWORK = 4
const BW_DISK = 16

/**
 * One line for a libtorrent timeline: when the first byte and 10/50/90% were verified, the rate
 * between 10% and 90%, the last 10% (the tail), the downloader's CPU, and over the samples while
 * downloading, libtorrent's mean requests in flight and how often reading waited for the
 * network (the seeder) or the disk (libtorrent itself).
 */
function summariseTimeline(path: string, total: number): string {
  const xs = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as TimelineSample)
  const at = (f: number): number => xs.find((x) => x.done >= f * total)?.t ?? NaN
  const first = xs.find((x) => x.done > 0)?.t ?? NaN
  const [t10, t50, t90] = [at(0.1), at(0.5), at(0.9)]
  const end = xs[xs.length - 1]!
  const steady = (0.8 * total) / (t90 - t10) / 2 ** 20
  const active = xs.filter((x) => x.done > 0 && x.done < total && x.peers.length > 0)
  const peers = active.flatMap((x) => x.peers)
  const share = (bit: number): string =>
    `${((100 * peers.filter((p) => (p.read & bit) !== 0).length) / Math.max(1, peers.length)).toFixed(0)}%`
  const queue = peers.reduce((n, p) => n + p.queue, 0) / Math.max(1, peers.length)
  return (
    `first byte ${first.toFixed(2)} s, 10% ${t10.toFixed(2)}, 50% ${t50.toFixed(2)}, 90% ${t90.toFixed(2)}, ` +
    `done ${end.t.toFixed(2)} s; 10-90% ${steady.toFixed(0)} MiB/s; tail ${(end.t - t90).toFixed(2)} s; ` +
    `downloader CPU ${end.cpu.toFixed(2)} s; in flight ${queue.toFixed(0)} blocks; ` +
    `waiting for network ${share(BW_NETWORK)}, disk ${share(BW_DISK)}`
  )
}

let downloads = 0

async function timedDownload(
  torrentPath: string,
  by: Downloader = 'aria2c',
  seederPid?: number,
): Promise<Download> {
  const out = join(cache, `download-${process.pid}`)
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out)
  let peak = 0
  const sample = (): void => {
    if (seederPid !== undefined) peak = Math.max(peak, rssAnonKb(seederPid))
  }
  const cpu0 = seederPid === undefined ? null : cpuTimes(seederPid)
  const sampler = setInterval(sample, 100)
  const timeline =
    args.timeline === 'on' && by === 'libtorrent' ? `${out}.timeline-${++downloads}` : undefined
  const started = process.hrtime.bigint()
  try {
    if (by === 'aria2c') await aria2cDownload(ctx, torrentPath, out, 900_000)
    else await libtorrentDownload(torrentPath, out, 900, timeline)
  } finally {
    clearInterval(sampler)
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  sample()
  const cpu1 = seederPid === undefined ? null : cpuTimes(seederPid)
  const cpu = cpu0 && cpu1 ? cpu1.user + cpu1.sys - cpu0.user - cpu0.sys : null
  const sys = cpu0 && cpu1 ? cpu1.sys - cpu0.sys : null
  const got = readdirSync(join(out, FOLDER)).reduce((n, f) => n + statSync(join(out, FOLDER, f)).size, 0)
  rmSync(out, { recursive: true, force: true })
  if (got !== DATA_BYTES) throw new Error(`${by} downloaded ${got} bytes, expected ${DATA_BYTES}`)
  let summary: string | undefined
  if (timeline) {
    summary = summariseTimeline(timeline, DATA_BYTES)
    rmSync(timeline, { force: true })
  }
  return {
    seconds,
    cpu,
    sys,
    rssAnonMb: seederPid === undefined ? null : peak / 1024,
    ...(summary ? { timeline: summary } : {}),
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

async function main(): Promise<void> {
  const needsRelease = ['upload', 'transmission', 'restart'].some((p) => PHASES.has(p))
  const root = needsRelease ? ensureData(DATA_BYTES) : ''
  const dir = join(cache, 'run')
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const tracker = await startTracker(ctx)
  const dbPath = join(dir, 'aacseed.db')
  const config = join(dir, 'aacseed.toml')
  writeFileSync(
    config,
    `[catalog]\nroots = [${JSON.stringify(root)}]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = ""\nannounce = [["${tracker.announce}"]]\n` +
      `[engine.webtorrent]\nhost = "127.0.0.1"\nport = ${await freePort()}\ndht = false\nlsd = false\n[jobs]\nengine_status = "* * * * * *"\n[http]\nenabled = false\n`,
  )
  const torrentPath = join(dir, 'torrents', `${FOLDER}.torrent`)
  const out: string[] = []
  const checks: Array<[string, boolean]> = []
  const line = (k: string, v: string): void => void out.push(`${k.padEnd(44)} ${v}`)
  let s: ReturnType<typeof serve>
  let since = 0
  if (needsRelease) {
    const files = readdirSync(join(root, FOLDER)).length
    line('data', `${FOLDER} (${(DATA_BYTES / 2 ** 20).toFixed(0)} MiB, ${files} files)`)
    // Catalog, torrent and first seeding (hashes the data once; not timed).
    s = serve(dir, config)
    await waitFor('aacseed seeding', () => seedingCount(dbPath, 0) === 1, 300_000, 200)
    since = lastRunId(dbPath)
    s.child.kill('SIGTERM')
    await s.exited
  }
  const startServe = async (): Promise<ReturnType<typeof serve>> => {
    since = lastRunId(dbPath)
    const x = serve(dir, config)
    await waitFor('aacseed seeding', () => seedingCount(dbPath, since) === 1, 120_000, 100)
    return x
  }

  if (PHASES.has('upload')) {
    const seeders = args.seeders.split(',')
    const downloaders = args.downloaders.split(',').map((d): Downloader => {
      if (d !== 'aria2c' && d !== 'libtorrent') throw new Error(`--downloaders: unknown downloader ${d}`)
      return d
    })
    for (const x of seeders)
      if (x !== 'aacseed' && x !== 'qbittorrent') throw new Error(`--seeders: unknown seeder ${x}`)
    const qbt = seeders.includes('qbittorrent')
      ? await startDaemon(ctx, 'qbittorrent', join(dir, 'qbittorrent'))
      : null
    const engine = qbt ? createRemoteEngine('qbittorrent', qbt.settings) : null
    const torrent = readFileSync(torrentPath)
    const infoHash = infoHashOf(torrent)
    if (qbt && engine) {
      await engine.add({ torrent, infoHash, name: FOLDER, dataDir: root, verify: true })
      await waitFor(
        'qBittorrent seeding',
        async () => (await engine.list()).some((x) => x.infoHash === infoHash && x.state === 'seeding'),
        300_000,
        200,
      )
      await qbt.kill('SIGTERM')
    }
    const startQbt = async (): Promise<number> => {
      if (!qbt || !engine) throw new Error('qBittorrent is not among --seeders')
      await qbt.start()
      await waitFor(
        'qBittorrent seeding after a restart',
        async () =>
          (await engine.list().catch(() => [])).some((x) => x.infoHash === infoHash && x.state === 'seeding'),
        120_000,
        100,
      )
      return qbt.pid!()!
    }
    const results: Record<string, Download[]> = {}
    const record = (seeder: string, by: Downloader, d: Download): void =>
      void (results[`${seeder} ${by}`] ??= []).push(d)
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? ['aacseed', 'qbittorrent'] : ['qbittorrent', 'aacseed']
      for (const seeder of order.filter((x) => seeders.includes(x))) {
        if (seeder === 'aacseed') {
          const x = await startServe()
          for (const by of downloaders) record(seeder, by, await timedDownload(torrentPath, by, x.child.pid))
          x.child.kill('SIGTERM')
          await x.exited
        } else {
          const pid = await startQbt()
          for (const by of downloaders) record(seeder, by, await timedDownload(torrentPath, by, pid))
          await qbt!.kill('SIGTERM')
        }
      }
    }
    line('upload', `median of ${ROUNDS} interleaved round(s); uTP off; loopback, local tracker`)
    line('seeder / downloader', 'time (each round)        seeder CPU (of it sys)   peak RssAnon')
    for (const seeder of seeders)
      for (const by of downloaders) {
        const r = results[`${seeder} ${by}`]!
        line(
          `  ${seeder === 'aacseed' ? 'aacseed serve (WebTorrent)' : 'qbittorrent-nox'} / ${by}`,
          `${median(r.map((x) => x.seconds)).toFixed(2)} s (${r.map((x) => x.seconds.toFixed(1)).join(', ')})   ${median(r.map((x) => x.cpu!)).toFixed(2)} s (${median(r.map((x) => x.sys!)).toFixed(2)} s)   ${Math.max(...r.map((x) => x.rssAnonMb!)).toFixed(0)} MB`,
        )
      }
    for (const [key, r] of Object.entries(results))
      r.forEach((d, i) => d.timeline && line(`  timeline ${key}, round ${i + 1}`, d.timeline))
    for (const by of downloaders) {
      const ours = results[`aacseed ${by}`]
      const theirs = results[`qbittorrent ${by}`]
      if (!ours || !theirs) continue
      const ratio = median(ours.map((x) => x.seconds)) / median(theirs.map((x) => x.seconds))
      const cpu = [median(ours.map((x) => x.cpu!)), median(theirs.map((x) => x.cpu!))] as const
      checks.push([`${by}: time ratio aacseed / qBittorrent ${ratio.toFixed(2)} <= 1.0`, ratio <= 1.0])
      checks.push([
        `${by}: seeder CPU ${cpu[0].toFixed(2)} s <= qBittorrent's ${cpu[1].toFixed(2)} s`,
        cpu[0] <= cpu[1],
      ])
    }
    const anon = Object.entries(results)
      .filter(([k]) => k.startsWith('aacseed'))
      .flatMap(([, r]) => r.map((x) => x.rssAnonMb!))
    if (anon.length > 0) {
      const peak = Math.max(...anon)
      checks.push([`aacseed peak RssAnon ${peak.toFixed(0)} MB <= 256`, peak <= 256])
    }
  }

  if (PHASES.has('transmission') || PHASES.has('restart')) {
    // The time to beat for Transmission: ours, aria2c, one download.
    s = await startServe()
    const ours = await timedDownload(torrentPath)
    s.child.kill('SIGTERM')
    await s.exited
    line('aria2c from aacseed (WebTorrent)', `${ours.seconds.toFixed(2)} s`)

    if (PHASES.has('restart')) {
      since = lastRunId(dbPath)
      const restartStarted = process.hrtime.bigint()
      s = serve(dir, config)
      await waitFor('aacseed seeding after restart', () => seedingCount(dbPath, since) === 1, 60_000, 20)
      const restart = Number(process.hrtime.bigint() - restartStarted) / 1e9
      s.child.kill('SIGTERM')
      await s.exited
      line('time to seeding after restart', `${restart.toFixed(2)} s`)
    }

    if (PHASES.has('transmission')) {
      const daemon = await startTransmission(ctx, join(dir, 'transmission'))
      const added = await daemon.rpc('torrent-add', {
        metainfo: readFileSync(torrentPath).toString('base64'),
        'download-dir': root,
        paused: false,
      })
      if (added.result !== 'success') throw new Error(`transmission torrent-add: ${added.result}`)
      await waitFor(
        'transmission seeding',
        async () => {
          const r = await daemon.rpc('torrent-get', { fields: ['percentDone', 'status'] })
          const t = (r.arguments.torrents as Array<{ percentDone: number; status: number }>)[0]
          return t !== undefined && t.percentDone === 1 && t.status === 6
        },
        300_000,
        200,
      )
      const transmission = await timedDownload(torrentPath)
      await daemon.kill()
      const ratio = ours.seconds / transmission.seconds
      line(
        'aria2c from transmission-daemon',
        `${transmission.seconds.toFixed(2)} s  (3.00, tuned settings.json)`,
      )
      checks.push([`ratio ours / transmission ${ratio.toFixed(2)} <= 1.5`, ratio <= 1.5])
    }
  }

  if (PHASES.has('scale')) {
    const n = SCALE_TORRENTS
    const sc = await seedScale(ctx, n, Number(args['scale-timeout']))
    const label = `${n.toLocaleString('en')} torrents:`
    line(
      `${label} all seeding after serve starts`,
      sc.seconds === null ? 'not within the timeout' : `${sc.seconds.toFixed(2)} s`,
    )
    line(
      `${label} serve's CPU by then (user + sys)`,
      sc.cpu === null
        ? '-'
        : `${(sc.cpu.user + sc.cpu.sys).toFixed(2)} s (user ${sc.cpu.user.toFixed(2)}, sys ${sc.cpu.sys.toFixed(2)})`,
    )
    line(`${label} verified (re-hashed) at start`, String(sc.verified))
    line(`${label} peak RSS`, `${sc.peakRssMb.toFixed(0)} MB`)
    line(`${label} peak open fds`, String(sc.peakFds))
    line(
      `${label} engine poll (engine_status run)`,
      `p50 ${sc.pollMs.p50} ms, max ${sc.pollMs.max} ms (${sc.pollMs.runs} runs)`,
    )
    line(
      `${label} /api/coverage meanwhile`,
      `p99 ${sc.coverage.p99} ms (${sc.coverage.requests} requests, ${sc.coverage.errors} errors)`,
    )
    line(
      `${label} announced (tracker lists them)`,
      `${sc.tracker.torrents}, serve a seeder in all: ${sc.tracker.seederOnly ? 'yes' : 'no'}` +
        (sc.tracker.seconds === null
          ? ''
          : `, all listed after serve starts ${sc.tracker.seconds.toFixed(2)} s`),
    )
    line(`${label} data`, `${scaleCache(n)} (serve's log: serve.log there)`)
    checks.push([
      `${label} all seeding ${sc.seconds?.toFixed(1) ?? '-'} s <= 30`,
      sc.seconds !== null && sc.seconds <= 30,
    ])
    checks.push([`${label} nothing re-hashed (verified ${sc.verified})`, sc.verified === 0])
    checks.push([`${label} peak RSS ${sc.peakRssMb.toFixed(0)} MB <= 1024`, sc.peakRssMb <= 1024])
    checks.push([`${label} peak fds ${sc.peakFds} <= 2000`, sc.peakFds <= 2000])
    checks.push([`${label} engine poll max ${sc.pollMs.max} ms <= 1000`, sc.pollMs.max <= 1000])
    checks.push([`${label} /api/coverage p99 ${sc.coverage.p99} ms <= 50`, sc.coverage.p99 <= 50])
    // Not a bar of the issue: what makes the others honest (seeding unannounced is not seeding).
    checks.push([
      `${label} every torrent announced to the tracker as a seeder (${sc.tracker.torrents})`,
      sc.tracker.torrents === n && sc.tracker.seederOnly,
    ])
  }

  console.log(out.join('\n'))
  for (const [what, ok] of checks) console.log(`  ${ok ? 'pass' : 'FAIL'}  ${what}`)
  const ok = checks.every(([, pass]) => pass)
  console.log(ok ? 'PASS' : 'FAIL')
  process.exitCode = ok ? 0 : 1
}

try {
  await main()
} finally {
  for (const c of cleanups.reverse()) await c()
}
process.exit()
