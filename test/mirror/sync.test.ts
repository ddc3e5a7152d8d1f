/**
 * Mirror sync end to end, with real parts only: an upstream aacseed (`serve`, a separate
 * process, WebTorrent) seeding its releases through a bittorrent-tracker server, its torrent
 * list and .torrent files on a local HTTP server, and `aacseed mirror sync` following that list
 * into an empty release root. All on 127.0.0.1, random ports, a temp dir.
 */
import assert from 'node:assert/strict'
import { type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { writeSampleRelease, type SampleCollection } from '../../src/catalog/index.js'
import { killChild, readTree, startTracker, startTransmission, type Tracker } from '../engines/fixtures.js'
import { openDatabase } from '../../src/db/index.js'
import { freePort, requireTool, runCli, spawnCli, tempDir, waitFor } from '../helpers.js'
import { startStaticServer } from './fixtures.js'

interface ListEntry {
  display_name: string
  btih: string
}

interface Upstream {
  dir: string
  root: string
  env: NodeJS.ProcessEnv
  list(): ListEntry[]
  /** Catalogs, torrents and publishes the releases. */
  prepare(): Promise<void>
  /** `prepare()`, then `aacseed serve` until the tracker has it seeding everything. */
  serve(): Promise<void>
  stop(): Promise<void>
}

const FIRST: SampleCollection[] = [
  { name: 'zlib3_records', kind: 'records', ranges: 2, recordsPerRange: 150, framesPerFile: 2 },
  { name: 'zlib3_files', kind: 'files', ranges: 1, recordsPerRange: 10, blobBytes: [2_000, 90_000] },
]

async function upstream(t: TestContext, dir: string, tracker: Tracker, siteUrl: string): Promise<Upstream> {
  const root = join(dir, 'releases')
  mkdirSync(join(dir, 'site'), { recursive: true })
  writeSampleRelease({ root, collections: FIRST, seed: 7 })
  const port = await freePort()
  // A piece length our own policy would not pick for these sizes: the mirror must reproduce upstream's.
  writeFileSync(
    join(dir, 'aacseed.toml'),
    `[catalog]
roots = ["releases"]
database = "aacseed.db"
[torrents]
out_dir = "site/torrents"
list_path = "site/torrents.json"
url_base = "${siteUrl}/torrents/"
announce = [["${tracker.announce}"]]
piece_length = 65536
[engine.webtorrent]
host = "127.0.0.1"
port = ${port}
dht = false
lsd = false
[http]
enabled = false
`,
  )
  const env = { ...process.env, AACSEED_CONFIG: join(dir, 'aacseed.toml') }
  let child: ChildProcess | null = null
  const up: Upstream = {
    dir,
    root,
    env,
    list: () => JSON.parse(readFileSync(join(dir, 'site', 'torrents.json'), 'utf8')) as ListEntry[],
    async prepare() {
      for (const args of [['scan'], ['torrents', 'make']]) {
        const r = await runCli(args, { env, cwd: dir })
        assert.equal(r.code, 0, `upstream ${args.join(' ')}: ${r.stdout}${r.stderr}`)
      }
    },
    async serve() {
      await up.prepare()
      child = spawnCli(['serve'], { env, cwd: dir })
      let out = ''
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
      const c = child
      t.after(() => killChild(c))
      const hashes = up.list().map((e) => e.btih)
      await waitFor(
        `upstream seeding ${hashes.length} torrents (${out.slice(-2000)})`,
        () => hashes.every((h) => tracker.seeders(h) > 0),
        60_000,
        200,
      )
    },
    async stop() {
      if (child) await killChild(child, 'SIGTERM')
      child = null
    },
  }
  return up
}

function mirrorSetup(dir: string, listUrl: string, port: number): NodeJS.ProcessEnv {
  mkdirSync(join(dir, 'releases'), { recursive: true })
  writeFileSync(
    join(dir, 'aacseed.toml'),
    `[catalog]
roots = ["releases"]
database = "aacseed.db"
[torrents]
out_dir = "torrents"
list_path = "torrents.json"
[engine.webtorrent]
host = "127.0.0.1"
port = ${port}
dht = false
lsd = false
[mirror]
reserve_bytes = 0
retry_base_ms = 50
[[mirror.sources]]
name = "upstream"
list = "${listUrl}"
`,
  )
  return { ...process.env, AACSEED_CONFIG: join(dir, 'aacseed.toml') }
}

interface SyncJson {
  queued: string[]
  started: string[]
  done: string[]
  rejected: unknown[]
  failed: unknown[]
  rejectedEntries: unknown[]
  inFlight: number
}

async function sync(env: NodeJS.ProcessEnv, cwd: string): Promise<SyncJson> {
  const r = await runCli(['mirror', 'sync', '--json'], { env, cwd })
  assert.equal(r.code, 0, `mirror sync exit ${r.code}: ${r.stdout}${r.stderr}`)
  return JSON.parse(r.stdout) as SyncJson
}

/** Every upstream file is in the mirror root, byte for byte. */
function assertHoldsUpstream(mirrorRoot: string, upstreamRoot: string): void {
  const mirrored = readTree(mirrorRoot)
  for (const [k, v] of readTree(upstreamRoot))
    assert.ok(mirrored.get(k)?.equals(v), `${k} differs or is missing`)
}

function releasesOf(list: ListEntry[]): string[] {
  return list.map((e) => e.display_name.replace(/\.torrent$/, '')).sort()
}

test(
  'mirror sync follows an upstream list: new ranges arrive verified, cataloged, torrented with upstream infohashes, and shown as held',
  { timeout: 240_000 },
  async (t) => {
    const dir = tempDir(t)
    const tracker = await startTracker(t)
    const site = await startStaticServer(t, join(dir, 'up', 'site'))
    const up = await upstream(t, join(dir, 'up'), tracker, site.url)
    await up.serve()
    const mirrorDir = join(dir, 'mirror')
    const env = mirrorSetup(mirrorDir, `${site.url}/torrents.json`, await freePort())

    // Before: the sources are known, the ranges are missing here.
    const sources = await runCli(['mirror', 'sources', '--json'], { env, cwd: mirrorDir })
    assert.equal(sources.code, 0, sources.stdout + sources.stderr)
    const offered = (
      JSON.parse(sources.stdout) as {
        sources: Array<{
          offered: number
          torrents: Array<{ name: string; held: boolean; first_seen_at: string }>
        }>
      }
    ).sources[0]!
    assert.deepEqual(offered.torrents.map((x) => x.name).sort(), releasesOf(up.list()))
    assert.ok(offered.torrents.every((x) => !x.held && x.first_seen_at))
    const before = JSON.parse((await runCli(['coverage', '--json'], { env, cwd: mirrorDir })).stdout) as {
      collections: Array<{ collection: string; missing: number }>
    }
    assert.ok(
      before.collections.length >= 2 && before.collections.every((c) => c.missing > 0),
      JSON.stringify(before.collections),
    )

    const first = await sync(env, mirrorDir)
    const names = releasesOf(up.list())
    assert.deepEqual([...first.done].sort(), names)
    assert.deepEqual(first.rejected, [])
    assert.equal(first.inFlight, 0)

    // Byte for byte the upstream releases; nothing partial left in the root.
    const mirrored = readTree(join(mirrorDir, 'releases'))
    const original = readTree(up.root)
    assert.deepEqual([...mirrored.keys()].sort(), [...original.keys()].sort())
    for (const [k, v] of original) assert.ok(mirrored.get(k)!.equals(v), `${k} differs`)
    assert.deepEqual(readdirSync(join(mirrorDir, 'releases')).sort(), [...names, '.aacseed-mirror'].sort())

    // Torrented again by the naming rules with upstream's piece length: upstream's infohashes, published.
    const ours = JSON.parse(readFileSync(join(mirrorDir, 'torrents.json'), 'utf8')) as Array<
      ListEntry & { piece_length: number }
    >
    assert.deepEqual(
      new Map(ours.map((e) => [e.display_name, e.btih])),
      new Map(up.list().map((e) => [e.display_name, e.btih])),
    )
    assert.ok(ours.every((e) => e.piece_length === 65536))

    const after = JSON.parse((await runCli(['coverage', '--json'], { env, cwd: mirrorDir })).stdout) as {
      collections: Array<{
        collection: string
        missing: number
        levels: { held: { ratio: number }; torrented: { ratio: number } }
      }>
    }
    for (const c of after.collections) {
      assert.equal(c.missing, 0, c.collection)
      assert.equal(c.levels.held.ratio, 1, c.collection)
      assert.equal(c.levels.torrented.ratio, 1, c.collection)
    }

    // A second sync has nothing to do.
    const second = await sync(env, mirrorDir)
    assert.deepEqual([second.queued, second.started, second.done], [[], [], []])

    // Upstream publishes a new range; the next sync picks up exactly that.
    await up.stop()
    writeSampleRelease({
      root: up.root,
      collections: [
        {
          name: 'duxiu_records',
          kind: 'xml',
          ranges: 1,
          recordsPerRange: 120,
          framesPerFile: 3,
          extension: '.jsonl.seekable.zst',
        },
      ],
      seed: 8,
      start: Date.UTC(2024, 0, 1) / 1000,
    })
    await up.serve()
    const added = releasesOf(up.list()).filter((n) => !names.includes(n))
    assert.equal(added.length, 1)
    const third = await sync(env, mirrorDir)
    assert.deepEqual(third.done, added)
    assert.ok(existsSync(join(mirrorDir, 'releases', added[0]!)))
  },
)

function downloadStates(dbPath: string): string[] {
  if (!existsSync(dbPath)) return []
  try {
    const db = openDatabase(dbPath, { readonly: true })
    try {
      return db.prepare('SELECT state FROM mirror_downloads ORDER BY name').pluck().all() as string[]
    } finally {
      db.close()
    }
  } catch {
    return [] // not migrated yet
  }
}

test(
  'a mirror sync killed mid-download leaves nothing cataloged or published, and `aacseed serve` finishes it on schedule and seeds it',
  { timeout: 240_000 },
  async (t) => {
    const dir = tempDir(t)
    const tracker = await startTracker(t)
    const site = await startStaticServer(t, join(dir, 'up', 'site'))
    const up = await upstream(t, join(dir, 'up'), tracker, site.url)
    // Listed and fetchable, but nobody seeds yet: the downloads start and stall.
    await up.prepare()
    const mirrorDir = join(dir, 'mirror')
    const env = mirrorSetup(mirrorDir, `${site.url}/torrents.json`, await freePort())
    const dbPath = join(mirrorDir, 'aacseed.db')
    const n = up.list().length
    const child = spawnCli(['mirror', 'sync'], { env, cwd: mirrorDir })
    t.after(() => killChild(child))
    // Queued, and as many downloading as mirror.max_active allows (4).
    await waitFor(
      'the downloads started',
      () => {
        const states = downloadStates(dbPath)
        return states.length === n && states.filter((s) => s === 'downloading').length === Math.min(4, n)
      },
      60_000,
      100,
    )
    await killChild(child, 'SIGKILL')
    assert.ok(existsSync(join(mirrorDir, 'releases', '.aacseed-mirror', 'partial')))
    const scanned = await runCli(['scan', '--json'], { env, cwd: mirrorDir })
    assert.equal(scanned.code, 0, scanned.stderr)
    assert.deepEqual(
      (({ meta_files, data_folders }) => [meta_files, data_folders])(
        JSON.parse(scanned.stdout) as { meta_files: number; data_folders: number },
      ),
      [0, 0],
    )
    const listed = await runCli(['torrents', 'list', '--format', 'json'], { env, cwd: mirrorDir })
    assert.deepEqual(JSON.parse(listed.stdout), [])

    // Upstream seeds; the mirror runs as a service with its sync job every 2 seconds.
    await up.serve()
    writeFileSync(
      join(mirrorDir, 'aacseed.toml'),
      readFileSync(join(mirrorDir, 'aacseed.toml'), 'utf8').replace(
        '[mirror]',
        '[jobs]\nmirror_sync = "*/2 * * * * *"\n[http]\nenabled = false\n[mirror]',
      ),
    )
    const served = spawnCli(['serve'], { env, cwd: mirrorDir })
    let out = ''
    served.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    served.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    t.after(() => killChild(served))
    await waitFor(
      `every download done (${out.slice(-3000)})`,
      () => {
        const states = downloadStates(dbPath)
        return states.length === n && states.every((s) => s === 'done')
      },
      120_000,
      250,
    )
    const ours = JSON.parse(readFileSync(join(mirrorDir, 'torrents.json'), 'utf8')) as ListEntry[]
    assert.deepEqual(
      ours.map((e) => e.btih).sort(),
      up
        .list()
        .map((e) => e.btih)
        .sort(),
    )
    // The mirror seeds them from its root: the tracker sees a second seeder for each.
    await waitFor(
      'the mirror seeding every torrent',
      () => up.list().every((e) => tracker.seeders(e.btih) >= 2),
      60_000,
      200,
    )
    assertHoldsUpstream(join(mirrorDir, 'releases'), up.root)
    await killChild(served, 'SIGTERM')
  },
)

test(
  'a list entry with only a magnet link is resolved through the swarm (BEP 9) and mirrored like the others',
  { timeout: 180_000 },
  async (t) => {
    const dir = tempDir(t)
    const tracker = await startTracker(t)
    const site = await startStaticServer(t, join(dir, 'up', 'site'))
    const up = await upstream(t, join(dir, 'up'), tracker, site.url)
    await up.serve()
    // The same list without .torrent URLs: the magnet links (with the tracker) are all there is.
    const magnetsOnly = (
      JSON.parse(readFileSync(join(dir, 'up', 'site', 'torrents.json'), 'utf8')) as Array<
        Record<string, unknown>
      >
    ).map(({ url: _url, ...rest }) => rest)
    assert.ok(
      magnetsOnly.every(
        (e) => typeof e.magnet_link === 'string' && (e.magnet_link as string).includes('tr='),
      ),
    )
    site.override('/torrents.json', JSON.stringify(magnetsOnly))
    const mirrorDir = join(dir, 'mirror')
    const env = mirrorSetup(mirrorDir, `${site.url}/torrents.json`, await freePort())
    const r = await sync(env, mirrorDir)
    assert.deepEqual([...r.done].sort(), releasesOf(up.list()))
    assert.ok(!site.requests.some((p) => p.endsWith('.torrent')), 'no .torrent was fetched over HTTP')
    assertHoldsUpstream(join(mirrorDir, 'releases'), up.root)
  },
)

test(
  'mirror sync with the Transmission engine: the daemon downloads into the staging folder, then seeds the placed release',
  { timeout: 240_000 },
  async (t) => {
    if (!requireTool(t, 'transmission-daemon')) return
    const dir = tempDir(t)
    // Transmission never dials a loopback peer, so the upstream seeder must dial it: a short
    // tracker interval makes the seeder learn of the daemon soon after it announces.
    const tracker = await startTracker(t, { intervalMs: 2_000 })
    const site = await startStaticServer(t, join(dir, 'up', 'site'))
    const up = await upstream(t, join(dir, 'up'), tracker, site.url)
    await up.serve()
    const daemon = await startTransmission(t, join(dir, 'daemon'))
    const mirrorDir = join(dir, 'mirror')
    const env = mirrorSetup(mirrorDir, `${site.url}/torrents.json`, await freePort())
    writeFileSync(
      join(mirrorDir, 'aacseed.toml'),
      readFileSync(join(mirrorDir, 'aacseed.toml'), 'utf8').replace(
        '[mirror]',
        `[engine]\nkind = "transmission"\n[engine.transmission]\nurl = "${daemon.url}"\n[mirror]\nmax_active = 16`,
      ),
    )
    const names = releasesOf(up.list())
    const first = await runCli(['mirror', 'sync', '--json'], { env, cwd: mirrorDir })
    assert.equal(first.code, 0, first.stdout + first.stderr)
    assert.deepEqual([...(JSON.parse(first.stdout) as SyncJson).started].sort(), names)
    // The daemon downloads on its own, into the staging folder.
    await waitFor(
      'the daemon has every download complete',
      async () => {
        const r = await daemon.rpc('torrent-get', { fields: ['percentDone', 'downloadDir'] })
        const ts = r.arguments.torrents as Array<{ percentDone: number; downloadDir: string }>
        return (
          ts.length === names.length &&
          ts.every((x) => x.percentDone === 1 && x.downloadDir.includes('.aacseed-mirror/partial/'))
        )
      },
      180_000,
      500,
    )
    const second = await sync(env, mirrorDir)
    assert.deepEqual([...second.done].sort(), names)
    assertHoldsUpstream(join(mirrorDir, 'releases'), up.root)
    // Seeded again from the root, not from the staging folder.
    const r = await daemon.rpc('torrent-get', { fields: ['hashString', 'downloadDir'] })
    const ts = r.arguments.torrents as Array<{ hashString: string; downloadDir: string }>
    assert.deepEqual(
      ts.map((x) => x.hashString).sort(),
      up
        .list()
        .map((e) => e.btih)
        .sort(),
    )
    assert.ok(
      ts.every((x) => x.downloadDir.replace(/\/$/, '') === join(mirrorDir, 'releases')),
      JSON.stringify(ts),
    )
  },
)
