/**
 * A mirrored byte is read once: once the engine has verified every piece of a torrent whose
 * infohash is upstream's, the release is checked by its file list and (for a metadata file) one
 * scan, and its .torrent is written around upstream's info dictionary, byte for byte, whatever
 * rules upstream made it by. With a FAKE engine (test/support/fake-engine.ts) that copies the
 * data in when told; the reads are counted from /proc/self/io (worker threads included).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, openSync, readFileSync, utimesSync, writeFileSync, writeSync, closeSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { CatalogStore, scan, scanSettings } from '../../src/catalog/index.js'
import { configSchema, type Config } from '../../src/config/index.js'
import { openDatabase, type Db } from '../../src/db/index.js'
import { MirrorStore, MirrorSync } from '../../src/mirror/index.js'
import { makeSettings, publishList } from '../../src/publish/index.js'
import {
  buildTorrent,
  decodeDict,
  encode,
  makeTorrents,
  readForeignInfo,
  TorrentStore,
  type DecodedDict,
} from '../../src/torrents/index.js'
import { writeRandom } from '../engines/fixtures.js'
import { aacid, dataName, metaName, recs, writeMeta } from '../fixtures.js'
import { tempDir } from '../helpers.js'
import { FakeEngine } from '../support/fake-engine.js'

interface Mirror {
  root: string
  db: Db
  config: Config
  sync(engine: FakeEngine, exclusive?: <T>(fn: () => Promise<T>) => Promise<T>): MirrorSync
}

function mirror(t: TestContext, dir: string, listLocation: string): Mirror {
  const root = join(dir, 'releases')
  mkdirSync(root, { recursive: true })
  const config = configSchema.parse({
    catalog: { roots: [root], database: join(dir, 'aacseed.db') },
    // Not upstream's piece length: a torrent made again by our rules would have another infohash.
    torrents: { out_dir: join(dir, 'torrents'), list_path: join(dir, 'torrents.json'), piece_length: 32768 },
    mirror: { sources: [{ name: 'up', list: listLocation }], reserve_bytes: 0, retries: 0 },
  })
  const db = openDatabase(config.catalog.database)
  t.after(() => db.close())
  return {
    root,
    db,
    config,
    sync: (engine, exclusive) =>
      new MirrorSync({
        db,
        config,
        engine,
        freeBytes: async () => 1e15,
        ...(exclusive ? { exclusive } : {}),
        afterPlace: async () => {
          await publishList(db, config)
        },
      }),
  }
}

/** rchar: every byte this process (all its threads) read through a system call, page cache hits too. */
function rchar(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1])
}

/** An upstream .torrent made by other rules than ours: its own piece length and a key of its own in `info`. */
async function foreignTorrent(
  root: string,
  name: string,
  kind: 'file' | 'folder',
  files: Array<{ path: string; length: number }>,
  pieceLength: number,
): Promise<{ torrent: Buffer; btih: string; info: Buffer }> {
  const built = await buildTorrent({
    name,
    kind,
    root: join(root, name),
    files,
    pieceLength,
    announce: [],
    webSeeds: [],
    comment: '',
    createdBy: 'upstream-tool 1.0',
    creationDate: 1_700_000_000,
    source: '',
    private: false,
  })
  const { dict } = decodeDict(built.torrent)
  const info = { ...(dict.info as DecodedDict), 'x-upstream-tool': Buffer.from('kept as written') }
  const torrent = encode({ ...dict, info })
  const infoBytes = encode(info)
  return { torrent, btih: createHash('sha1').update(infoBytes).digest('hex'), info: infoBytes }
}

function writeList(
  site: string,
  entries: Array<{ name: string; btih: string; torrent: Buffer; size: number; files: number; meta: boolean }>,
): string {
  mkdirSync(site, { recursive: true })
  for (const e of entries) writeFileSync(join(site, `${e.name}.torrent`), e.torrent)
  const listPath = join(site, 'torrents.json')
  writeFileSync(
    listPath,
    JSON.stringify(
      entries.map((e) => ({
        display_name: `${e.name}.torrent`,
        btih: e.btih,
        url: `${e.name}.torrent`,
        data_size: e.size,
        num_files: e.files,
        is_metadata: e.meta,
      })),
    ),
  )
  return listPath
}

test('a mirrored data folder keeps upstream’s info dictionary byte for byte, and finishing it reads none of its bytes again', async (t) => {
  const dir = tempDir(t)
  const upRoot = join(dir, 'up', 'releases')
  const folder = dataName('big_files', 0, 99)
  mkdirSync(join(upRoot, folder), { recursive: true })
  const blobs = [aacid('big_files', 1), aacid('big_files', 2), aacid('big_files', 3)]
  const size = 8 << 20
  for (const b of blobs) writeRandom(join(upRoot, folder, b), size)
  const total = blobs.length * size
  const up = await foreignTorrent(
    upRoot,
    folder,
    'folder',
    blobs.map((b) => ({ path: b, length: size })),
    262144,
  )
  const list = writeList(join(dir, 'up', 'site'), [
    { name: folder, btih: up.btih, torrent: up.torrent, size: total, files: blobs.length, meta: false },
  ])
  const m = mirror(t, join(dir, 'mirror'), list)
  const engine = new FakeEngine()
  const sync = m.sync(engine)
  assert.deepEqual((await sync.run()).started, [folder])
  engine.complete(up.btih, upRoot)

  // Verification, the rename, the scan, the torrent and the list: a small fraction of a re-read.
  const before = rchar()
  const r = await sync.run({ refresh: 'never' })
  const read = rchar() - before
  assert.deepEqual([r.done, r.rejected], [[folder], []])
  assert.ok(read < total / 8, `finishing read ${read} bytes of a ${total}-byte release`)

  // Our .torrent is upstream's info dictionary, byte for byte: the same infohash, the same swarm.
  const row = new TorrentStore(m.db).byName(folder)!
  assert.equal(row.infohash, up.btih)
  assert.equal(row.pieceLength, 262144)
  const ours = readForeignInfo(readFileSync(row.torrentPath))
  assert.ok(ours.info.equals(up.info), 'the info dictionary differs from upstream’s')
  assert.equal(ours.parsed.infoHash, up.btih)
  assert.equal(ours.parsed.createdBy, 'aacseed')

  // `torrents make` later leaves it alone: nothing hashed, nothing made by the configured piece length.
  const again = await makeTorrents({ db: m.db, torrents: m.config.torrents, ...makeSettings(m.db) })
  assert.deepEqual([again.made.length, again.unchanged, again.problems], [0, 1, []])

  // The data changed on disk (a new mtime, the same bytes): checked once against upstream's
  // piece hashes, and the torrent stays upstream's.
  const file = join(m.root, folder, blobs[1]!)
  utimesSync(file, new Date(), new Date(Date.now() + 5000))
  // (A file's own mtime does not move its folder's: the incremental scan would not look.)
  await scan({ db: m.db, roots: [m.root], full: true })
  const rechecked = await makeTorrents({ db: m.db, torrents: m.config.torrents, ...makeSettings(m.db) })
  assert.deepEqual(
    rechecked.made.map((x) => [x.infohash, x.outcome]),
    [[up.btih, 'adopted']],
  )
  assert.ok(readForeignInfo(readFileSync(row.torrentPath)).info.equals(up.info))

  // Other bytes: refused with the piece named, and the published torrent is not replaced.
  const fd = openSync(file, 'r+')
  writeSync(fd, Buffer.from('changed'), 0, 7, 300_000)
  closeSync(fd)
  utimesSync(file, new Date(), new Date(Date.now() + 10_000))
  await scan({ db: m.db, roots: [m.root], full: true })
  const broken = await makeTorrents({ db: m.db, torrents: m.config.torrents, ...makeSettings(m.db) })
  assert.equal(broken.made.length, 0)
  assert.equal(broken.problems[0]?.code, 'upstream-mismatch')
  assert.match(broken.problems[0]!.message, /piece 33 of its data does not match upstream's piece hash/)
  assert.ok(readForeignInfo(readFileSync(row.torrentPath)).info.equals(up.info))
})

test('a mirrored metadata file is read once, by the scan of the root; stopped in the middle, its row stays placed and the next pass publishes it', async (t) => {
  const dir = tempDir(t)
  const upRoot = join(dir, 'up', 'releases')
  const name = metaName('big_records', 0, 199_999)
  writeMeta(upRoot, name, recs('big_records', 0, 60_000))
  const size = readFileSync(join(upRoot, name)).length
  const up = await foreignTorrent(upRoot, name, 'file', [{ path: name, length: size }], 65536)
  const list = writeList(join(dir, 'up', 'site'), [
    { name, btih: up.btih, torrent: up.torrent, size, files: 1, meta: true },
  ])
  const m = mirror(t, join(dir, 'mirror'), list)
  const engine = new FakeEngine()
  await m.sync(engine).run()
  engine.complete(up.btih, upRoot)

  // Stopped as soon as the catalog's work begins (a job's signal when aacseed stops).
  const stop = new AbortController()
  const stopping = m.sync(engine, async (fn) => {
    const p = fn()
    stop.abort()
    return p
  })
  const started = Date.now()
  const r = await stopping.run({ refresh: 'never', signal: stop.signal })
  const seconds = (Date.now() - started) / 1000
  assert.deepEqual([r.placed, r.done, r.rejected, r.failed], [[name], [], [], []])
  assert.ok(seconds < 30, `the stopped pass took ${seconds} s`)
  const store = new MirrorStore(m.db)
  const row = store.download(up.btih)!
  assert.deepEqual([row.state, row.attempts], ['placed', 0])
  assert.equal(new TorrentStore(m.db).byName(name), undefined)
  assert.equal(new CatalogStore(m.db).releases().length, 0)

  // What one scan of that file reads, in this process, catalog database included (SQLite reads
  // back its own pages many times over the file's size): the yardstick for "read once".
  const alone = join(dir, 'alone')
  mkdirSync(join(alone, 'releases'), { recursive: true })
  writeFileSync(join(alone, 'releases', name), readFileSync(join(upRoot, name)))
  const aloneDb = openDatabase(join(alone, 'a.db'))
  t.after(() => aloneDb.close())
  let before = rchar()
  await scan({ db: aloneDb, roots: [join(alone, 'releases')], ...scanSettings(m.config.catalog) })
  const oneScan = rchar() - before

  // The next pass finishes it: one read of the file (its records), its torrent upstream's.
  before = rchar()
  const next = await m.sync(engine).run({ refresh: 'never' })
  const read = rchar() - before
  assert.deepEqual(next.done, [name])
  assert.equal(store.download(up.btih)!.state, 'done')
  assert.ok(
    read - oneScan < size / 2,
    `finishing read ${read} bytes, one scan alone ${oneScan}, for a ${size}-byte metadata file`,
  )
  const ours = readForeignInfo(readFileSync(new TorrentStore(m.db).byName(name)!.torrentPath))
  assert.ok(ours.info.equals(up.info))
  assert.equal(new CatalogStore(m.db).releases()[0]?.records, 60_000)
})
