/**
 * `aacseed coverage` on a cataloged sample tree, and the cache that recomputes coverage when the database
 * changes.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { writeSampleRelease } from '../../src/catalog/index.js'
import {
  computeCoverage,
  coverageJson,
  CoverageCache,
  NO_EXTERNAL_INPUTS,
  readCoverageData,
  timelineJson,
} from '../../src/coverage/index.js'
import { openDatabase, type Db } from '../../src/db/index.js'
import { EngineStatusStore, type EngineTorrentStatus } from '../../src/engines/index.js'
import { buildHttpServer } from '../../src/http/server.js'
import { createLogger } from '../../src/log/index.js'
import { runCli, tempDir, waitFor } from '../helpers.js'

async function catalogedTree(t: TestContext): Promise<{ dir: string; db: string; env: NodeJS.ProcessEnv }> {
  const dir = tempDir(t)
  writeSampleRelease({ root: join(dir, 'releases'), seed: 5 })
  const config = join(dir, 'aacseed.toml')
  writeFileSync(
    config,
    '[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = ""\n',
  )
  const env = { ...process.env, AACSEED_CONFIG: config }
  const s = await runCli(['scan'], { env })
  assert.equal(s.code, 0, s.stderr)
  return { dir, db: join(dir, 'aacseed.db'), env }
}

test('aacseed coverage prints one line per collection; --json is the API shape; --collection details one', async (t) => {
  const tree = await catalogedTree(t)
  const m = await runCli(['torrents', 'make', '--json'], { env: tree.env })
  assert.equal(m.code, 0, m.stderr)

  const table = await runCli(['coverage'], { env: tree.env })
  assert.equal(table.code, 0, table.stderr)
  const lines = table.stdout.split('\n')
  assert.match(
    lines[0]!,
    /^COLLECTION\s+RANGES\s+RECORDS\s+SIZE\s+HELD\s+TORRENT\s+SEEDED\s+≥1 BOX\s+≥2 BOXES\s+<4 SEEDERS\s+GAPS\s+OVERLAPS$/,
  )
  for (const c of ['duxiu_records', 'zlib3_files', 'zlib3_records'])
    assert.match(
      table.stdout,
      new RegExp(`^${c}\\s+\\d+\\s+[\\d,]+\\s+\\S+ \\w?B\\s+100%\\s+100%\\s+0%\\s+0%\\s+0%\\s+0%`, 'm'),
    )
  assert.match(table.stdout, /^total\s+10\s+1,548\s/m)
  assert.ok(
    lines.every((l) => [...l].length <= 120),
    'the table fits a terminal',
  )

  const json = await runCli(['coverage', '--json'], { env: tree.env })
  assert.equal(json.code, 0, json.stderr)
  const db = openDatabase(tree.db)
  t.after(() => db.close())
  const expected = coverageJson(computeCoverage(readCoverageData(db, NO_EXTERNAL_INPUTS)), { detail: true })
  assert.deepEqual(JSON.parse(json.stdout), JSON.parse(JSON.stringify(expected)))
  const parsed = JSON.parse(json.stdout) as typeof expected
  assert.equal(parsed.totals.records, 1548)
  assert.equal(parsed.totals.torrents, 10)
  assert.equal(parsed.totals.levels.torrented.ratio, 1)

  const one = await runCli(['coverage', '--collection', 'zlib3_records'], { env: tree.env })
  assert.equal(one.code, 0, one.stderr)
  assert.match(
    one.stdout,
    /^zlib3_records: 3 range\(s\) \(3 metadata file\(s\), 0 data folder\(s\)\), 1,200 records/,
  )
  assert.match(one.stdout, /^Held here\s+3\s+1,200\s+3\s/m)
  // The sample writes its ranges an hour apart: two gaps between three ranges.
  assert.match(one.stdout, /^gaps: 2 \(/m)
  assert.match(one.stdout, /^overlaps: none$/m)

  const oneJson = JSON.parse(
    (await runCli(['coverage', '--collection', 'zlib3_files', '--json'], { env: tree.env })).stdout,
  ) as { collections: Array<{ collection: string; release_list: unknown[]; gap_list: unknown[] }> }
  assert.deepEqual(
    oneJson.collections.map((c) => c.collection),
    ['zlib3_files'],
  )
  assert.equal(oneJson.collections[0]!.release_list.length, 6)

  const bad = await runCli(['coverage', '--collection', 'nope'], { env: tree.env })
  assert.equal(bad.code, 2)
  assert.match(
    bad.stderr,
    /no collection "nope" in the catalog; collections: duxiu_records, zlib3_files, zlib3_records/,
  )
})

/** A cataloged tree's database, open twice: a writer (as serve's jobs) and a read-only reader (as its API). */
async function connectionPair(t: TestContext): Promise<{ writer: Db; reader: Db }> {
  const tree = await catalogedTree(t)
  const writer = openDatabase(tree.db)
  const reader = openDatabase(tree.db, { readonly: true })
  t.after(() => {
    reader.close()
    writer.close()
  })
  return { writer, reader }
}

/** An engine report of `n` complete, seeding torrents. */
function seedingStatuses(n: number): EngineTorrentStatus[] {
  return Array.from({ length: n }, (_, i) => ({
    infoHash: i.toString(16).padStart(40, '0'),
    name: `t${i}`,
    state: 'seeding' as const,
    bytesPresent: 1,
    totalBytes: 1,
    uploaded: 0,
    peers: 0,
    error: null,
  }))
}

test('aacseed coverage on an empty catalog says what to do', async (t) => {
  const dir = tempDir(t)
  openDatabase(join(dir, 'empty.db')).close()
  const r = await runCli(['coverage', '--db', join(dir, 'empty.db')])
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /no collections cataloged yet: run `aacseed scan` first/)
})

test('the coverage cache recomputes when another connection commits, at most once per interval', async (t) => {
  const { writer, reader } = await connectionPair(t)
  let now = 1_000_000
  let recomputed = 0
  const cache = new CoverageCache({
    db: reader,
    inputs: NO_EXTERNAL_INPUTS,
    minIntervalMs: 2000,
    now: () => now,
    onRecompute: () => recomputed++,
  })
  const first = cache.current()
  assert.equal(first.generation, 1)
  assert.equal(cache.current(), first, 'unchanged database: the same snapshot')
  assert.equal(recomputed, 1)

  // A commit by another connection (as a job of `serve` makes) is seen, but not within the interval.
  new EngineStatusStore(writer).record('webtorrent', seedingStatuses(1))
  now += 500
  assert.equal(cache.current(), first, 'within the interval: the previous snapshot')
  now += 2000
  const second = cache.current()
  assert.equal(second.generation, 2)
  assert.equal(second.report.engine.torrents, 1)
  assert.equal(cache.current(), second)

  // invalidateNow is for writes the data version cannot see (inputs outside the database).
  cache.invalidateNow()
  assert.equal(cache.current().generation, 3)
  assert.equal(recomputed, 3)
})

test('a costly recomputation holds off the next one for five times its duration, however often the database changes', async (t) => {
  const { writer, reader } = await connectionPair(t)
  let now = 1_000_000
  // Each recomputation takes 1 s of (fake) time: its inputs are slow to read.
  const slow = { read: () => ((now += 1000), NO_EXTERNAL_INPUTS.read()) }
  const cache = new CoverageCache({ db: reader, inputs: slow, minIntervalMs: 2000, now: () => now })
  assert.equal(cache.current().generation, 1)
  const engineReport = (n: number) => new EngineStatusStore(writer).record('webtorrent', seedingStatuses(n))
  // The engine's state changes every second, as engine_status reports torrents being added.
  for (let i = 1; i <= 4; i++) {
    engineReport(i)
    now += 1000
    assert.equal(cache.current().generation, 1, `${i} s after: within 5 × 1 s of the last start`)
  }
  engineReport(5)
  now += 1000
  const second = cache.current()
  assert.equal(second.generation, 2, '5 s after the costly one: recomputed')
  assert.equal(second.report.engine.torrents, 5)
})

test('with a worker thread the cache answers the last report at once and publishes the same report as in process, recomputed there', async (t) => {
  const tree = await catalogedTree(t)
  const m = await runCli(['torrents', 'make', '--json'], { env: tree.env })
  assert.equal(m.code, 0, m.stderr)
  const writer = openDatabase(tree.db)
  const reader = openDatabase(tree.db, { readonly: true })
  const cache = new CoverageCache({
    db: reader,
    inputs: NO_EXTERNAL_INPUTS,
    minIntervalMs: 0,
    checkIntervalMs: 0,
    worker: { dbPath: tree.db, inputs: null },
  })
  t.after(async () => {
    await cache.close()
    reader.close()
    writer.close()
  })
  const first = await cache.ready()
  assert.equal(first.generation, 1)
  // The same function over the same stored state: equal to the report computed here.
  assert.deepEqual(first.report, computeCoverage(readCoverageData(reader, NO_EXTERNAL_INPUTS)))
  assert.deepEqual(
    JSON.parse(first.bodies!.summary.toString()),
    coverageJson(first.report, { detail: false, generation: 1, computedAt: first.computedAt }),
  )
  assert.ok(first.report.torrents.length > 0)

  new EngineStatusStore(writer).record(
    'webtorrent',
    first.report.torrents.map((x) => ({
      infoHash: x.infohash,
      name: x.name,
      state: 'seeding' as const,
      bytesPresent: x.bytes,
      totalBytes: x.bytes,
      uploaded: 0,
      peers: 0,
      error: null,
    })),
  )
  // The change starts a recomputation in the worker; until it arrives, the last report.
  assert.equal(cache.current(), first)
  const second = await waitFor(
    'the recomputed report',
    () => {
      const s = cache.current()
      return s.generation > 1 ? s : undefined
    },
    30_000,
    20,
  )
  assert.equal(second.generation, 2)
  assert.equal(second.report.engine.torrents, first.report.torrents.length)
  assert.ok(second.report.torrents.every((x) => x.seedingLocally))
  assert.deepEqual(second.report, computeCoverage(readCoverageData(reader, NO_EXTERNAL_INPUTS)))
})

test('a cache closed before its first report rejects ready() with coverage-closed, without touching the closed database', async (t) => {
  const tree = await catalogedTree(t)
  const reader = openDatabase(tree.db, { readonly: true })
  const cache = new CoverageCache({
    db: reader,
    inputs: NO_EXTERNAL_INPUTS,
    worker: { dbPath: tree.db, inputs: null },
  })
  // As serve stopping during start-up: its first report is under way in the worker when the
  // cache, then the database, are closed.
  const first = cache.ready()
  const closing = cache.close()
  reader.close()
  await closing
  await assert.rejects(first, (e: unknown) => (e as { code?: string }).code === 'coverage-closed')
  assert.equal(cache.hasSnapshot, false)
})

test('while held (a job storing an upstream list) the cache recomputes nothing, and once after the hold', async (t) => {
  const { writer, reader } = await connectionPair(t)
  let now = 1_000_000
  let holding = false
  const cache = new CoverageCache({
    db: reader,
    inputs: NO_EXTERNAL_INPUTS,
    minIntervalMs: 2000,
    now: () => now,
    hold: () => holding,
  })
  const first = cache.current()
  assert.equal(first.generation, 1)
  holding = true
  // The merge commits again and again: each would have been a report, stale at the next.
  for (let i = 1; i <= 5; i++) {
    new EngineStatusStore(writer).record('webtorrent', seedingStatuses(i))
    now += 3000
    assert.equal(cache.current(), first, `commit ${i} while held: the last report`)
  }
  holding = false
  now += 200
  const after = cache.current()
  assert.equal(after.generation, 2, 'the first look after the hold: one recomputation')
  assert.equal(after.report.engine.torrents, 5, 'over everything committed while held')
  now += 200
  assert.equal(cache.current(), after, 'and no other until the next change')
})

test('the coverage worker ends when idle, giving back its heap, and a change starts another', async (t) => {
  const tree = await catalogedTree(t)
  const writer = openDatabase(tree.db)
  const reader = openDatabase(tree.db, { readonly: true })
  const cache = new CoverageCache({
    db: reader,
    inputs: NO_EXTERNAL_INPUTS,
    minIntervalMs: 0,
    costFactor: 0,
    checkIntervalMs: 0,
    workerIdleMs: 50,
    worker: { dbPath: tree.db, inputs: null },
  })
  t.after(async () => {
    await cache.close()
    reader.close()
    writer.close()
  })
  const first = await cache.ready()
  assert.equal(first.generation, 1)
  await waitFor('the idle worker to end', () => (cache.workerRunning ? undefined : true), 30_000, 10)
  assert.equal(cache.current(), first, 'no change: the last report, no worker started')
  assert.equal(cache.workerRunning, false)

  new EngineStatusStore(writer).record('webtorrent', seedingStatuses(3))
  assert.equal(cache.current(), first, 'the change starts a worker; until its report, the last one')
  assert.equal(cache.workerRunning, true)
  const second = await waitFor(
    'the report of the restarted worker',
    () => {
      const s = cache.current()
      return s.generation > 1 ? s : undefined
    },
    30_000,
    20,
  )
  assert.equal(second.report.engine.torrents, 3)
  assert.deepEqual(second.report, computeCoverage(readCoverageData(reader, NO_EXTERNAL_INPUTS)))
})

test('the worker hands over /api/timeline gzipped only: the server sends it as is, and inflated to a client that does not accept gzip', async (t) => {
  const tree = await catalogedTree(t)
  const reader = openDatabase(tree.db, { readonly: true })
  const cache = new CoverageCache({
    db: reader,
    inputs: NO_EXTERNAL_INPUTS,
    worker: { dbPath: tree.db, inputs: null },
  })
  t.after(async () => {
    await cache.close()
    reader.close()
  })
  const snap = await cache.ready()
  const want = JSON.stringify(timelineJson(snap.report, { generation: snap.generation }))
  assert.equal(gunzipSync(snap.bodies!.timelineGzip).toString(), want)
  const app = buildHttpServer({
    db: reader,
    coverage: cache,
    logger: createLogger({ level: 'silent' }),
    version: '9.9.9-test',
  })
  t.after(() => app.close())
  const plain = await app.inject('/api/timeline')
  assert.equal(plain.statusCode, 200)
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.equal(plain.body, want)
  const zipped = await app.inject({ url: '/api/timeline', headers: { 'accept-encoding': 'gzip' } })
  assert.equal(zipped.headers['content-encoding'], 'gzip')
  assert.equal(gunzipSync(zipped.rawPayload).toString(), want)
})
