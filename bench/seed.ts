/**
 * npm run bench:seed — seeding speed against a tuned transmission-daemon, in one run.
 *
 * 1. A 2 GiB data folder (about 360 AACID-named blobs), generated once under .bench-cache/seed/.
 * 2. `aacseed serve` (embedded WebTorrent) catalogs, torrents and seeds it; aria2c downloads it.
 * 3. A transmission-daemon (settings tuned for seeding) is given the same .torrent against the
 *    same data; aria2c downloads it again. Ratio = ours / Transmission (bar <= 1.5).
 * 4. `aacseed serve` restarted: time from start to seeding (no re-hash).
 * 5. 1,000 torrents added to the WebTorrent engine at once: time to seeding all of them, peak
 *    RSS and open descriptors (bars: 10 s, 512 MB, 2,000).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import {
  aria2cDownload,
  makeRelease,
  makeTorrent,
  infoHashOf,
  openFds,
  startTracker,
  startTransmission,
} from '../test/engines/fixtures.js'
import { freePort, waitFor } from '../test/helpers.js'
import { WebTorrentEngine } from '../src/engines/webtorrent.js'
import { openDatabase } from '../src/db/index.js'
import { ensureData, FOLDER, SEED_CACHE, TOTAL } from './data.js'

const repo = resolve(import.meta.dirname, '..', '..')
const cache = SEED_CACHE

// The fixtures take a test context for clean-up; the benchmark gives them its own.
const cleanups: Array<() => unknown> = []
const ctx = {
  after: (fn: () => unknown) => cleanups.push(fn),
  diagnostic: () => {},
  skip: () => {},
} as unknown as TestContext

function serve(dir: string, config: string): { child: ChildProcess; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [join(repo, 'bin', 'aacseed.js'), 'serve', '--config', config], {
    cwd: dir,
    stdio: 'ignore',
  })
  const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
  cleanups.push(() => child.kill('SIGKILL'))
  return { child, exited }
}

function seedingCount(dbPath: string, sinceId: number): number {
  if (!existsSync(dbPath)) return 0
  const db = openDatabase(dbPath, { readonly: true })
  try {
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
    return (db.prepare('SELECT coalesce(max(id), 0) FROM job_runs').pluck().get() as number) ?? 0
  } finally {
    db.close()
  }
}

async function timedDownload(torrentPath: string): Promise<number> {
  const out = join(cache, `download-${process.pid}`)
  rmSync(out, { recursive: true, force: true })
  mkdirSync(out)
  const started = process.hrtime.bigint()
  await aria2cDownload(ctx, torrentPath, out, 900_000)
  const s = Number(process.hrtime.bigint() - started) / 1e9
  const got = readdirSync(join(out, FOLDER)).reduce((n, f) => n + statSync(join(out, FOLDER, f)).size, 0)
  rmSync(out, { recursive: true, force: true })
  if (got !== TOTAL) throw new Error(`downloaded ${got} bytes, expected ${TOTAL}`)
  return s
}

async function scale(): Promise<{ seconds: number; rssMb: number; fds: number }> {
  const dir = join(cache, 'scale')
  rmSync(dir, { recursive: true, force: true })
  const tracker = await startTracker(ctx)
  const items = []
  for (let i = 0; i < 1000; i++) {
    const release = makeRelease(join(dir, 'releases'), [2000, 3000], { collection: `scale${i}` })
    const torrent = makeTorrent(release, { pieceLength: 2 ** 15, announce: tracker.announce })
    items.push({
      torrent,
      infoHash: infoHashOf(torrent),
      name: release.name,
      dataDir: release.root,
      verify: false,
    })
  }
  const engine = new WebTorrentEngine({
    port: 0,
    host: '127.0.0.1',
    dht: false,
    lsd: false,
    trackers: [],
    max_connections: 55,
  })
  await engine.start()
  let fds = openFds()
  const sampler = setInterval(() => (fds = Math.max(fds, openFds())), 5)
  const started = process.hrtime.bigint()
  await Promise.all(items.map((t) => engine.add(t)))
  await waitFor(
    '1,000 seeding',
    async () => (await engine.list()).filter((s) => s.state === 'seeding').length === 1000,
    60_000,
    20,
  )
  const seconds = Number(process.hrtime.bigint() - started) / 1e9
  clearInterval(sampler)
  const rssMb = process.resourceUsage().maxRSS / 1024
  await engine.close()
  rmSync(dir, { recursive: true, force: true })
  return { seconds, rssMb, fds }
}

async function main(): Promise<void> {
  const root = ensureData()
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

  // 1. Ours.
  let s = serve(dir, config)
  await waitFor('aacseed seeding', () => seedingCount(dbPath, 0) === 1, 300_000, 200)
  const ours = await timedDownload(torrentPath)
  s.child.kill('SIGTERM')
  await s.exited

  // 2. Restart: time to seeding, without re-hashing.
  const since = lastRunId(dbPath)
  const restartStarted = process.hrtime.bigint()
  s = serve(dir, config)
  await waitFor('aacseed seeding after restart', () => seedingCount(dbPath, since) === 1, 60_000, 20)
  const restart = Number(process.hrtime.bigint() - restartStarted) / 1e9
  s.child.kill('SIGTERM')
  await s.exited

  // 3. Transmission, tuned, same .torrent and data.
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

  // 4. 1,000 torrents.
  const sc = await scale()

  const ratio = ours / transmission
  console.log(
    `data:                               ${FOLDER} (${(TOTAL / 2 ** 30).toFixed(0)} GiB, ${readdirSync(join(root, FOLDER)).length} files)`,
  )
  console.log(`aria2c from aacseed (WebTorrent):   ${ours.toFixed(2)} s`)
  console.log(`aria2c from transmission-daemon:    ${transmission.toFixed(2)} s  (3.00, tuned settings.json)`)
  console.log(`ratio ours / transmission:          ${ratio.toFixed(2)}  (bar <= 1.5)`)
  console.log(`time to seeding after restart:      ${restart.toFixed(2)} s`)
  console.log(`1,000 torrents: seeding all in      ${sc.seconds.toFixed(2)} s  (bar <= 10)`)
  console.log(`1,000 torrents: peak RSS            ${sc.rssMb.toFixed(0)} MB  (bar <= 512)`)
  console.log(`1,000 torrents: peak open fds       ${sc.fds}  (bar <= 2000)`)
  const ok = ratio <= 1.5 && sc.seconds <= 10 && sc.rssMb <= 512 && sc.fds <= 2000
  console.log(ok ? 'PASS' : 'FAIL')
  process.exitCode = ok ? 0 : 1
}

try {
  await main()
} finally {
  for (const c of cleanups.reverse()) await c()
}
process.exit()
