/**
 * npm run bench:api — the HTTP API at archive scale.
 *
 * Generates (once, cached under .bench-cache/api/) a catalog of 1,000,000 records in 2,000
 * metadata files over 20 collections, 8,000 data folders, 10,000 torrents, the local engine's
 * states and a job history, written straight into SQLite through the stores (no release files).
 * 50 seedboxes' states and swarm figures are plain input data through `CoverageInputs`
 * (./api-inputs.ts). Serves a copy of it from a child process (coverage recomputed in a worker
 * thread, as `aacseed serve` does), loads /api/coverage, /metrics and / with autocannon for 10 s
 * each at 50 connections (after a 2 s warm-up), and times the dashboard's first render in
 * headless Chromium.
 *
 * Then the churn phase: autocannon on /api/coverage for 10 s while a job finishes every second
 * (the engine_status job: engine states rewritten, some changed, and its run recorded), which
 * changes the database and so invalidates the coverage cached per generation. Measured: the
 * latency of the first request after each change, how long a change takes to show in
 * /api/coverage, and the server's event-loop delay (`monitorEventLoopDelay`, in the child).
 *
 * Bars: /api/coverage >= 2,000 req/s with p99 <= 50 ms; /metrics p99 <= 100 ms; first render <= 1 s;
 * through the churn: /api/coverage p99 <= 50 ms, event-loop delay p99 <= 20 ms, first request after
 * a change <= 250 ms.
 *
 *   npm run bench:api                                   the full scale
 *   npm run bench:api -- --records 160000 --ranges 20 --duration 5 --no-browser   a small run
 *   npm run bench:api -- --in-process                   coverage recomputed on the event loop (before)
 */
import autocannon, { type Result } from 'autocannon'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { chromium } from 'playwright-core'
import {
  formatDataFolderName,
  formatMetaFileName,
  makeRange,
  parseDataFolderName,
  parseMetaFileName,
  timestampFromSeconds,
} from '../src/aac/index.js'
import { CatalogStore } from '../src/catalog/index.js'
import { aacidSeconds, aacidTag } from '../src/catalog/record-key.js'
import { CoverageCache } from '../src/coverage/index.js'
import { openDatabase } from '../src/db/index.js'
import { EngineStatusStore } from '../src/engines/index.js'
import { packageVersion, runnerJobs, startHttpServer } from '../src/http/index.js'
import { JobRunner } from '../src/jobs/index.js'
import { JobRuns } from '../src/jobs/runs.js'
import { createLogger } from '../src/log/index.js'
import { TorrentStore } from '../src/torrents/index.js'
import { fakeInputs, SEEDBOXES, unit } from './api-inputs.js'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '1000000' },
    ranges: { type: 'string', default: '100' },
    duration: { type: 'string', default: '10' },
    'in-process': { type: 'boolean', default: false },
    'no-browser': { type: 'boolean', default: false },
    'write-churn': { type: 'string' },
    serve: { type: 'string' },
    db: { type: 'string' },
    generate: { type: 'boolean', default: false },
  },
})
const COLLECTIONS = 20
const RANGES_PER_COLLECTION = Number(args.ranges)
const RECORDS = Number(args.records)
const FOLDERS_PER_RANGE = 8 // for the 10 `_files` collections: 10 × 100 × 8 = 8,000 data folders
const DURATION_S = Number(args.duration)
const CONNECTIONS = 50
const IN_PROCESS = args['in-process']

const repo = resolve(import.meta.dirname, '..', '..')
const cache = join(
  repo,
  '.bench-cache',
  'api',
  RECORDS === 1_000_000 && RANGES_PER_COLLECTION === 100 ? 'v3' : `v3-${RECORDS}-${RANGES_PER_COLLECTION}`,
)
const dbPath = join(cache, 'bench.db')
const DAY = 86400

function collectionName(i: number): string {
  return `bench${String(i).padStart(2, '0')}_${i % 2 === 0 ? 'records' : 'files'}`
}

function generate(): void {
  rmSync(cache, { recursive: true, force: true })
  mkdirSync(cache, { recursive: true })
  const started = performance.now()
  const db = openDatabase(dbPath)
  const catalog = new CatalogStore(db)
  const torrents = new TorrentStore(db)
  const rootId = catalog.rootId('/srv/aac/releases')
  // Records straight into the catalog's table (migration 012: keyed by seconds and tag), one transaction per
  // collection.
  // Migration 015: a record names its data folder by a row of record_folders.
  const insertRecord = db.prepare(
    'INSERT INTO records (meta_file_id, seconds, tag, line, offset, length, folder_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
  )
  const insertFolder = db.prepare('INSERT INTO record_folders (name) VALUES (?) RETURNING id')
  const perRange = RECORDS / (COLLECTIONS * RANGES_PER_COLLECTION)
  const madeAt = '2026-11-01T00:00:00.000Z'
  const all: Array<{ name: string; infohash: string; bytes: number }> = []
  let inode = 1n
  for (let c = 0; c < COLLECTIONS; c++) {
    const collection = collectionName(c)
    const withData = c % 2 === 1
    db.transaction(() => {
      let t = Date.UTC(2023, 0, 1) / 1000 + c * 3600
      for (let r = 0; r < RANGES_PER_COLLECTION; r++) {
        // Mostly adjacent day-long ranges; every 25th leaves a gap of a day, every 40th overlaps the last by
        // an hour.
        if (r > 0 && r % 25 === 0) t += DAY
        if (r > 0 && r % 40 === 0) t -= 3600
        const from = t
        const to = t + DAY - 1
        t = to + 1
        const range = makeRange(collection, timestampFromSeconds(from).text, timestampFromSeconds(to).text)
        const metaName = formatMetaFileName('annas_archive', range, '.jsonl.seekable.zst')
        const metaBytes = Math.round(2e8 + unit(metaName) * 4e9)
        const id = catalog.beginMetaFile(rootId, parseMetaFileName(metaName), {
          size: BigInt(metaBytes),
          mtimeNs: 1_700_000_000_000_000_000n,
          inode: inode++,
        })
        const folderNames = withData
          ? Array.from({ length: FOLDERS_PER_RANGE }, (_, f) =>
              formatDataFolderName(
                'annas_archive',
                makeRange(
                  collection,
                  timestampFromSeconds(from + (f * DAY) / FOLDERS_PER_RANGE).text,
                  timestampFromSeconds(from + ((f + 1) * DAY) / FOLDERS_PER_RANGE - 1).text,
                ),
              ),
            )
          : []
        const folderIds = folderNames.map((n) => (insertFolder.get(n) as { id: number }).id)
        for (let i = 0; i < perRange; i++) {
          const sec = from + Math.floor((i * DAY) / perRange)
          const aacid = `aacid__${collection}__${timestampFromSeconds(sec).text}__${10_000_000 + c * 100_000 + r * 1000 + i}__${createHash('md5').update(`${c}.${r}.${i}`).digest('hex').slice(0, 22)}`
          insertRecord.run(
            id,
            aacidSeconds(aacid),
            aacidTag(aacid),
            i + 1,
            i * 600,
            600,
            withData ? folderIds[Math.floor((i * FOLDERS_PER_RANGE) / perRange)]! : null,
          )
        }
        catalog.completeMetaFile(
          id,
          null,
          {
            records: perRange,
            decompressedBytes: perRange * 600,
            frames: [{ frame: 0, compressedOffset: 0, decompressedOffset: 0 }],
          },
          [],
          rootId,
          collection,
        )
        const releases: Array<{
          name: string
          kind: 'meta' | 'data'
          from: number
          to: number
          bytes: number
          files: number
        }> = [{ name: metaName, kind: 'meta', from, to, bytes: metaBytes, files: 1 }]
        if (withData) {
          for (let f = 0; f < FOLDERS_PER_RANGE; f++) {
            const ff = from + (f * DAY) / FOLDERS_PER_RANGE
            const ft = from + ((f + 1) * DAY) / FOLDERS_PER_RANGE - 1
            const name = folderNames[f]!
            const bytes = Math.round(1e10 + unit(name) * 5e10)
            const files = perRange / FOLDERS_PER_RANGE
            const fid = catalog.beginDataFolder(rootId, parseDataFolderName(name), {
              mtimeNs: 1_700_000_000_000_000_000n,
              inode: inode++,
            })
            catalog.completeDataFolder(
              fid,
              null,
              { files, bytes: BigInt(bytes), maxMtimeNs: 1_700_000_000_000_000_000n },
              [],
              rootId,
              collection,
            )
            releases.push({ name, kind: 'data', from: ff, to: ft, bytes, files })
          }
        }
        for (const rel of releases) {
          const infohash = createHash('sha1').update(rel.name).digest('hex')
          const pieceLength = 16 * 1024 * 1024
          torrents.upsert({
            name: rel.name,
            kind: rel.kind,
            collection,
            rangeFrom: timestampFromSeconds(rel.from).text,
            rangeTo: timestampFromSeconds(rel.to).text,
            fromS: rel.from,
            toS: rel.to,
            rootId,
            infohash,
            pieceLength,
            pieceCount: Math.ceil(rel.bytes / pieceLength),
            totalSize: rel.bytes,
            fileCount: rel.files,
            torrentPath: `/var/lib/aacseed/torrents/${rel.name}.torrent`,
            torrentSize: 20 * Math.ceil(rel.bytes / pieceLength) + 300,
            dataIdentity: 'bench',
            madeAt,
          })
          all.push({ name: rel.name, infohash, bytes: rel.bytes })
        }
      }
    })()
  }
  // Problems: bad names in the root, and a few conflicts between overlapping releases.
  const metaNames = db.prepare('SELECT name, collection FROM meta_files ORDER BY id').all() as Array<{
    name: string
    collection: string
  }>
  catalog.replaceRootProblems(
    rootId,
    Array.from({ length: 40 }, (_, i) => ({
      path: `stray-file-${i}.tmp`,
      line: null,
      aacid: null,
      code: 'invalid-meta-file-name',
      message: `invalid metadata file name "stray-file-${i}.tmp"`,
    })),
  )
  const insertProblem = db.prepare(
    "INSERT INTO problems (root_id, scope, collection, path, line, aacid, code, message, found_at) VALUES (?, 'cross', ?, ?, NULL, NULL, 'overlap-mismatch', ?, ?)",
  )
  for (let i = 40; i < metaNames.length; i += 400) {
    const a = metaNames[i - 1]!
    const b = metaNames[i]!
    insertProblem.run(
      rootId,
      b.collection,
      b.name,
      `ranges of ${b.name} and ${a.name} overlap but 3 AACID(s) in the overlap are only in ${b.name}`,
      madeAt,
    )
  }
  // The local engine seeds 80% of the torrents.
  new EngineStatusStore(db).record(
    'webtorrent',
    all.map((t) => ({
      infoHash: t.infohash,
      name: t.name,
      state: unit(`engine${t.name}`) < 0.8 ? ('seeding' as const) : ('checking' as const),
      bytesPresent: t.bytes,
      totalBytes: t.bytes,
      uploaded: 0,
      peers: 3,
      error: null,
    })),
  )
  db.close()
  writeFileSync(join(cache, 'complete'), `${new Date().toISOString()}\n`)
  console.log(
    `  generated in ${((performance.now() - started) / 1000).toFixed(1)} s: ${all.length.toLocaleString('en')} torrents`,
  )
}

/**
 * The child process: serves `db` on 127.0.0.1 until killed. Over IPC it answers `loop-reset` and
 * `loop-report` with its event-loop delay.
 */
async function serve(port: number, db: string): Promise<void> {
  const reader = openDatabase(db, { readonly: true })
  const runner = new JobRunner({ db: reader, logger: createLogger({ level: 'silent' }), jobs: [] })
  const started = performance.now()
  const coverage = new CoverageCache({
    db: reader,
    inputs: fakeInputs(reader),
    worker: IN_PROCESS
      ? undefined
      : {
          dbPath: db,
          inputs: { module: new URL('./api-inputs.js', import.meta.url).href, name: 'fakeInputs' },
        },
    onError: (m) => process.stderr.write(`coverage: ${m}\n`),
  })
  await coverage.ready()
  const server = await startHttpServer({
    db: reader,
    coverage,
    jobs: runnerJobs(runner, {
      scan: '*/30 * * * *',
      make_torrents: '*/30 * * * *',
      seed: '*/10 * * * *',
      engine_status: '* * * * *',
    }),
    engine: { kind: 'webtorrent', check: async () => undefined },
    logger: createLogger({ level: 'warn' }),
    version: packageVersion(),
    host: '127.0.0.1',
    port,
  })
  // 1 ms: the histogram counts whole timer periods, so a coarser resolution reads as delay.
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  process.on('message', (m: string) => {
    if (m === 'loop-reset') loop.reset()
    else if (m === 'loop-report')
      process.send?.({
        p50: loop.percentile(50) / 1e6,
        p99: loop.percentile(99) / 1e6,
        max: loop.max / 1e6,
      })
  })
  process.stdout.write(
    `ready ${server.url} coverage computed in ${coverage.current().computeMs} ms${IN_PROCESS ? ' (in process)' : ' (worker thread)'} (startup ${Math.round(performance.now() - started)} ms)\n`,
  )
  process.on('SIGTERM', () => void server.close().then(() => process.exit(0)))
}

interface Churn {
  load: Result
  loop: { p50: number; p99: number; max: number }
  /** Latency of the first request after each change. */
  first: number[]
  /** From each commit to /api/coverage answering a newer generation. */
  visible: number[]
  changes: number
}

/**
 * The writer (a process of its own, so its commits never hold up autocannon's event loop): every
 * second the engine_status job finishes as the service runs it (engine states of every torrent
 * rewritten, a few changed each time, and the run recorded in job_runs). Prints `commit EPOCH_MS`
 * after each commit.
 */
async function writeChurn(db: string, seconds: number): Promise<void> {
  const writer = openDatabase(db)
  const status = new EngineStatusStore(writer)
  const runs = new JobRuns(writer)
  const torrents = new TorrentStore(writer).all()
  for (let change = 1; change <= seconds; change++) {
    await new Promise((r) => setTimeout(r, 1000))
    const id = runs.start('engine_status', 'schedule', new Date())
    status.record(
      'webtorrent',
      torrents.map((t, i) => ({
        infoHash: t.infohash,
        name: t.name,
        state: (i + change) % 7 === 0 ? ('checking' as const) : ('seeding' as const),
        bytesPresent: t.totalSize,
        totalBytes: t.totalSize,
        uploaded: change,
        peers: 3,
        error: null,
      })),
    )
    runs.finish(id, 'ok', new Date(), { seeding: torrents.length }, null)
    process.stdout.write(`commit ${performance.timeOrigin + performance.now()}\n`)
  }
  writer.close()
}

/** Autocannon on /api/coverage while the writer commits a job every second. */
async function churn(base: string, db: string, child: ReturnType<typeof spawn>): Promise<Churn> {
  const now = (): number => performance.timeOrigin + performance.now()
  const first: number[] = []
  const commits: number[] = []
  // Every answer's generation with the time its request was sent.
  const polls: Array<{ at: number; generation: number }> = []
  const generationOf = async (): Promise<{ ms: number; generation: number; at: number }> => {
    const at = now()
    const body = (await (await fetch(`${base}/api/coverage`)).json()) as { generation: number }
    polls.push({ at, generation: body.generation })
    return { ms: now() - at, generation: body.generation, at }
  }
  const loopReport = () =>
    new Promise<Churn['loop']>((res) => {
      child.once('message', (m) => res(m as Churn['loop']))
      child.send('loop-report')
    })
  let stop = false
  const poller = (async () => {
    while (!stop) {
      await generationOf()
      await new Promise((r) => setTimeout(r, 20))
    }
  })()
  const writer = spawn(
    process.execPath,
    [process.argv[1]!, '--write-churn', String(DURATION_S), '--db', db],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const firsts: Array<Promise<void>> = []
  let out = ''
  writer.stdout.on('data', (d: Buffer) => {
    out += d.toString()
    let nl: number
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl)
      out = out.slice(nl + 1)
      if (!line.startsWith('commit ')) continue
      commits.push(Number(line.slice(7)))
      firsts.push(generationOf().then((g) => void first.push(g.ms)))
    }
  })
  child.send('loop-reset')
  const result = await load(`${base}/api/coverage`, DURATION_S)
  const loop = await loopReport()
  await new Promise((r) => writer.once('exit', r))
  // Long enough for the last change to show.
  await new Promise((r) => setTimeout(r, 3000))
  stop = true
  await poller
  await Promise.all(firsts)
  // A change is visible once a request sent after it answers a newer generation than every
  // request answered before it.
  const visible = commits.map((c) => {
    const before = Math.max(0, ...polls.filter((p) => p.at < c).map((p) => p.generation))
    const seen = polls.filter((p) => p.at >= c && p.generation > before).map((p) => p.at)
    return seen.length > 0 ? Math.min(...seen) - c : Infinity
  })
  return { load: result, loop, first, visible, changes: commits.length }
}

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!
}

async function load(url: string, seconds: number): Promise<Result> {
  return await autocannon({ url, connections: CONNECTIONS, duration: seconds })
}

async function firstRender(url: string): Promise<{ cold: number; warm: number; wall: number }> {
  const userDataDir = mkdtempSync(join(tmpdir(), 'aacseed-bench-chromium-'))
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
    viewport: { width: 1280, height: 900 },
  })
  try {
    const times: number[] = []
    let wall = 0
    for (let i = 0; i < 3; i++) {
      const page = await browser.newPage()
      const t0 = performance.now()
      await page.goto(url)
      await page.waitForSelector('html[data-ready="1"]', { timeout: 30_000 })
      if (i === 0) wall = performance.now() - t0
      times.push(Number(await page.getAttribute('html', 'data-first-render-ms')))
      await page.close()
    }
    return { cold: times[0]!, warm: Math.min(...times.slice(1)), wall }
  } finally {
    await browser.close()
    rmSync(userDataDir, { recursive: true, force: true })
  }
}

async function main(): Promise<void> {
  if (!existsSync(join(cache, 'complete'))) {
    console.log(
      `generating ${RECORDS.toLocaleString('en')} records in ${(COLLECTIONS * RANGES_PER_COLLECTION).toLocaleString('en')} ranges over ${COLLECTIONS} collections (once; cached in ${cache})…`,
    )
    generate()
  }
  // A copy: the churn phase writes to it.
  const work = mkdtempSync(join(tmpdir(), 'aacseed-bench-api-'))
  const workDb = join(work, 'bench.db')
  copyFileSync(dbPath, workDb)
  const port = 20000 + Math.floor(Math.random() * 20000)
  const child = spawn(
    process.execPath,
    [
      ...process.execArgv,
      process.argv[1]!,
      '--serve',
      String(port),
      '--db',
      workDb,
      ...(IN_PROCESS ? ['--in-process'] : []),
    ],
    { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] },
  )
  const ready = await new Promise<string>((res, rej) => {
    let out = ''
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString()
      const line = out.split('\n').find((l) => l.startsWith('ready '))
      if (line) res(line)
    })
    child.on('exit', (code) => rej(new Error(`the server exited with ${code}`)))
  })
  const base = `http://127.0.0.1:${port}`
  try {
    console.log(`server: ${ready.slice(6)}`)
    const cov = (await (await fetch(`${base}/api/coverage`)).json()) as {
      totals: { records: number; releases: number; torrents: number; collections: number; bytes: number }
    }
    const sizes = await Promise.all(
      ['/api/coverage', '/metrics', '/'].map(
        async (p) => (await (await fetch(base + p)).arrayBuffer()).byteLength,
      ),
    )
    console.log(
      `catalog: ${cov.totals.records.toLocaleString('en')} records, ${cov.totals.releases.toLocaleString('en')} releases in ${cov.totals.collections} collections, ${cov.totals.torrents.toLocaleString('en')} torrents, ${(cov.totals.bytes / 1e12).toFixed(1)} TB; ${SEEDBOXES} seedboxes`,
    )
    console.log(
      `bodies: /api/coverage ${(sizes[0]! / 1024).toFixed(1)} KiB, /metrics ${(sizes[1]! / 1024).toFixed(1)} KiB, / ${(sizes[2]! / 1024).toFixed(1)} KiB`,
    )
    console.log(
      `load: autocannon, ${CONNECTIONS} connections, ${DURATION_S} s per endpoint (after 2 s of warm-up)`,
    )
    const results: Record<string, Result> = {}
    for (const path of ['/api/coverage', '/metrics', '/']) {
      await load(base + path, 2)
      const r = await load(base + path, DURATION_S)
      results[path] = r
      const bad = r.errors + r.timeouts + r.non2xx
      console.log(
        `  ${path.padEnd(14)} ${r.requests.average.toFixed(0).padStart(7)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(4)} ms   max ${String(r.latency.max).padStart(5)} ms${bad > 0 ? `   ${bad} errors/non-2xx` : ''}`,
      )
    }
    const render = args['no-browser'] ? null : await firstRender(`${base}/`)
    if (render)
      console.log(
        `dashboard first render in Chromium: ${render.cold} ms (cold page; navigation start to all figures drawn), ${render.warm} ms warm; wall ${render.wall.toFixed(0)} ms`,
      )
    console.log(
      `churn: a job finishes every second (engine_status: states rewritten, run recorded) while autocannon loads /api/coverage for ${DURATION_S} s; coverage recomputed ${IN_PROCESS ? 'on the event loop' : 'in a worker thread'}`,
    )
    const ch = await churn(base, workDb, child)
    const bad = ch.load.errors + ch.load.timeouts + ch.load.non2xx
    console.log(
      `  /api/coverage  ${ch.load.requests.average.toFixed(0).padStart(7)} req/s   p50 ${String(ch.load.latency.p50).padStart(4)} ms   p99 ${String(ch.load.latency.p99).padStart(4)} ms   max ${String(ch.load.latency.max).padStart(5)} ms${bad > 0 ? `   ${bad} errors/non-2xx` : ''}`,
    )
    console.log(
      `  event-loop delay (server): p50 ${ch.loop.p50.toFixed(1)} ms   p99 ${ch.loop.p99.toFixed(1)} ms   max ${ch.loop.max.toFixed(1)} ms`,
    )
    console.log(
      `  ${ch.changes} changes: first request after a change p50 ${pct(ch.first, 50).toFixed(1)} ms, max ${Math.max(...ch.first).toFixed(1)} ms; change visible in /api/coverage after p50 ${pct(ch.visible, 50).toFixed(0)} ms, max ${Math.max(...ch.visible).toFixed(0)} ms`,
    )
    const c = results['/api/coverage']!
    const m = results['/metrics']!
    const checks: Array<[string, boolean]> = [
      [`/api/coverage ${c.requests.average.toFixed(0)} req/s >= 2000`, c.requests.average >= 2000],
      [`/api/coverage p99 ${c.latency.p99} ms <= 50`, c.latency.p99 <= 50],
      [`/metrics p99 ${m.latency.p99} ms <= 100`, m.latency.p99 <= 100],
      ...(render
        ? ([[`first render ${render.cold} ms <= 1000`, render.cold <= 1000]] as Array<[string, boolean]>)
        : []),
      [`churn: /api/coverage p99 ${ch.load.latency.p99} ms <= 50`, ch.load.latency.p99 <= 50],
      [`churn: event-loop delay p99 ${ch.loop.p99.toFixed(1)} ms <= 20`, ch.loop.p99 <= 20],
      [
        `churn: first request after a change, max ${Math.max(...ch.first).toFixed(0)} ms <= 250`,
        Math.max(...ch.first) <= 250,
      ],
      [
        'no errors or non-2xx answers',
        [...Object.values(results), ch.load].every((r) => r.errors + r.timeouts + r.non2xx === 0),
      ],
    ]
    for (const [what, ok] of checks) console.log(`  ${ok ? 'pass' : 'FAIL'}  ${what}`)
    const ok = checks.every(([, pass]) => pass)
    console.log(ok ? 'PASS' : 'FAIL')
    process.exitCode = ok ? 0 : 1
  } finally {
    child.kill('SIGTERM')
    await new Promise((r) => child.once('exit', r))
    rmSync(work, { recursive: true, force: true })
  }
}

if (args.serve !== undefined) await serve(Number(args.serve), args.db ?? dbPath)
else if (args['write-churn'] !== undefined) await writeChurn(args.db!, Number(args['write-churn']))
else if (args.generate) generate()
else await main()
