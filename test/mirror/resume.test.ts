/**
 * Mirror sync's safety, pass by pass, with a FAKE engine (test/support/fake-engine.ts) that
 * moves data only when told: partial downloads are never cataloged or published, a restart
 * resumes, a pass killed after its rename is finished by the next one, releases that fail a
 * check are kept aside and never published, the disk budget and reserve hold, and network
 * failures are retried. The upstream is a list file or a local HTTP server on 127.0.0.1.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { CatalogStore, scan } from '../../src/catalog/index.js'
import { configSchema, type Config } from '../../src/config/index.js'
import { openDatabase, type Db } from '../../src/db/index.js'
import { publishList } from '../../src/publish/index.js'
import { MirrorStore, MirrorSync } from '../../src/mirror/index.js'
import { buildTorrent, encode, makeTorrents, TorrentStore } from '../../src/torrents/index.js'
import { readTree } from '../engines/fixtures.js'
import { aacid, dataName, metaName, rec, writeDataFolder, writeMeta } from '../fixtures.js'
import { runCli, tempDir } from '../helpers.js'
import { FakeEngine } from '../support/fake-engine.js'
import { buildUpstream, SMALL, startStaticServer, type ListEntry } from './fixtures.js'

interface Mirror {
  dir: string
  root: string
  db: Db
  config: Config
  clock: { now: Date }
  sync(engine: FakeEngine, extra?: { freeBytes?: number }): MirrorSync
}

function mirror(
  t: TestContext,
  dir: string,
  listLocation: string,
  mirrorSettings: Record<string, unknown> = {},
): Mirror {
  const root = join(dir, 'releases')
  mkdirSync(root, { recursive: true })
  const config = configSchema.parse({
    catalog: { roots: [root], database: join(dir, 'aacseed.db') },
    torrents: { out_dir: join(dir, 'torrents'), list_path: join(dir, 'torrents.json') },
    mirror: {
      sources: [{ name: 'up', list: listLocation }],
      reserve_bytes: 0,
      max_active: 16,
      retries: 0,
      retry_base_ms: 10,
      ...mirrorSettings,
    },
  })
  const db = openDatabase(config.catalog.database)
  t.after(() => db.close())
  const clock = { now: new Date('2026-11-25T12:00:00Z') }
  return {
    dir,
    root,
    db,
    config,
    clock,
    sync: (engine, extra = {}) =>
      new MirrorSync({
        db,
        config,
        engine,
        now: () => clock.now,
        freeBytes: async () => extra.freeBytes ?? 1e15,
        afterPlace: async () => {
          await publishList(db, config)
        },
      }),
  }
}

function names(list: ListEntry[]): string[] {
  return list.map((e) => e.display_name.replace(/\.torrent$/, '')).sort()
}

function publishedBtihs(m: Mirror): string[] {
  try {
    return (JSON.parse(readFileSync(m.config.torrents.list_path, 'utf8')) as ListEntry[])
      .map((e) => e.btih)
      .sort()
  } catch {
    return []
  }
}

test('a partial download is never cataloged or published; after a restart the download resumes and completes', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'))
  const m = mirror(t, join(dir, 'mirror'), up.listPath)
  const all = names(up.list())
  const engine = new FakeEngine()
  const first = await m.sync(engine).run()
  assert.deepEqual([...first.started].sort(), all)
  assert.ok(
    engine.added.every(
      (a) => a.download === true && a.dataDir.startsWith(join(m.root, '.aacseed-mirror', 'partial')),
    ),
  )

  // Half of a data folder and half of a metadata file are on disk.
  const data = all.find((n) => n.includes('_data__'))!
  const meta = all.find((n) => n.includes('_meta__'))!
  engine.partial(up.btih(data), up.root)
  engine.partial(up.btih(meta), up.root)
  // The scan and make jobs run meanwhile: nothing partial is cataloged, torrented or listed.
  const scanned = await scan({ db: m.db, roots: [m.root] })
  assert.deepEqual([scanned.meta_files, scanned.data_folders, scanned.problems.length], [0, 0, 0])
  assert.equal((await makeTorrents({ db: m.db, torrents: m.config.torrents })).made.length, 0)
  await publishList(m.db, m.config)
  assert.deepEqual(publishedBtihs(m), [])

  // The process died: a new engine knows nothing. The next pass adds every download again.
  const engine2 = new FakeEngine()
  const sync2 = m.sync(engine2)
  const second = await sync2.run({ refresh: 'never' })
  assert.deepEqual(second.done, [])
  assert.deepEqual(engine2.added.map((a) => a.name).sort(), all)
  assert.ok(engine2.added.every((a) => a.verify && a.download))
  for (const n of all) engine2.complete(up.btih(n), up.root)
  const third = await sync2.run({ refresh: 'never' })
  assert.deepEqual([...third.done].sort(), all)
  const mirrored = readTree(m.root)
  for (const [k, v] of readTree(up.root)) assert.ok(mirrored.get(k)?.equals(v), `${k} differs or is missing`)
  assert.deepEqual(
    publishedBtihs(m),
    up
      .list()
      .map((e) => e.btih)
      .sort(),
  )
  // Seeding from the root, not the staging folder: the engine let go of every download.
  assert.deepEqual(
    [...engine2.removed].sort(),
    up
      .list()
      .map((e) => e.btih)
      .sort(),
  )
})

test('a pass killed between the rename and recording it is finished by the next pass', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'), [SMALL[0]!])
  const m = mirror(t, join(dir, 'mirror'), up.listPath)
  const engine = new FakeEngine()
  const sync = m.sync(engine)
  await sync.run()
  const name = names(up.list())[0]!
  const btih = up.btih(name)
  engine.complete(btih, up.root)
  // As if killed right after the rename: state `verifying`, the release already in the root.
  const store = new MirrorStore(m.db)
  store.setState(btih, 'verifying', new Date().toISOString())
  renameSync(join(m.root, '.aacseed-mirror', 'partial', btih, name), join(m.root, name))
  const r = await sync.run({ refresh: 'never' })
  assert.ok(r.done.includes(name), JSON.stringify(r))
  assert.equal(new TorrentStore(m.db).byName(name)?.infohash, btih)
  assert.equal(store.download(btih)?.state, 'done')
})

test('a release that breaks the standard is rejected, kept aside and never published; a torrent that lists a folder out of byte order is rejected before any download', async (t) => {
  const dir = tempDir(t)
  const site = join(dir, 'up', 'site')
  const upRoot = join(dir, 'up', 'releases')
  mkdirSync(site, { recursive: true })
  // 1. A metadata file with a record of another collection.
  const badMeta = metaName('bad_records', 0, 9)
  writeMeta(upRoot, badMeta, [rec(aacid('bad_records', 1)), rec(aacid('other_records', 2))])
  // 2. A data folder whose torrent lists its files in reverse byte order (valid, but not by the rules).
  const folder = dataName('odd_files', 0, 9)
  const blobs = [aacid('odd_files', 1), aacid('odd_files', 2), aacid('odd_files', 3)]
  writeDataFolder(upRoot, folder, blobs)
  const entries: ListEntry[] = []
  for (const [name, kind, files] of [
    [badMeta, 'file', [{ path: badMeta, length: statSync(join(upRoot, badMeta)).size }]],
    [
      folder,
      'folder',
      blobs.map((b) => ({ path: b, length: statSync(join(upRoot, folder, b)).size })).reverse(),
    ],
  ] as const) {
    const built = await buildTorrent({
      name,
      kind,
      root: join(upRoot, name),
      files,
      pieceLength: 32768,
      announce: [],
      webSeeds: [],
      comment: '',
      createdBy: 'upstream',
      creationDate: null,
      source: '',
      private: false,
    })
    writeFileSync(join(site, `${name}.torrent`), built.torrent)
    entries.push({
      display_name: `${name}.torrent`,
      btih: built.infoHash,
      url: `${name}.torrent`,
      data_size: built.totalSize,
      is_metadata: kind === 'file',
    })
  }
  writeFileSync(join(site, 'torrents.json'), JSON.stringify(entries))
  const m = mirror(t, join(dir, 'mirror'), join(site, 'torrents.json'))
  const engine = new FakeEngine()
  const sync = m.sync(engine)
  const first = await sync.run()
  // The file list is checked before the download: the engine only proves the bytes.
  assert.deepEqual(
    first.rejected.map((x) => [x.name, x.code]),
    [[folder, 'torrent-mismatch']],
  )
  assert.match(first.rejected[0]!.message, /byte order/)
  assert.deepEqual(
    engine.added.map((a) => a.name),
    [badMeta],
  )
  engine.complete(entries[0]!.btih, upRoot)
  const r = await sync.run({ refresh: 'never' })
  const codes = Object.fromEntries(r.rejected.map((x) => [x.name, x.code]))
  assert.deepEqual(codes, { [badMeta]: 'release-invalid' })
  assert.match(r.rejected.find((x) => x.name === badMeta)!.message, /other_records/)
  // Kept aside for a human, out of the catalog's sight.
  statSync(join(m.root, '.aacseed-mirror', 'rejected', entries[0]!.btih, badMeta))
  assert.deepEqual(readdirSync(m.root), ['.aacseed-mirror'])
  assert.equal(new CatalogStore(m.db).releases().length, 0)
  assert.deepEqual(publishedBtihs(m), [])
  // A verdict, not a hiccup: the next pass does not download them again.
  const again = await sync.run({ refresh: 'never' })
  assert.deepEqual([again.queued, again.started], [[], []])
  // `aacseed health` lists them for the operator.
  const health = await runCli(['health', '--json', '--db', m.config.catalog.database], { cwd: m.dir })
  assert.equal(health.code, 1)
  const ids = (
    JSON.parse(health.stdout) as { problems: Array<{ id: string; severity: string; details: string }> }
  ).problems.filter((p) => p.id.startsWith('mirror-rejected:'))
  assert.deepEqual(ids.map((p) => p.id).sort(), entries.map((e) => `mirror-rejected:${e.btih}`).sort())
  assert.ok(ids.some((p) => p.details.startsWith('torrent-mismatch: ')))
})

test('downloads never start beyond the disk budget or into the free-space reserve', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'))
  const list = up.list()
  const sizes = list.map((e) => e.data_size).sort((a, b) => a - b)
  // Room for the metadata files (queued first) but not for the data folder.
  const metaBytes = list.filter((e) => e.is_metadata).reduce((s, e) => s + e.data_size, 0)
  const m = mirror(t, join(dir, 'mirror'), up.listPath, { budget_bytes: metaBytes })
  const engine = new FakeEngine()
  const r = await m.sync(engine).run()
  const startedBytes = r.started.reduce(
    (s, n) => s + list.find((e) => e.display_name === `${n}.torrent`)!.data_size,
    0,
  )
  assert.ok(startedBytes <= metaBytes)
  assert.ok(r.started.length > 0 && r.started.every((n) => n.includes('_meta__')), JSON.stringify(r.started))
  const deferred = r.deferred.filter((d) => d.reason === 'budget').map((d) => d.name)
  assert.deepEqual(
    deferred,
    list.filter((e) => !e.is_metadata).map((e) => e.display_name.replace(/\.torrent$/, '')),
  )

  // Free space: the reserve is never used.
  const m2 = mirror(t, join(dir, 'mirror2'), up.listPath, { reserve_bytes: 1_000_000 })
  const engine2 = new FakeEngine()
  const r2 = await m2.sync(engine2, { freeBytes: 1_000_000 + sizes[0]! }).run()
  assert.deepEqual(r2.started.length, 1, JSON.stringify(r2))
  assert.equal(list.find((e) => e.display_name === `${r2.started[0]}.torrent`)!.data_size, sizes[0])
  assert.ok(r2.deferred.filter((d) => d.reason === 'reserve').length === list.length - 1)
  assert.equal(engine2.added.length, 1)
})

test('HTTP failures are retried with backoff within a pass, then by later passes, and recorded', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'), [SMALL[0]!])
  const server = await startStaticServer(t, up.site)
  const [a, b] = up.list()
  const pathA = `/${encodeURIComponent(a!.display_name)}`
  const pathB = `/${encodeURIComponent(b!.display_name)}`
  server.failNext('/torrents.json', 1, 502)
  server.failNext(pathA, 2, 503)
  server.failNext(pathB, 100, 404)
  const m = mirror(t, join(dir, 'mirror'), `${server.url}/torrents.json`, { retries: 2, retry_base_ms: 5 })
  const engine = new FakeEngine()
  const sync = m.sync(engine)
  const r = await sync.run()
  assert.equal(r.sources[0]!.error, null)
  assert.equal(server.requests.filter((p) => p === '/torrents.json').length, 2)
  // A: two 503s then the file; B: three 404s, recorded, retried by a later pass.
  assert.equal(server.requests.filter((p) => p === pathA).length, 3)
  assert.equal(server.requests.filter((p) => p === pathB).length, 3)
  assert.deepEqual(r.started, [a!.display_name.replace(/\.torrent$/, '')])
  assert.equal(r.failed.length, 1)
  assert.match(r.failed[0]!.message, /HTTP 404/)
  const row = new MirrorStore(m.db).download(b!.btih)!
  assert.deepEqual([row.state, row.attempts, row.errorCode], ['queued', 1, 'fetch-failed'])
  assert.ok(row.nextAttemptAt! > m.clock.now.toISOString())

  // Too early: not tried again.
  const early = await sync.run({ refresh: 'never' })
  assert.deepEqual(
    early.deferred.map((d) => d.reason),
    ['retry-later'],
  )
  assert.equal(server.requests.filter((p) => p === pathB).length, 3)
  // Later, and the server is back.
  server.failNext(pathB, 0, 404)
  m.clock.now = new Date(m.clock.now.getTime() + 7 * 3600_000)
  const later = await sync.run({ refresh: 'never' })
  assert.deepEqual(later.started, [b!.display_name.replace(/\.torrent$/, '')])
  // A source that cannot be fetched is an error on the source; its last list still counts.
  server.failNext('/torrents.json', 100, 500)
  const down = await sync.run()
  assert.match(down.sources[0]!.error ?? '', /HTTP 500/)
  assert.equal(down.sources[0]!.offered, 2)
})

test('hostile list entries and .torrent files are rejected by name, and nothing is written outside the release root', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'), [SMALL[0]!])
  const good = up.list()[0]!
  const hostileName = metaName('evil_records', 0, 9)
  // A .torrent with a proper AAC name whose file climbs out of the download folder.
  const climbing = encode({
    info: {
      name: hostileName,
      'piece length': 32768,
      pieces: Buffer.alloc(20),
      files: [{ length: 10, path: ['..', '..', 'evil'] }],
    },
  })
  writeFileSync(join(up.site, `${hostileName}.torrent`), climbing)
  const hugeName = metaName('huge_records', 0, 9)
  writeFileSync(join(up.site, `${hugeName}.torrent`), Buffer.alloc(300_000))
  const btih = (n: number): string => n.toString(16).padStart(40, 'a')
  const entries = [
    good,
    { display_name: '../../evil.torrent', btih: btih(1), url: 'x.torrent' },
    { display_name: '/tmp/evil.torrent', btih: btih(2), url: 'x.torrent' },
    { display_name: 'evil\u0000.torrent', btih: btih(3), url: 'x.torrent' },
    { display_name: 'dir\\evil.torrent', btih: btih(4), url: 'x.torrent' },
    { display_name: 'r_000.torrent', btih: btih(5), url: 'x.torrent' },
    {
      display_name: `${metaName('ok_records', 0, 9)}.torrent`,
      magnet_link: 'magnet:?xt=urn:btih:nothex',
      url: 'x.torrent',
    },
    { display_name: `${metaName('ok_records', 10, 19)}.torrent`, btih: btih(6), url: '../../../etc/passwd' },
    {
      display_name: `${hostileName}.torrent`,
      btih: btih(7),
      url: `${hostileName}.torrent`,
      is_metadata: true,
    },
    { display_name: `${hugeName}.torrent`, btih: btih(8), url: `${hugeName}.torrent`, is_metadata: true },
  ]
  writeFileSync(up.listPath, JSON.stringify(entries))
  const m = mirror(t, join(dir, 'mirror'), up.listPath, { max_torrent_bytes: 100_000 })
  const engine = new FakeEngine()
  const sync = m.sync(engine)
  const r = await sync.run()
  const byEntry = r.rejectedEntries.map((x) => `${x.entry} ${x.code}`)
  assert.deepEqual(byEntry, [
    // Names that would leave a folder are malformed; r_000.torrent is an opaque torrent, not followed by
    // default.
    'entry 1 "../../evil.torrent" entry-invalid',
    'entry 2 "/tmp/evil.torrent" entry-invalid',
    'entry 3 "evil\\u0000.torrent" entry-invalid',
    'entry 4 "dir\\\\evil.torrent" entry-invalid',
    `entry 6 "${metaName('ok_records', 0, 9)}.torrent" magnet-invalid`,
    `entry 7 "${metaName('ok_records', 10, 19)}.torrent" entry-invalid`,
  ])
  assert.ok(r.rejectedEntries.every((x) => x.source === 'up'))
  assert.deepEqual(Object.fromEntries(r.rejected.map((x) => [x.name, x.code])), {
    [hostileName]: 'unsafe-torrent-path',
    [hugeName]: 'too-large',
  })
  // The rest of the list still counts.
  assert.deepEqual(
    engine.added.map((a) => a.infoHash),
    [good.btih],
  )
  engine.complete(good.btih, up.root)
  const done = await sync.run({ refresh: 'never' })
  assert.deepEqual(done.done, [good.display_name.replace(/\.torrent$/, '')])

  // Every file the mirror wrote is its database, its torrents and list, or under its release root.
  const written = [...readTree(m.dir).keys()]
  const outside = written.filter(
    (p) =>
      !p.startsWith('releases/') &&
      !p.startsWith('torrents/') &&
      !/^aacseed\.db(-wal|-shm)?$/.test(p) &&
      p !== 'torrents.json',
  )
  assert.deepEqual(outside, [])
  assert.deepEqual(readdirSync(dir).sort(), ['mirror', 'up'])
  assert.ok(written.every((p) => !p.includes('evil')))
  const goodName = good.display_name.replace(/\.torrent$/, '')
  assert.deepEqual(
    [...readTree(m.root).keys()].filter((p) => !p.startsWith('.aacseed-mirror/')),
    [...readTree(up.root).keys()].filter((p) => p === goodName),
  )
})

test('a dead upstream costs one pass at most mirror.max_active failed .torrent fetches; the rest wait for a later pass', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'))
  const server = await startStaticServer(t, up.site)
  const list = up.list()
  for (const e of list) server.failNext(`/${encodeURIComponent(e.display_name)}`, 100, 500)
  const m = mirror(t, join(dir, 'mirror'), `${server.url}/torrents.json`, { max_active: 2, retries: 0 })
  const r = await m.sync(new FakeEngine()).run()
  assert.equal(r.failed.length, 2)
  assert.equal(server.requests.filter((p) => p.endsWith('.torrent')).length, 2)
  assert.deepEqual(
    r.deferred.map((d) => d.reason),
    list.slice(2).map(() => 'retry-later'),
  )
  assert.ok(r.deferred.every((d) => /2 \.torrent fetches failed in this pass/.test(d.detail)))
})

test('while the engine starts, the first downloads fetch their .torrent (once each); checks, failures and starts are as without', async (t) => {
  const dir = tempDir(t)
  const up = await buildUpstream(join(dir, 'up'), [SMALL[0]!])
  const server = await startStaticServer(t, up.site)
  const [a, b] = up.list()
  const pathA = `/${encodeURIComponent(a!.display_name)}`
  const pathB = `/${encodeURIComponent(b!.display_name)}`
  server.failNext(pathB, 100, 404)
  const m = mirror(t, join(dir, 'mirror'), `${server.url}/torrents.json`, { retries: 0 })
  const engine = new FakeEngine()
  let ready!: () => void
  const engineReady = new Promise<void>((res) => (ready = res))
  const running = m.sync(engine).run({ engineReady })
  // Both .torrent files are asked for before the engine is ready, and nothing is added to it yet.
  const until = Date.now() + 30_000
  while (!(server.requests.includes(pathA) && server.requests.includes(pathB)) && Date.now() < until)
    await new Promise((r) => setTimeout(r, 5))
  assert.ok(server.requests.includes(pathA) && server.requests.includes(pathB), server.requests.join(' '))
  assert.equal(engine.added.length, 0)
  ready()
  const r = await running
  // A's prefetched bytes are what the engine got (no second fetch); B's 404 is reported as a fetch of its own turn is.
  assert.equal(server.requests.filter((p) => p === pathA).length, 1)
  assert.equal(server.requests.filter((p) => p === pathB).length, 1)
  assert.deepEqual(r.started, [a!.display_name.replace(/\.torrent$/, '')])
  assert.deepEqual(
    engine.added.map((x) => x.infoHash),
    [a!.btih],
  )
  assert.equal(r.failed.length, 1)
  assert.match(r.failed[0]!.message, /HTTP 404/)
  assert.deepEqual(
    (({ state, attempts, errorCode }) => [state, attempts, errorCode])(
      new MirrorStore(m.db).download(b!.btih)!,
    ),
    ['queued', 1, 'fetch-failed'],
  )
  // A later pass (no engine start to wait for) fetches as before.
  server.failNext(pathB, 0, 404)
  m.clock.now = new Date(m.clock.now.getTime() + 7 * 3600_000)
  const later = await m.sync(engine).run({ refresh: 'never' })
  assert.deepEqual(later.started, [b!.display_name.replace(/\.torrent$/, '')])
  assert.equal(server.requests.filter((p) => p === pathB).length, 2)
})
