/**
 * Coverage per group of the upstream lists (AAC releases and other torrents alike), from stored
 * state: `readGroupCoverage`, GET /api/groups and the aacseed_group_* series of /metrics, checked
 * against figures counted here from the list entries themselves. The two seedboxes are fakes,
 * named as such: their polls are written as a fleet poll stores them; no daemon is contacted.
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { configSchema } from '../../src/config/index.js'
import { CoverageCache, NO_EXTERNAL_INPUTS } from '../../src/coverage/index.js'
import { openDatabase } from '../../src/db/index.js'
import { EngineStatusStore } from '../../src/engines/status.js'
import { FleetStore } from '../../src/fleet/index.js'
import { buildHttpServer } from '../../src/http/server.js'
import { createLogger } from '../../src/log/index.js'
import { MirrorStore, parseTorrentList, readGroupCoverage } from '../../src/mirror/index.js'
import { tempDir } from '../helpers.js'
import { generateAaList } from '../support/aa-list.js'

function seedingCopy(infohash: string) {
  return {
    infohash,
    name: infohash,
    state: 'seeding' as const,
    status: 6,
    percentDone: 1,
    error: 0,
    errorString: '',
    peers: 0,
    rateUpload: 0,
    uploaded: 0,
    stalled: false,
    seeders: null,
    leechers: null,
    downloads: null,
  }
}

test('per group: upstream, held, seeded, on ≥ 1 and ≥ N seedboxes, swarm buckets; the API and metrics say the same', async (t) => {
  const dir = tempDir(t)
  const config = configSchema.parse({
    catalog: { roots: [], database: join(dir, 'aacseed.db') },
    fleet: {
      replicas: 2,
      seedboxes: [
        { name: 'fake-a', url: 'http://127.0.0.1:1/a/transmission/rpc', path: '/srv/a' },
        { name: 'fake-b', url: 'http://127.0.0.1:1/b/transmission/rpc', path: '/srv/b' },
      ],
    },
  })
  const db = openDatabase(config.catalog.database)
  t.after(() => db.close())
  const list = generateAaList({ count: 600, seed: 7 })
  const parsed = parseTorrentList(JSON.stringify(list.entries), {
    source: 'aa',
    location: 'https://annas-archive.org/dyn/torrents.json',
    maxEntries: 10_000,
  })
  new MirrorStore(db).recordSourceList(
    'aa',
    'https://annas-archive.org/dyn/torrents.json',
    parsed.torrents,
    parsed.rejected,
    new Date().toISOString(),
    parsed,
  )

  // Sci-Hub: the first three torrents seeded here; the first two given to the fleet, on one and two fake
  // seedboxes.
  const sci = parsed.opaque.filter((o) => o.group === 'scihub')
  const [s0, s1, s2] = sci as [(typeof sci)[0], (typeof sci)[0], (typeof sci)[0]]
  new EngineStatusStore(db).record(
    'webtorrent',
    [s0, s1, s2].map((o) => ({
      infoHash: o.btih,
      name: o.displayName,
      state: 'seeding' as const,
      bytesPresent: o.dataSize!,
      totalBytes: o.dataSize!,
      uploaded: 0,
      peers: 0,
      error: null,
    })),
  )
  const fleet = new FleetStore(db)
  const at = new Date().toISOString()
  for (const o of [s0, s1])
    fleet.addExternalTorrent(
      {
        infohash: o.btih,
        name: o.displayName,
        kind: 'other',
        collection: '',
        totalSize: o.dataSize!,
        torrentPath: join(dir, `${o.btih}.torrent`),
      },
      at,
    )
  const poll = (hashes: string[]) => ({
    kind: 'transmission' as const,
    version: '3.00 (fake)',
    rpcVersion: 16,
    latencyMs: 1,
    freeBytes: 1e12,
    freeSpaceError: null,
    torrents: hashes.map(seedingCopy),
  })
  fleet.recordPoll('fake-a', config.fleet.seedboxes[0]!.url, poll([s0.btih, s1.btih]), at)
  fleet.recordPoll('fake-b', config.fleet.seedboxes[1]!.url, poll([s0.btih]), at)

  const rows = readGroupCoverage(db, config)
  const byGroup = new Map(rows.map((r) => [r.group, r]))

  // Counted here from the entries: the first listing of each btih, outside the malformed ones.
  const seen = new Set<string>()
  const want = new Map<string, { n: number; bytes: number; lt4: number; mid: number; gt10: number }>()
  for (const e of list.entries) {
    if (seen.has(e.btih)) continue
    seen.add(e.btih)
    const w = want.get(e.group_name) ?? { n: 0, bytes: 0, lt4: 0, mid: 0, gt10: 0 }
    w.n++
    w.bytes += e.data_size
    if (e.seeders < 4) w.lt4++
    else if (e.seeders <= 10) w.mid++
    else w.gt10++
    want.set(e.group_name, w)
  }
  assert.deepEqual([...byGroup.keys()].sort(), [...want.keys()].sort())
  for (const [group, w] of want) {
    const r = byGroup.get(group)!
    assert.deepEqual(r.upstream, { torrents: w.n, bytes: w.bytes }, group)
    assert.deepEqual(
      [r.swarm.lt4.torrents, r.swarm['4to10'].torrents, r.swarm.gt10.torrents, r.swarm.unknown.torrents],
      [w.lt4, w.mid, w.gt10, 0],
      group,
    )
  }
  const g = byGroup.get('scihub')!
  assert.equal(g.topGroup, 'external')
  assert.deepEqual(g.seeded, { torrents: 3, bytes: s0.dataSize! + s1.dataSize! + s2.dataSize! })
  assert.deepEqual(g.held, g.seeded, 'held here: in the local engine (and two of them given to the fleet)')
  assert.deepEqual(g.onSeedbox, { torrents: 2, bytes: s0.dataSize! + s1.dataSize! })
  assert.deepEqual(
    g.onTarget,
    { torrents: 1, bytes: s0.dataSize! },
    'N = 2: only the first is on two seedboxes',
  )
  for (const r of rows)
    if (r.group !== 'scihub') assert.equal(r.held.torrents + r.onSeedbox.torrents, 0, r.group)

  // GET /api/groups and /metrics, from the same function.
  const reader = openDatabase(config.catalog.database, { readonly: true })
  t.after(() => reader.close())
  const app = buildHttpServer({
    db: reader,
    coverage: new CoverageCache({
      db: reader,
      inputs: NO_EXTERNAL_INPUTS,
      minIntervalMs: 0,
      checkIntervalMs: 0,
    }),
    groups: () => readGroupCoverage(reader, config),
    logger: createLogger({ level: 'silent' }),
    version: '9.9.9-test',
  })
  t.after(() => app.close())
  const api = await app.inject('/api/groups')
  assert.equal(api.statusCode, 200)
  const body = JSON.parse(api.body) as {
    groups: Array<{
      group: string
      top_level_group: string
      upstream: { torrents: number }
      on_target: { torrents: number }
      swarm: Record<string, { torrents: number }>
    }>
  }
  const apiSci = body.groups.find((x) => x.group === 'scihub')!
  assert.equal(apiSci.top_level_group, 'external')
  assert.equal(apiSci.upstream.torrents, want.get('scihub')!.n)
  assert.equal(apiSci.on_target.torrents, 1)
  assert.equal(apiSci.swarm['4_to_10']!.torrents, want.get('scihub')!.mid)
  const metrics = (await app.inject('/metrics')).body
  assert.match(
    metrics,
    new RegExp(`^aacseed_group_torrents\\{group="scihub",level="upstream"\\} ${want.get('scihub')!.n}$`, 'm'),
  )
  assert.match(metrics, /^aacseed_group_torrents\{group="scihub",level="on_seedbox"\} 2$/m)
  assert.match(metrics, /^aacseed_group_torrents\{group="scihub",level="seeded"\} 3$/m)
  assert.match(
    metrics,
    new RegExp(
      `^aacseed_group_swarm_torrents\\{group="scihub",bucket="gt10"\\} ${want.get('scihub')!.gt10}$`,
      'm',
    ),
  )

  // As serve runs it: the coverage worker computes the groups with each report, and /metrics
  // takes them from the snapshot instead of reading them on the event loop.
  const inWorker = new CoverageCache({
    db: reader,
    inputs: NO_EXTERNAL_INPUTS,
    worker: {
      dbPath: config.catalog.database,
      inputs: null,
      groups: {
        module: new URL('../../src/mirror/groups.js', import.meta.url).href,
        name: 'readGroupCoverage',
        arg: config,
      },
    },
  })
  t.after(() => inWorker.close())
  const snap = await inWorker.ready()
  assert.deepEqual(snap.groups, rows)
  let calls = 0
  const served = buildHttpServer({
    db: reader,
    coverage: inWorker,
    groups: () => {
      calls++
      return readGroupCoverage(reader, config)
    },
    logger: createLogger({ level: 'silent' }),
    version: '9.9.9-test',
  })
  t.after(() => served.close())
  const fromWorker = (await served.inject('/metrics')).body
  assert.match(fromWorker, /^aacseed_group_torrents\{group="scihub",level="seeded"\} 3$/m)
  assert.match(fromWorker, /^aacseed_group_torrents\{group="scihub",level="on_seedbox"\} 2$/m)
  assert.equal(calls, 0, 'the groups came with the snapshot')
})
