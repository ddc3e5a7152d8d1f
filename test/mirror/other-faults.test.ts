/**
 * Mirror sync of opaque torrents, pass by pass, with a FAKE engine (test/support/fake-engine.ts)
 * that moves data only when told: the group folder, a .torrent that is not the listed one, a
 * path that would leave the folder, two torrents of a group by the same name, a dead upstream
 * retried with backoff, and seeding after a restart that re-verifies only changed data.
 */
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import { seedTorrents } from '../../src/jobs/seed.js'
import { applyPlanLocally, MirrorSync, planCandidates, planSeeding } from '../../src/mirror/index.js'
import { isPrivateAddress } from '../../src/mirror/fetch.js'
import type { MirrorDeps } from '../../src/mirror/sync.js'
import { publishList } from '../../src/publish/index.js'
import { encode } from '../../src/torrents/index.js'
import { infoHashOf, makeTorrent, readTree, writeRandom } from '../engines/fixtures.js'
import { tempDir } from '../helpers.js'
import { FakeEngine } from '../support/fake-engine.js'
import { startStaticServer } from './fixtures.js'

interface Made {
  name: string
  btih: string
  torrent: Buffer
}

/** A multi-file torrent of random bytes in `from/<name>/`, its .torrent in `site/<file>`. */
function opaque(from: string, site: string, name: string, file: string, seed: number): Made {
  const files = [`${seed}.pdf`, `sub/${seed + 1}.pdf`]
  const sizes = [20_000 + seed, 5_000]
  files.forEach((f, i) => {
    mkdirSync(join(from, name, f, '..'), { recursive: true })
    writeRandom(join(from, name, f), sizes[i]!)
  })
  const torrent = makeTorrent(
    { root: from, name, dir: join(from, name), files: files.map((path, i) => ({ path, size: sizes[i]! })) },
    { pieceLength: 1 << 14, announce: 'http://127.0.0.1:1/announce' },
  )
  writeFileSync(join(site, file), torrent)
  return { name, btih: infoHashOf(torrent), torrent }
}

function entry(m: Pick<Made, 'btih'>, file: string, group: string, size: number | null = null) {
  return {
    url: file,
    top_level_group_name: 'external',
    group_name: group,
    display_name: file,
    added_to_torrents_list_at: '2024-01-02',
    is_metadata: false,
    btih: m.btih,
    magnet_link: `magnet:?xt=urn:btih:${m.btih}`,
    data_size: size,
    seeders: 1,
    stats_scraped_at: '2025-08-14T12:11:10',
  }
}

async function setup(t: TestContext, source: Record<string, unknown> = {}) {
  const dir = tempDir(t)
  const from = join(dir, 'from')
  const site = join(dir, 'site')
  mkdirSync(site, { recursive: true })
  const root = join(dir, 'releases')
  mkdirSync(root, { recursive: true })
  const server = await startStaticServer(t, site)
  const config = configSchema.parse({
    catalog: { roots: [root], database: join(dir, 'aacseed.db') },
    torrents: { out_dir: join(dir, 'torrents'), list_path: join(dir, 'torrents.json') },
    mirror: {
      sources: [
        {
          name: 'up',
          list: `${server.url}/torrents.json`,
          kinds: ['other'],
          groups: ['scihub', 'dup'],
          ...source,
        },
      ],
      reserve_bytes: 0,
      max_active: 16,
      retries: 0,
      retry_base_ms: 10,
    },
  })
  const db = openDatabase(config.catalog.database)
  t.after(() => db.close())
  const clock = { now: new Date('2026-11-25T12:00:00Z') }
  const sync = (engine: FakeEngine, hosts?: MirrorDeps['hosts']) =>
    new MirrorSync({
      db,
      config,
      engine,
      ...(hosts ? { hosts } : {}),
      now: () => clock.now,
      freeBytes: async () => 1e15,
      afterPlace: async () => {
        await publishList(db, config)
      },
    })
  return { dir, from, site, root, server, config, db, clock, sync }
}

test('opaque torrents: placed in their group folder; a wrong .torrent, an unsafe path and a taken name are rejected and kept aside', async (t) => {
  const s = await setup(t)
  const good = opaque(s.from, s.site, 'sm_00100000-00199999', 'good.torrent', 1)
  // The list names one btih; its .torrent is another torrent.
  opaque(join(s.dir, 'elsewhere'), s.site, 'sm_x', 'wrong.torrent', 2)
  const claimed = { btih: 'ee'.repeat(20) }
  // A path leaving the download folder.
  const hostile = encode({
    announce: 'http://127.0.0.1:1/announce',
    info: {
      name: 'sm_evil',
      'piece length': 16384,
      pieces: Buffer.alloc(20, 1),
      files: [{ length: 10, path: ['..', '..', 'escape.txt'] }],
    },
  })
  writeFileSync(join(s.site, 'evil.torrent'), hostile)
  // Two torrents of one group with the same info name (their display names differ).
  const first = opaque(join(s.dir, 'd1'), s.site, 'same_name', 'dup1.torrent', 3)
  const second = opaque(join(s.dir, 'd2'), s.site, 'same_name', 'dup2.torrent', 4)
  writeFileSync(
    join(s.site, 'torrents.json'),
    JSON.stringify([
      entry(good, 'good.torrent', 'scihub', 25_001),
      entry(claimed, 'wrong.torrent', 'scihub'),
      entry({ btih: infoHashOf(hostile) }, 'evil.torrent', 'scihub'),
      entry(first, 'dup1.torrent', 'dup'),
      entry(second, 'dup2.torrent', 'dup'),
      entry({ btih: 'ff'.repeat(20) }, 'unfollowed.torrent', 'libgen_li_fic'),
    ]),
  )

  const engine = new FakeEngine()
  const r1 = await s.sync(engine).run()
  assert.deepEqual([...r1.queued].sort(), ['dup1', 'dup2', 'evil', 'good', 'wrong'])
  assert.deepEqual(r1.rejected.map((r) => [r.name, r.code]).sort(), [
    ['evil', 'unsafe-torrent-path'],
    ['wrong', 'torrent-mismatch'],
  ])
  // Into staging, never into the group folder, while downloading.
  const staged = engine.added.map((a) => a.dataDir)
  assert.ok(
    staged.every((d) => d.startsWith(join(s.root, '.aacseed-mirror', 'partial'))),
    staged.join(),
  )
  assert.equal(existsSync(join(s.root, 'other-torrents')), false)

  engine.complete(good.btih, s.from)
  engine.complete(first.btih, join(s.dir, 'd1'))
  engine.complete(second.btih, join(s.dir, 'd2'))
  const r2 = await s.sync(engine).run()
  assert.deepEqual([...r2.done].sort(), ['dup1', 'good'])
  assert.deepEqual(
    r2.rejected.map((r) => [r.name, r.code]),
    [['dup2', 'name-taken']],
  )
  const placed = join(s.root, 'other-torrents', 'external', 'scihub', good.name)
  const want = readTree(join(s.from, good.name))
  const got = readTree(placed)
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
  for (const [k, v] of want) assert.ok(got.get(k)!.equals(v), k)
  assert.ok(readTree(join(s.root, '.aacseed-mirror', 'rejected', second.btih, 'dup2')).size > 0, 'kept aside')
  assert.deepEqual(readdirSync(join(s.root, '.aacseed-mirror', 'partial')), [])

  // Published: the two held, each upstream's entry with our url; their .torrent files byte-exact.
  const list = JSON.parse(readFileSync(s.config.torrents.list_path, 'utf8')) as Array<{
    btih: string
    url: string
  }>
  assert.deepEqual(list.map((e) => e.btih).sort(), [good.btih, first.btih].sort())
  assert.ok(readFileSync(join(s.config.torrents.out_dir, `${good.btih}.torrent`)).equals(good.torrent))

  // Seeding after a restart: unchanged data is not verified again; changed data is.
  const fresh = new FakeEngine()
  const seeded = await seedTorrents(s.db, fresh)
  assert.equal(seeded.added, 2)
  assert.equal(seeded.verified, 0)
  const a = fresh.added.find((x) => x.infoHash === good.btih)!
  assert.equal(a.dataDir, join(s.root, 'other-torrents', 'external', 'scihub'))
  assert.equal(a.name, good.name)
  assert.ok(a.torrent.equals(good.torrent))
  utimesSync(join(placed, '1.pdf'), new Date(), new Date(2000, 0, 1))
  const again = new FakeEngine()
  await seedTorrents(s.db, again)
  assert.equal(again.added.find((x) => x.infoHash === good.btih)!.verify, true)
  assert.equal(again.added.find((x) => x.infoHash === first.btih)!.verify, false)
})

test('a .torrent URL from a public list naming a private host is refused, never asked (issue #12)', async (t) => {
  const s = await setup(t)
  const good = opaque(s.from, s.site, 'sm_00100000-00199999', 'good.torrent', 1)
  // The list's host (127.0.0.1) stands in for a public upstream; `metadata.invalid` is a name
  // only the FAKE resolver knows, answering the cloud metadata address (never connected to).
  const hosts: MirrorDeps['hosts'] = {
    resolve: async (host) => (host === 'metadata.invalid' ? ['169.254.169.254'] : []),
    isPrivate: (a) => a !== '127.0.0.1' && isPrivateAddress(a),
  }
  const evil = { btih: 'ab'.repeat(20) }
  writeFileSync(
    join(s.site, 'torrents.json'),
    JSON.stringify([
      entry(good, 'good.torrent', 'scihub'),
      { ...entry(evil, 'evil.torrent', 'scihub'), url: 'http://metadata.invalid/latest/meta-data' },
    ]),
  )
  const engine = new FakeEngine()
  const r = await s.sync(engine, hosts).run()
  assert.deepEqual(
    r.rejected.map((x) => [x.name, x.code]),
    [['evil', 'private-host']],
  )
  assert.match(r.rejected[0]!.message, /169\.254\.169\.254.*mirror\.allow_private_hosts/)
  assert.deepEqual(
    engine.added.map((a) => a.infoHash),
    [good.btih],
    "the .torrent on the list's own host is fetched",
  )
})

test('opaque torrents: a dead upstream is retried with backoff, a bounded number of times', async (t) => {
  const s = await setup(t)
  const good = opaque(s.from, s.site, 'sm_00100000-00199999', 'good.torrent', 1)
  writeFileSync(join(s.site, 'torrents.json'), JSON.stringify([entry(good, 'good.torrent', 'scihub')]))
  s.server.failNext('/good.torrent', 1000, 503)
  const engine = new FakeEngine()
  const r1 = await s.sync(engine).run()
  assert.deepEqual(
    r1.failed.map((f) => f.name),
    ['good'],
  )
  // Not again until its next attempt is due.
  const r2 = await s.sync(engine).run()
  assert.deepEqual(
    r2.deferred.map((d) => [d.name, d.reason]),
    [['good', 'retry-later']],
  )
  let rejected: string[] = []
  for (let pass = 0; pass < 30 && rejected.length === 0; pass++) {
    s.clock.now = new Date(s.clock.now.getTime() + 7 * 3600_000)
    rejected = (await s.sync(engine).run()).rejected.map((r) => r.message)
  }
  assert.equal(rejected.length, 1)
  assert.match(rejected[0]!, /failed 10 times; the limit is 10/)
  assert.equal(s.server.requests.filter((p) => p === '/good.torrent').length, 10)
})

test('plan --apply local queues an opaque torrent the sources do not follow; mirror sync places it in its group folder', async (t) => {
  const s = await setup(t, { kinds: ['aac'] })
  const good = opaque(s.from, s.site, 'sm_00100000-00199999', 'good.torrent', 1)
  writeFileSync(
    join(s.site, 'torrents.json'),
    JSON.stringify([entry(good, 'good.torrent', 'scihub', 25_001)]),
  )
  const engine = new FakeEngine()
  const first = await s.sync(engine).run()
  assert.deepEqual(first.queued, [], 'not followed by the source')
  const plan = planSeeding(planCandidates(s.db), { budgetBytes: 1e9, maxSeeders: 10 })
  assert.deepEqual(
    plan.chosen.map((c) => [c.name, c.kind]),
    [['good', 'other']],
  )
  const applied = applyPlanLocally(s.db, s.config, plan.chosen)
  assert.deepEqual([applied.added, applied.failed], [['good'], []])
  await s.sync(engine).run()
  engine.complete(good.btih, s.from)
  const r = await s.sync(engine).run()
  assert.deepEqual(r.done, ['good'])
  assert.ok(existsSync(join(s.root, 'other-torrents', 'external', 'scihub', good.name, 'sub', '2.pdf')))
  assert.equal(planSeeding(planCandidates(s.db), { budgetBytes: 1e9, maxSeeders: 10 }).skipped.held, 1)
})
