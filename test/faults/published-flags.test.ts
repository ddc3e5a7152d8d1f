/**
 * Fault (#12, config and list edge cases): the published list said `obsolete: false, embargo:
 * false, partially_broken: false` for every torrent, even for mirrored releases whose upstream
 * entry says otherwise. Now a mirrored release carries its upstream flags, in the list file
 * and in GET /torrents.json alike (one function, the same bytes).
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { releaseOfTorrentName, type UpstreamTorrent } from '../../src/mirror/list.js'
import { MirrorStore } from '../../src/mirror/store.js'
import { publishList } from '../../src/publish/index.js'
import { torrentFileName } from '../../src/aac/index.js'
import { TorrentStore } from '../../src/torrents/index.js'
import { apiServer, apiTree } from '../http/fixtures.js'

test('fault: a mirrored release carries upstream obsolete / embargo / partially_broken into the published list and GET /torrents.json', async (t) => {
  const tree = await apiTree(t)
  const ours = new TorrentStore(tree.writer).all()
  assert.ok(ours.length >= 4)
  const upstream = (i: number, flags: Partial<UpstreamTorrent>): UpstreamTorrent => ({
    ...releaseOfTorrentName(torrentFileName(ours[i]!.name)),
    btih: ours[i]!.infohash,
    torrentUrl: null,
    magnet: null,
    dataSize: ours[i]!.totalSize,
    numFiles: null,
    seeders: null,
    leechers: null,
    completed: null,
    scrapedAt: null,
    obsolete: false,
    embargo: false,
    partiallyBroken: false,
    addedAt: null,
    topGroup: '',
    group: ours[i]!.collection,
    ...flags,
  })
  new MirrorStore(tree.writer).recordSourceList(
    'aa',
    'https://upstream.example/torrents.json',
    [
      upstream(0, { obsolete: true }),
      upstream(1, { embargo: true }),
      upstream(2, { partiallyBroken: true }),
      upstream(3, {}),
    ],
    [],
    '2026-11-24T10:00:00.000Z',
  )
  const { app } = apiServer(t, tree)
  const r = await app.inject('/torrents.json')
  assert.equal(r.statusCode, 200)
  const listPath = await publishList(tree.writer, tree.config)
  assert.ok(listPath)
  assert.equal(r.body, readFileSync(listPath, 'utf8'), 'the file and the endpoint: the same bytes')
  type Entry = { btih: string; obsolete: boolean; embargo: boolean; partially_broken: boolean }
  const flags = new Map(
    r.json<Entry[]>().map((e) => [e.btih, [e.obsolete, e.embargo, e.partially_broken]] as const),
  )
  assert.deepEqual(flags.get(ours[0]!.infohash), [true, false, false])
  assert.deepEqual(flags.get(ours[1]!.infohash), [false, true, false])
  assert.deepEqual(flags.get(ours[2]!.infohash), [false, false, true])
  assert.deepEqual(flags.get(ours[3]!.infohash), [false, false, false], 'listed upstream without flags')
  // Not listed upstream at all: our own release, no flags.
  assert.deepEqual(flags.get(ours[4]!.infohash), [false, false, false])
})
