/**
 * The list aacseed publishes round-trips: another aacseed following it (reading it as a mirror
 * source, storing it as `mirror sources` does) gets every entry with the same groups, flags,
 * dates, sizes and figures, for AAC releases made here and for opaque torrents mirror sync holds
 * (whose entries are upstream's, with only `url` naming our copy).
 */
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { test } from 'node:test'
import { scan, writeSampleRelease } from '../../src/catalog/index.js'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import { publishedList } from '../../src/fleet/list.js'
import { MirrorStore, parseTorrentList, type UpstreamTorrent } from '../../src/mirror/index.js'
import { formatTorrentList, makeTorrents } from '../../src/torrents/index.js'
import { tempDir } from '../helpers.js'
import { generateAaList, type AaListEntry } from '../support/aa-list.js'
import { SMALL } from './fixtures.js'

const OUR_LIST = 'https://mirror.example/aacseed/torrents.json'

/** What a follower read from an AAC entry, in the list's own field names. */
function asEntry(u: UpstreamTorrent): Record<string, unknown> {
  return {
    url: u.torrentUrl,
    top_level_group_name: u.topGroup,
    group_name: u.group,
    display_name: `${u.name}.torrent`,
    added_to_torrents_list_at: u.addedAt,
    is_metadata: u.kind === 'meta',
    btih: u.btih,
    magnet_link: u.magnet,
    num_files: u.numFiles,
    data_size: u.dataSize,
    obsolete: u.obsolete,
    embargo: u.embargo,
    seeders: u.seeders,
    leechers: u.leechers,
    completed: u.completed,
    stats_scraped_at: u.scrapedAt,
    partially_broken: u.partiallyBroken,
    aacid_range: { collection: u.collection, from: u.from, to: u.to },
  }
}

test('a follower of our published list gets the same groups and fields, AAC and opaque alike', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'releases')
  writeSampleRelease({ root, collections: SMALL, seed: 5 })
  const config = configSchema.parse({
    catalog: { roots: [root], database: join(dir, 'ours.db') },
    torrents: {
      out_dir: join(dir, 'site', 'torrents'),
      piece_length: 65536,
      top_level_group_name: 'aac-mirror',
    },
  })
  const db = openDatabase(config.catalog.database)
  t.after(() => db.close())
  await scan({ db, roots: [root] })
  await makeTorrents({ db, torrents: config.torrents })

  // Opaque torrents held here by mirror sync, as upstream listed them: Sci-Hub, Library
  // Genesis, derived metadata (is_metadata), an obsolete and a partially broken one, both date forms.
  const upstream = generateAaList({ count: 400, seed: 11 }).entries.filter(
    (e) => e.top_level_group_name !== 'managed_by_aa',
  )
  const pick: AaListEntry[] = []
  const take = (f: (e: AaListEntry) => boolean): void => {
    pick.push(upstream.find((e) => f(e) && !pick.some((p) => p.btih === e.btih))!)
  }
  take((e) => e.group_name === 'scihub')
  take((e) => e.group_name.startsWith('libgen') && /^\d{4}-\d{2}-\d{2}$/.test(e.added_to_torrents_list_at))
  take((e) => e.is_metadata)
  take((e) => e.obsolete)
  pick.push({
    ...upstream.find((e) => e.group_name === 'scihub' && !e.obsolete)!,
    display_name: 'sm_99900000-99999999.torrent',
    btih: 'cd'.repeat(20),
    magnet_link: `magnet:?xt=urn:btih:${'cd'.repeat(20)}&dn=x`,
    partially_broken: true,
    embargo: true,
  })
  assert.equal(new Set(pick.map((p) => p.btih)).size, pick.length)
  const parsedUp = parseTorrentList(JSON.stringify(pick), {
    source: 'aa',
    location: 'https://annas-archive.example/dyn/torrents.json',
    maxEntries: 100,
  })
  assert.deepEqual(parsedUp.rejected, [])
  const store = new MirrorStore(db)
  const at = '2026-12-04T20:00:00.000Z'
  store.recordSourceList('aa', 'https://annas-archive.example/dyn/torrents.json', [], [], at, {
    opaque: parsedUp.opaque,
    duplicates: 0,
  })
  for (const o of parsedUp.opaque) {
    store.queue(
      {
        btih: o.btih,
        name: o.displayName,
        kind: 'other',
        collection: '',
        dataSize: o.dataSize,
        source: 'aa',
        wantedBy: 'sync',
        root,
        topGroup: o.topGroup,
        group: o.group,
      },
      at,
    )
    store.setState(o.btih, 'done', at)
  }

  const published = JSON.parse(formatTorrentList(publishedList(db, config), 'json')) as Array<
    Record<string, unknown>
  >
  const aac = published.filter((e) => 'aacid_range' in e)
  const others = published.filter((e) => !('aacid_range' in e))
  assert.ok(aac.length >= 3, `${aac.length} AAC entries`)
  assert.equal(others.length, pick.length)

  // The follower: our list as its mirror source, stored as `mirror sources` stores it.
  const text = formatTorrentList(publishedList(db, config), 'json')
  const read = parseTorrentList(text, { source: 'ours', location: OUR_LIST, maxEntries: 1000 })
  assert.deepEqual(read.rejected, [])
  assert.equal(read.duplicates, 0)
  const follower = openDatabase(join(dir, 'follower.db'))
  t.after(() => follower.close())
  const theirs = new MirrorStore(follower)
  theirs.recordSourceList('ours', OUR_LIST, read.torrents, [], at, { opaque: read.opaque, duplicates: 0 })

  // AAC releases: every field a follower keeps is the published one (url resolved against the list).
  const stored = new Map(theirs.upstream().map((u) => [u.btih, u]))
  assert.equal(stored.size, aac.length)
  for (const e of aac) {
    const u = stored.get(e.btih as string)
    assert.ok(u, `${e.display_name as string} read by the follower`)
    const want: Record<string, unknown> = { ...e, url: new URL(e.url as string, OUR_LIST).href }
    const got = asEntry(u)
    for (const k of Object.keys(got)) assert.deepEqual(got[k], want[k], `${e.display_name as string}: ${k}`)
    assert.equal(u.topGroup, 'aac-mirror')
    assert.equal(u.group, u.collection)
  }

  // Opaque torrents: the follower keeps upstream's entry as we published it, field for field,
  // and the same groups, flags and dates as upstream gave.
  const storedOther = new Map(theirs.opaque().map((o) => [o.btih, o]))
  for (const e of others) {
    const o = storedOther.get(e.btih as string)!
    assert.ok(o, `${e.display_name as string} read by the follower`)
    assert.deepEqual(JSON.parse(theirs.opaqueEntry(o.btih)!), e)
    const original = pick.find((p) => p.btih === e.btih)!
    assert.deepEqual({ ...e, url: original.url }, original, 'upstream fields unchanged but url')
    assert.equal(e.url, `torrents/${o.btih}.torrent`)
    assert.equal(o.torrentUrl, new URL(e.url as string, OUR_LIST).href)
    assert.deepEqual(
      [
        o.topGroup,
        o.group,
        o.displayName,
        o.obsolete,
        o.embargo,
        o.partiallyBroken,
        o.isMetadata,
        o.addedAt,
        o.scrapedAt,
      ],
      [
        original.top_level_group_name,
        original.group_name,
        original.display_name,
        original.obsolete,
        original.embargo,
        original.partially_broken,
        original.is_metadata,
        original.added_to_torrents_list_at,
        original.stats_scraped_at,
      ],
    )
    assert.deepEqual(
      [o.dataSize, o.numFiles, o.torrentSize, o.seeders, o.leechers, o.completed, o.magnet],
      [
        original.data_size,
        original.num_files,
        original.torrent_size,
        original.seeders,
        original.leechers,
        original.completed,
        original.magnet_link,
      ],
    )
  }

  // And the follower publishes nothing it does not hold; following it again reads the same list.
  const again = parseTorrentList(text, { source: 'ours', location: OUR_LIST, maxEntries: 1000 })
  assert.deepEqual(again, read)
})
