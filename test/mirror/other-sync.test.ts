/**
 * Mirror sync of an opaque torrent (a list entry that is not an AAC release), end to end with
 * real parts: a WebTorrent seeder and a bittorrent-tracker on 127.0.0.1, the list and the
 * .torrent on a local HTTP server, `aacseed mirror sync` following the source with
 * `kinds = ["other"]` and `groups`, then `aacseed serve` seeding it to aria2c (the independent
 * peer, which checks every piece) and publishing it with upstream's fields.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { configSchema } from '../../src/config/index.js'
import { WebTorrentEngine } from '../../src/engines/webtorrent.js'
import { followedBy, followsOther } from '../../src/mirror/sync.js'
import {
  aria2cDownload,
  infoHashOf,
  killChild,
  makeTorrent,
  memoryLogger,
  readTree,
  startTracker,
  writeRandom,
} from '../engines/fixtures.js'
import { freePort, requireTool, runCli, spawnCli, tempDir, waitFor } from '../helpers.js'
import { startStaticServer } from './fixtures.js'

test('a source follows AAC releases by kinds/collections and opaque torrents by kinds/groups', () => {
  const source = (over: Record<string, unknown>) =>
    configSchema.parse({ mirror: { sources: [{ name: 's', list: '/l.json', ...over }] } }).mirror.sources[0]!
  const aac = {
    collection: 'zlib3_records',
    kind: 'meta' as const,
    obsolete: false,
    embargo: false,
    dataSize: 1,
  }
  const sm = { topGroup: 'external', group: 'scihub', obsolete: false, embargo: false, dataSize: 1 }
  const byDefault = source({})
  assert.deepEqual(byDefault.kinds, ['aac'])
  assert.equal(followedBy(byDefault)(aac as never), true)
  assert.equal(followsOther(byDefault)(sm), false, 'opaque torrents are followed only when asked')
  const both = source({ kinds: ['aac', 'other'], groups: ['external/sci*'] })
  assert.equal(followedBy(both)(aac as never), true)
  assert.equal(followsOther(both)(sm), true)
  assert.equal(followsOther(both)({ ...sm, group: 'libgen_li_fic' }), false)
  assert.equal(followsOther(source({ kinds: ['other'], groups: ['scihub'] }))(sm), true)
  assert.equal(followsOther(source({ kinds: ['other'] }))({ ...sm, obsolete: true }), false)
  assert.equal(followedBy(source({ kinds: ['other'] }))(aac as never), false)
  assert.equal(followedBy(source({ kinds: ['data'] }))(aac as never), false)
  assert.throws(() => source({ kinds: ['opaque'] }), /kinds/)
})

test(
  'mirror sync follows an opaque multi-file torrent: downloaded into its group folder, pieces checked by the engine, seeded, published with upstream fields',
  { timeout: 240_000 },
  async (t) => {
    if (!requireTool(t, 'aria2c')) return
    const dir = tempDir(t)
    const tracker = await startTracker(t)

    // Upstream's torrent: Sci-Hub-like, files in sub-folders, a 16 KiB piece length (which
    // aacseed would never make: an opaque torrent is never made again, so any length will do).
    const name = 'sm_00200000-00299999'
    const seedRoot = join(dir, 'seed')
    const files = ['00200000.pdf', 'a/00200001.pdf', 'a/b/00200002.pdf', 'c/00200003.pdf']
    const sizes = [300_001, 65_536, 170_000, 1]
    files.forEach((f, i) => {
      mkdirSync(join(seedRoot, name, f, '..'), { recursive: true })
      writeRandom(join(seedRoot, name, f), sizes[i]!)
    })
    const site = join(dir, 'site')
    mkdirSync(site, { recursive: true })
    // In process: mktorrent makes nothing under 32 KiB.
    const torrent = makeTorrent(
      {
        root: seedRoot,
        name,
        dir: join(seedRoot, name),
        files: files.map((path, i) => ({ path, size: sizes[i]! })),
      },
      { pieceLength: 1 << 14, announce: tracker.announce },
    )
    writeFileSync(join(site, `${name}.torrent`), torrent)
    const btih = infoHashOf(torrent)
    const seeder = new WebTorrentEngine(
      {
        port: await freePort(),
        host: '127.0.0.1',
        dht: false,
        lsd: false,
        trackers: [],
        max_connections: 55,
      },
      { logger: memoryLogger() },
    )
    t.after(() => seeder.close())
    await seeder.start()
    await seeder.add({ torrent, infoHash: btih, name, dataDir: seedRoot, verify: false, labels: [] })
    await waitFor('the seeder announced', () => tracker.seeders(btih) > 0, 30_000, 100)

    const total = sizes.reduce((a, b) => a + b, 0)
    const entry = {
      url: `${name}.torrent`,
      top_level_group_name: 'external',
      group_name: 'scihub',
      display_name: `${name}.torrent`,
      added_to_torrents_list_at: '2023-12-21',
      is_metadata: false,
      btih,
      magnet_link: `magnet:?xt=urn:btih:${btih}&dn=${name}.torrent`,
      torrent_size: torrent.length,
      num_files: files.length,
      data_size: total,
      aa_currently_seeding: true,
      obsolete: false,
      embargo: false,
      seeders: 3,
      leechers: 0,
      completed: 11,
      stats_scraped_at: '2025-08-14T12:11:10',
      partially_broken: false,
      random: 'e4b1c0d9',
    }
    // A second group the source does not follow: never queued (its torrent does not even exist).
    const unfollowed = {
      ...entry,
      url: 'f_1000.torrent',
      group_name: 'libgen_li_fic',
      display_name: 'f_1000.torrent',
      btih: 'ab'.repeat(20),
      magnet_link: `magnet:?xt=urn:btih:${'ab'.repeat(20)}`,
    }
    writeFileSync(join(site, 'torrents.json'), JSON.stringify([entry, unfollowed], null, 2))
    const server = await startStaticServer(t, site)

    const mirrorDir = join(dir, 'mirror')
    mkdirSync(join(mirrorDir, 'releases'), { recursive: true })
    const httpPort = await freePort()
    writeFileSync(
      join(mirrorDir, 'aacseed.toml'),
      `[catalog]
roots = ["releases"]
database = "aacseed.db"
[torrents]
out_dir = "torrents"
list_path = "torrents.json"
[engine.webtorrent]
host = "127.0.0.1"
port = ${await freePort()}
dht = false
lsd = false
[http]
port = ${httpPort}
[mirror]
reserve_bytes = 0
retry_base_ms = 50
[[mirror.sources]]
name = "aa"
list = "${server.url}/torrents.json"
kinds = ["aac", "other"]
groups = ["external/scihub"]
`,
    )
    const env = { ...process.env, AACSEED_CONFIG: join(mirrorDir, 'aacseed.toml') }

    const r = await runCli(['mirror', 'sync', '--json'], { env, cwd: mirrorDir })
    assert.equal(r.code, 0, `mirror sync exit ${r.code}: ${r.stdout}${r.stderr}`)
    const report = JSON.parse(r.stdout) as {
      queued: string[]
      done: string[]
      rejected: unknown[]
      inFlight: number
    }
    assert.deepEqual(report.queued, [name])
    assert.deepEqual(report.done, [name])
    assert.deepEqual(report.rejected, [])
    assert.equal(report.inFlight, 0)
    assert.ok(!server.requests.includes('/f_1000.torrent'), 'an unfollowed group is not fetched')

    // Byte for byte upstream's files, in the group's folder; nothing left in staging; not cataloged.
    const placed = join(mirrorDir, 'releases', 'other-torrents', 'external', 'scihub', name)
    const got = readTree(placed)
    const want = readTree(join(seedRoot, name))
    assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
    for (const [k, v] of want) assert.ok(got.get(k)!.equals(v), `${k} differs`)
    assert.deepEqual(readdirSync(join(mirrorDir, 'releases', '.aacseed-mirror', 'partial')), [])
    const scan = await runCli(['scan', '--json'], { env, cwd: mirrorDir })
    assert.equal(scan.code, 0, `the root with other-torrents/ scans clean: ${scan.stdout}${scan.stderr}`)

    // Published: upstream's .torrent byte for byte, and its entry with every field unchanged but url.
    assert.ok(readFileSync(join(mirrorDir, 'torrents', `${btih}.torrent`)).equals(torrent))
    const published = JSON.parse(readFileSync(join(mirrorDir, 'torrents.json'), 'utf8')) as Array<
      Record<string, unknown>
    >
    assert.equal(published.length, 1)
    assert.deepEqual(published[0], { ...entry, url: `torrents/${btih}.torrent` })
    assert.deepEqual(Object.keys(published[0]!), Object.keys(entry), 'the keys in upstream order')

    // Seeded afterwards: the original seeder leaves, `aacseed serve` seeds the mirror's copy
    // (without re-hashing it: the data is as it was placed), and aria2c downloads it from there.
    await seeder.close()
    await waitFor('the seeder left', () => tracker.seeders(btih) === 0, 30_000, 100)
    const serve = spawnCli(['serve'], { env, cwd: mirrorDir })
    let out = ''
    serve.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    serve.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    t.after(() => killChild(serve))
    await waitFor(`the mirror seeding (${out.slice(-2000)})`, () => tracker.seeders(btih) > 0, 60_000, 200)
    const list = await fetch(`http://127.0.0.1:${httpPort}/torrents.json`)
    assert.deepEqual(await list.json(), published)
    const file = await fetch(`http://127.0.0.1:${httpPort}/torrents/${btih}.torrent`)
    assert.equal(file.status, 200)
    assert.ok(
      Buffer.from(await file.arrayBuffer()).equals(torrent),
      'GET /torrents/<btih>.torrent: upstream bytes',
    )
    const peer = join(dir, 'peer')
    mkdirSync(peer)
    const torrentPath = join(dir, 'peer.torrent')
    writeFileSync(torrentPath, torrent)
    await aria2cDownload(t, torrentPath, peer)
    const fromMirror = readTree(join(peer, name))
    for (const [k, v] of want) assert.ok(fromMirror.get(k)?.equals(v), `${k} from the mirror differs`)
    assert.ok(existsSync(placed))
    await killChild(serve, 'SIGTERM')
  },
)
