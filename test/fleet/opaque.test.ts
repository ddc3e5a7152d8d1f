/**
 * Opaque torrents (list entries that are not AAC releases) on the fleet, against FAKE
 * Transmission daemons (test/support/fake-transmission.ts): `plan --apply fleet`'s
 * `applyPlanToFleet` checks the .torrent against the entry's btih and size only, the fleet
 * places it on N seedboxes like any other, health counts its copies, a seedbox down past its
 * grace period has its copy re-placed, and the next plan counts it as held.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { openDatabase } from '../../src/db/index.js'
import { Fleet, FleetStore, readHealth } from '../../src/fleet/index.js'
import {
  applyPlanToFleet,
  MirrorStore,
  parseTorrentList,
  planCandidates,
  planSeeding,
} from '../../src/mirror/index.js'
import { encode, parseTorrent } from '../../src/torrents/index.js'
import { tempDir } from '../helpers.js'
import { FakeTransmission } from '../support/fake-transmission.js'
import { Clock, fleetConfig } from './support.js'

const quick = { retry: { attempts: 2, baseDelayMs: 10 }, pollRetry: { attempts: 1 } }

/** A multi-file .torrent in Sci-Hub's shape: a folder of files, not AAC-named. */
function scihubTorrent(name: string, files: number): { bytes: Buffer; btih: string; size: number } {
  const list = Array.from({ length: files }, (_, i) => ({ length: 1000 + i, path: [`${10000000 + i}.pdf`] }))
  const size = list.reduce((s, f) => s + f.length, 0)
  const pieceLength = 16384
  const bytes = encode({
    info: {
      name,
      'piece length': pieceLength,
      pieces: Buffer.alloc(20 * Math.ceil(size / pieceLength)),
      files: list,
    },
  })
  return { bytes, btih: parseTorrent(bytes).infoHash, size }
}

test('an opaque torrent given to the fleet is placed on N seedboxes, counted by health, re-placed when a seedbox goes down, and held in the next plan', async (t) => {
  const dir = tempDir(t)
  const dbPath = join(dir, 'aacseed.db')
  const db = openDatabase(dbPath)
  t.after(() => db.close())
  const boxes: FakeTransmission[] = []
  for (let i = 0; i < 3; i++) {
    const f = new FakeTransmission()
    await f.listen()
    t.after(() => f.close())
    boxes.push(f)
  }
  const clock = new Clock()
  const config = fleetConfig(
    dbPath,
    boxes.map((f, i) => ({ name: `fake${i}`, url: f.url })),
    { replicas: 2, down_after_s: 300 },
    { torrents: { out_dir: join(dir, 'torrents') } },
  )

  const sm = scihubTorrent('sm_00200000-00299999', 100)
  writeFileSync(join(dir, 'sm_00200000-00299999.torrent'), sm.bytes)
  const entry = (over: Record<string, unknown>) => ({
    top_level_group_name: 'external',
    group_name: 'scihub',
    added_to_torrents_list_at: '2023-12-21',
    is_metadata: false,
    num_files: 100,
    obsolete: false,
    embargo: false,
    seeders: 1,
    leechers: 0,
    completed: 3,
    stats_scraped_at: '2025-08-14T12:11:10',
    ...over,
  })
  const wrongSize = scihubTorrent('sm_00300000-00399999', 10)
  writeFileSync(join(dir, 'sm_00300000-00399999.torrent'), wrongSize.bytes)
  const listPath = join(dir, 'torrents.json')
  const parsed = parseTorrentList(
    JSON.stringify([
      entry({
        display_name: 'sm_00200000-00299999.torrent',
        btih: sm.btih,
        url: 'sm_00200000-00299999.torrent',
        data_size: sm.size,
      }),
      // The .torrent holds other bytes than the list says: refused, never given to the fleet.
      entry({
        display_name: 'sm_00300000-00399999.torrent',
        btih: wrongSize.btih,
        url: 'sm_00300000-00399999.torrent',
        data_size: wrongSize.size + 1,
      }),
      // Only a magnet: the fleet needs a .torrent.
      entry({
        display_name: 'sm_00400000-00499999.torrent',
        magnet_link: `magnet:?xt=urn:btih:${createHash('sha1').update('x').digest('hex')}`,
        data_size: 5000,
      }),
    ]),
    { source: 'aa', location: listPath, maxEntries: 100 },
  )
  assert.deepEqual(parsed.rejected, [])
  assert.equal(parsed.opaque.length, 3)
  new MirrorStore(db).recordSourceList('aa', listPath, [], [], new Date().toISOString(), parsed)

  const plan = planSeeding(planCandidates(db), { budgetBytes: 1e12, maxSeeders: 10 })
  assert.equal(plan.chosen.length, 3)
  const applied = await applyPlanToFleet(db, config, plan.chosen)
  assert.deepEqual(applied.added, ['sm_00200000-00299999'])
  assert.deepEqual(applied.failed.map((f) => [f.name, f.code]).sort(), [
    ['sm_00300000-00399999', 'torrent-mismatch'],
    ['sm_00400000-00499999', 'no-torrent-source'],
  ])
  const external = new FleetStore(db).externalTorrents()
  assert.deepEqual(
    external.map((x) => [x.infohash, x.kind, x.collection, x.totalSize]),
    [[sm.btih, 'other', '', sm.size]],
  )

  // Placed like any other torrent: on two of the three fake seedboxes.
  const fleet = new Fleet(config, db, { now: clock.now, client: quick })
  const first = await fleet.apply()
  assert.deepEqual([first.added, first.failed.length], [2, 0])
  const holders = () => boxes.flatMap((b, i) => (b.torrents.has(sm.btih) ? [i] : []))
  assert.equal(holders().length, 2)
  for (const b of boxes) for (const x of b.torrents.values()) Object.assign(x, { status: 6, percentDone: 1 })
  await fleet.poll()
  const health = () => readHealth(db, config, clock.now()).torrents.find((x) => x.infohash === sm.btih)!
  assert.deepEqual([health().kind, health().complete, health().health], ['other', 2, 'ok'])

  // A holder goes down past its grace period: the copy is re-placed on the third seedbox.
  const [gone] = holders()
  boxes[gone!]!.mode = '500'
  clock.advance(60_000)
  await fleet.apply()
  clock.advance(300_000)
  const after = await fleet.apply()
  assert.equal(after.added, 1)
  assert.equal(holders().length, 3, 'the down seedbox still has its copy; a third one got it')
  for (const b of boxes) for (const x of b.torrents.values()) Object.assign(x, { status: 6, percentDone: 1 })
  await fleet.poll()
  assert.deepEqual([health().complete, health().health], [2, 'ok'])

  // The next plan counts it as held (by the fleet), by its btih.
  const next = planCandidates(db).find((c) => c.btih === sm.btih)!
  assert.equal(next.held, true)
  assert.equal(next.kind, 'other')
})
