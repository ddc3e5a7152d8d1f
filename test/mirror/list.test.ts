/**
 * Reading an upstream torrent list (`parseTorrentList`): the JSON aacseed itself publishes is
 * read back field for field, every hostile entry is rejected on its own (naming the entry and a
 * stable code) while its neighbours still count, and only a list that cannot be read at all
 * throws. Also `magnetInfoHash` (hex and base32) and `releaseOfTorrentName`.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import {
  MirrorError,
  magnetInfoHash,
  parseTorrentList,
  releaseOfTorrentName,
  type ListContext,
  type ParsedList,
} from '../../src/mirror/index.js'
import {
  magnetLink,
  torrentListEntries,
  type TorrentListEntry,
  type TorrentRow,
} from '../../src/torrents/index.js'
import { dataName, metaName, T0, ts } from '../fixtures.js'

const HTTP_LIST = 'http://mirror.example.org/aa/lists/torrents.json'
const FILE_LIST = '/srv/upstream/lists/torrents.json'

function ctx(location = HTTP_LIST, maxEntries = 1000): ListContext {
  return { source: 'upstream-a', location, maxEntries }
}

function sha1(s: string): string {
  return createHash('sha1').update(s).digest('hex')
}

interface RowSpec {
  name: string
  kind: 'meta' | 'data'
  collection: string
  from: number
  to: number
  size: number
  files: number
}

function row(spec: RowSpec, i: number): TorrentRow {
  return {
    id: i + 1,
    name: spec.name,
    kind: spec.kind,
    collection: spec.collection,
    rangeFrom: ts(spec.from),
    rangeTo: ts(spec.to),
    rootId: 1,
    root: '/srv/releases',
    infohash: sha1(spec.name),
    pieceLength: 32768,
    pieceCount: Math.ceil(spec.size / 32768),
    totalSize: spec.size,
    fileCount: spec.files,
    torrentPath: `/srv/torrents/${spec.name}.torrent`,
    torrentSize: 1234 + i,
    dataIdentity: `identity-${i}`,
    madeAt: '2024-02-01T00:00:00',
    addedAt: '2024-02-0' + String(i + 1),
  }
}

const SPECS: RowSpec[] = [
  {
    name: metaName('zlib3_records', 0, 99),
    kind: 'meta',
    collection: 'zlib3_records',
    from: 0,
    to: 99,
    size: 50_001,
    files: 1,
  },
  {
    name: metaName('zlib3_files', 10, 3600, '.jsonl.seekable.zst'),
    kind: 'meta',
    collection: 'zlib3_files',
    from: 10,
    to: 3600,
    size: 7_777_777,
    files: 1,
  },
  {
    name: dataName('zlib3_files', 10, 3600),
    kind: 'data',
    collection: 'zlib3_files',
    from: 10,
    to: 3600,
    size: 123_456_789_012,
    files: 4242,
  },
]

/** The list exactly as aacseed publishes it (the same producer `torrents make` uses). */
function published(urlBase: string): TorrentListEntry[] {
  const swarm = new Map([
    [
      sha1(SPECS[0]!.name),
      {
        seeders: 0,
        leechers: 3,
        completed: 9,
        statsScrapedAt: '2024-03-04T05:06:07',
        currentlySeeding: true,
      },
    ],
    [
      sha1(SPECS[1]!.name),
      {
        seeders: 17,
        leechers: 0,
        completed: 123,
        statsScrapedAt: '2024-03-05T00:00:00',
        currentlySeeding: false,
      },
    ],
  ])
  return torrentListEntries(
    SPECS.map(row),
    {
      urlBase,
      topLevelGroupName: 'aa_derived_mirror_metadata',
      trackers: ['udp://tracker.example.org:1337/announce'],
    },
    (h) => swarm.get(h),
  )
}

function listText(entries: readonly unknown[]): string {
  return JSON.stringify(entries, null, 2)
}

/** A valid entry of the published shape for `name`, to be made hostile field by field. */
function entryFor(name: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  const kind = /_meta__/.test(name) ? 'meta' : 'data'
  const btih = sha1(name)
  return {
    url: `https://mirror.example.org/t/${encodeURIComponent(name)}.torrent`,
    top_level_group_name: 'x',
    group_name: 'x',
    display_name: `${name}.torrent`,
    added_to_torrents_list_at: '2024-01-02',
    is_metadata: kind === 'meta',
    btih,
    magnet_link: magnetLink({ infoHash: btih, name, trackers: [] }),
    torrent_size: 100,
    num_files: 1,
    data_size: 1000,
    aa_currently_seeding: false,
    obsolete: false,
    embargo: false,
    seeders: 1,
    leechers: 0,
    completed: 0,
    stats_scraped_at: null,
    partially_broken: false,
    random: 'abcd',
    ...over,
  }
}

/** RFC 4648 base32 of a hex infohash, as some magnet links carry it. */
function base32OfHex(hex: string, lower = false): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  const bits = [...Buffer.from(hex, 'hex')].map((b) => b.toString(2).padStart(8, '0')).join('')
  let out = ''
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5), 2)]
  return lower ? out.toLowerCase() : out
}

function label(i: number, displayName?: string): string {
  return displayName === undefined ? `entry ${i}` : `entry ${i} ${JSON.stringify(displayName)}`
}

/** Parses one good entry, then `hostile`, then another good entry; the good ones must survive. */
function withNeighbours(hostile: unknown, location = HTTP_LIST): { parsed: ParsedList; goodNames: string[] } {
  const before = metaName('good_records', 0, 9)
  const after = dataName('good_files', 0, 9)
  const parsed = parseTorrentList(listText([entryFor(before), hostile, entryFor(after)]), ctx(location))
  return { parsed, goodNames: [before, after] }
}

function assertRejectedAlone(
  hostile: unknown,
  code: string,
  messagePart: RegExp,
  location = HTTP_LIST,
): void {
  const { parsed, goodNames } = withNeighbours(hostile, location)
  assert.deepEqual(
    parsed.torrents.map((t) => t.name),
    goodNames,
    'the valid neighbours are still returned',
  )
  assert.equal(parsed.rejected.length, 1, `one rejection, got ${JSON.stringify(parsed.rejected)}`)
  const r = parsed.rejected[0]!
  const name =
    typeof hostile === 'object' &&
    hostile !== null &&
    typeof (hostile as { display_name?: unknown }).display_name === 'string'
      ? (hostile as { display_name: string }).display_name
      : undefined
  assert.equal(r.entry, label(1, name))
  assert.equal(r.source, 'upstream-a')
  assert.equal(r.code, code, r.message)
  assert.match(r.message, messagePart)
}

describe('parseTorrentList: the list aacseed publishes', () => {
  test('every field of every entry is read, with relative URLs resolved against an http list', () => {
    const entries = published('torrents/')
    // Upstream may write the infohash in capitals and flag entries obsolete or embargoed.
    const raw = entries.map((e) => ({ ...e })) as Array<Record<string, unknown>>
    raw[0]!.btih = (raw[0]!.btih as string).toUpperCase()
    raw[1]!.obsolete = true
    raw[2]!.embargo = true
    const parsed = parseTorrentList(listText(raw), ctx(HTTP_LIST))
    assert.deepEqual(parsed.rejected, [])
    assert.equal(parsed.torrents.length, SPECS.length)
    parsed.torrents.forEach((t, i) => {
      const spec = SPECS[i]!
      const e = entries[i]!
      assert.equal(t.btih, sha1(spec.name), 'btih, lowercase')
      assert.equal(t.name, spec.name)
      assert.equal(t.kind, spec.kind)
      assert.equal(t.collection, spec.collection)
      assert.equal(t.from, ts(spec.from))
      assert.equal(t.to, ts(spec.to))
      assert.equal(t.fromS, T0 + spec.from)
      assert.equal(t.toS, T0 + spec.to)
      assert.equal(t.torrentUrl, `http://mirror.example.org/aa/lists/torrents/${spec.name}.torrent`)
      assert.equal(t.magnet, e.magnet_link)
      assert.equal(t.dataSize, spec.size)
      assert.equal(t.numFiles, spec.files)
      assert.equal(t.seeders, e.seeders)
      assert.equal(t.leechers, e.leechers)
      assert.equal(t.completed, e.completed)
      assert.equal(t.scrapedAt, e.stats_scraped_at)
      assert.equal(t.addedAt, e.added_to_torrents_list_at)
      assert.equal(t.obsolete, i === 1)
      assert.equal(t.embargo, i === 2)
    })
    // The swarm figures really come through (not defaults).
    assert.deepEqual(
      parsed.torrents.map((t) => [t.seeders, t.leechers, t.completed, t.scrapedAt]),
      [
        [0, 3, 9, '2024-03-04T05:06:07'],
        [17, 0, 123, '2024-03-05T00:00:00'],
        [0, 0, 0, null],
      ],
    )
  })

  test('absolute http(s) URLs are kept; a root-relative URL stays on the list host', () => {
    const entries = published('https://cdn.example.net/torrents/')
    const parsed = parseTorrentList(listText(entries), ctx(HTTP_LIST))
    assert.deepEqual(parsed.rejected, [])
    assert.deepEqual(
      parsed.torrents.map((t) => t.torrentUrl),
      SPECS.map((s) => `https://cdn.example.net/torrents/${s.name}.torrent`),
    )
    const rooted = parseTorrentList(
      listText([entryFor(SPECS[0]!.name, { url: '/t/x.torrent' })]),
      ctx(HTTP_LIST),
    )
    assert.equal(rooted.torrents[0]!.torrentUrl, 'http://mirror.example.org/t/x.torrent')
  })

  test('a list read from a file resolves relative URLs inside its own folder', () => {
    const entries = published('torrents/')
    const parsed = parseTorrentList(listText(entries), ctx(FILE_LIST))
    assert.deepEqual(parsed.rejected, [])
    assert.deepEqual(
      parsed.torrents.map((t) => t.torrentUrl),
      SPECS.map((s) => `/srv/upstream/lists/torrents/${s.name}.torrent`),
    )
    const plain = parseTorrentList(listText([entryFor(SPECS[0]!.name, { url: 'x.torrent' })]), ctx(FILE_LIST))
    assert.equal(plain.torrents[0]!.torrentUrl, '/srv/upstream/lists/x.torrent')
  })

  test('an entry with only a magnet link takes its infohash from it; no url, no stats read as null', () => {
    const name = dataName('ia_files', 5, 6)
    const btih = sha1('ia')
    const minimal = {
      display_name: `${name}.torrent`,
      magnet_link: `magnet:?xt=urn:btih:${btih.toUpperCase()}&dn=x`,
    }
    const parsed = parseTorrentList(listText([minimal]), ctx())
    assert.deepEqual(parsed.rejected, [])
    const t = parsed.torrents[0]!
    assert.equal(t.btih, btih)
    assert.equal(t.kind, 'data')
    assert.equal(t.torrentUrl, null)
    assert.equal(t.dataSize, null)
    assert.equal(t.seeders, null)
    assert.equal(t.scrapedAt, null)
    assert.equal(t.addedAt, null)
    assert.equal(t.obsolete, false)
    assert.equal(t.embargo, false)
  })

  test('the same torrent listed twice under the same name is kept once, without a rejection', () => {
    const name = metaName('zlib3_records', 0, 9)
    const parsed = parseTorrentList(
      listText([entryFor(name, { seeders: 4 }), entryFor(name, { seeders: 9 })]),
      ctx(),
    )
    assert.deepEqual(parsed.rejected, [])
    assert.equal(parsed.torrents.length, 1)
    assert.equal(parsed.torrents[0]!.seeders, 4, 'the first one is kept')
  })

  test('a base32 magnet link that matches the hex btih is accepted', () => {
    const name = metaName('zlib3_records', 0, 9)
    const btih = sha1(name)
    for (const b32 of [base32OfHex(btih), base32OfHex(btih, true)]) {
      const parsed = parseTorrentList(
        listText([entryFor(name, { magnet_link: `magnet:?xt=urn:btih:${b32}&dn=x` })]),
        ctx(),
      )
      assert.deepEqual(parsed.rejected, [], b32)
      assert.equal(parsed.torrents[0]!.btih, btih)
    }
  })
})

describe('parseTorrentList: hostile entries are rejected one by one', () => {
  const meta = metaName('zlib3_records', 0, 99)
  const data = dataName('zlib3_files', 0, 99)

  // A name that could leave a folder is malformed, AAC-looking or not.
  const unsafeNames: Array<[string, string]> = [
    ['a parent step', `../${meta}.torrent`],
    ['a parent step inside', `${dataName('c', 0, 1)}/../../x.torrent`],
    ['an absolute path', '/etc/x.torrent'],
    ['a NUL', `annas_archive\0_data__aacid__c__${ts(0)}--${ts(1)}.torrent`],
    ['a backslash', `..\\${dataName('c', 0, 1)}.torrent`],
    ['only dots', '..'],
    ['a newline', 'r_000\n.torrent'],
  ]
  for (const [what, displayName] of unsafeNames) {
    test(`display_name with ${what}`, () => {
      assertRejectedAlone(
        entryFor('x', { display_name: displayName, btih: sha1(displayName), magnet_link: null }),
        'entry-invalid',
        /display_name .* is not a safe file name/,
      )
    })
  }

  // Any other name that is not an AAC release's is an opaque torrent: kept, never rejected.
  const otherNames: Array<[string, string]> = [
    ['a Library Genesis name', 'r_000.torrent'],
    ['no .torrent suffix', dataName('c', 0, 1)],
    ['a reversed AACID range', `annas_archive_data__aacid__c__${ts(10)}--${ts(5)}.torrent`],
    ['an impossible timestamp', 'annas_archive_data__aacid__c__20230231T000000Z--20230301T000000Z.torrent'],
    ['a collection with __', `annas_archive_data__aacid__a__b__${ts(0)}--${ts(1)}.torrent`],
  ]
  for (const [what, displayName] of otherNames) {
    test(`display_name with ${what} is an opaque torrent`, () => {
      const parsed = parseTorrentList(
        listText([entryFor('x', { display_name: displayName, btih: sha1(displayName), magnet_link: null })]),
        ctx(),
      )
      assert.deepEqual(parsed.rejected, [])
      assert.deepEqual(parsed.torrents, [])
      assert.equal(parsed.opaque.length, 1)
      assert.equal(parsed.opaque[0]!.displayName, displayName)
      assert.equal(parsed.opaque[0]!.btih, sha1(displayName))
    })
  }

  test('a NUL in a display_name is escaped in the rejection, never printed raw', () => {
    const displayName = `annas_archive\0_data__aacid__c__${ts(0)}--${ts(1)}.torrent`
    const { parsed } = withNeighbours(
      entryFor('x', { display_name: displayName, btih: sha1('n'), magnet_link: null }),
    )
    const r = parsed.rejected[0]!
    assert.ok(!r.entry.includes('\0'))
    assert.ok(r.entry.includes('\\u0000'))
  })

  test('display_name missing or not a string', () => {
    assertRejectedAlone({ btih: sha1('a') }, 'entry-invalid', /display_name/)
    assertRejectedAlone({ display_name: 42, btih: sha1('a') }, 'entry-invalid', /display_name/)
  })

  for (const btih of ['abc', sha1('x').slice(0, 39), sha1('x') + '0', 'g'.repeat(40), 42, true]) {
    test(`btih ${JSON.stringify(btih)} is not 40 hex digits`, () => {
      assertRejectedAlone(
        entryFor(meta, { btih, magnet_link: null }),
        'entry-invalid',
        /btih .* is not 40 hex digits/,
      )
    })
  }

  test('neither btih nor magnet', () => {
    assertRejectedAlone(
      entryFor(meta, { btih: null, magnet_link: null }),
      'entry-invalid',
      /neither btih nor magnet_link/,
    )
  })

  const badMagnets: Array<[string, unknown]> = [
    ['no xt', 'magnet:?dn=foo'],
    ['a short hash', `magnet:?xt=urn:btih:${sha1('x').slice(0, 30)}`],
    ['a v2 hash only', `magnet:?xt=urn:btmh:1220${sha1('x')}${sha1('y').slice(0, 24)}`],
    ['not a magnet', `https://example.org/?xt=urn:btih:${sha1(meta)}`],
    ['not a string', 12],
  ]
  for (const [what, magnet] of badMagnets) {
    test(`magnet_link with ${what}`, () => {
      assertRejectedAlone(entryFor(meta, { magnet_link: magnet }), 'magnet-invalid', /magnet_link/)
    })
  }

  test('magnet whose infohash differs from btih', () => {
    assertRejectedAlone(
      entryFor(meta, { magnet_link: `magnet:?xt=urn:btih:${sha1('other')}` }),
      'magnet-invalid',
      new RegExp(`${sha1('other')} is not the entry's btih ${sha1(meta)}`),
    )
    // base32 of another hash, too
    assertRejectedAlone(
      entryFor(meta, { magnet_link: `magnet:?xt=urn:btih:${base32OfHex(sha1('other'))}` }),
      'magnet-invalid',
      /is not the entry's btih/,
    )
  })

  test('magnet carrying two different infohashes', () => {
    assertRejectedAlone(
      entryFor(meta, {
        btih: null,
        magnet_link: `magnet:?xt=urn:btih:${sha1(meta)}&xt=urn:btih:${sha1('other')}`,
      }),
      'magnet-invalid',
      /no valid urn:btih/,
    )
  })

  test('is_metadata contradicting the name', () => {
    assertRejectedAlone(entryFor(meta, { is_metadata: false }), 'entry-invalid', /is_metadata is false/)
    assertRejectedAlone(entryFor(data, { is_metadata: true }), 'entry-invalid', /is_metadata is true/)
    assertRejectedAlone(
      entryFor(data, { is_metadata: 'yes' }),
      'entry-invalid',
      /is_metadata is not a boolean/,
    )
  })

  for (const v of [-1, 1.5, '1000', Number.MAX_SAFE_INTEGER + 2, true]) {
    test(`data_size ${JSON.stringify(v)}`, () => {
      assertRejectedAlone(
        entryFor(data, { data_size: v }),
        'entry-invalid',
        /data_size .* is not a non-negative integer/,
      )
    })
  }

  test('negative or fractional swarm figures', () => {
    assertRejectedAlone(entryFor(data, { seeders: -3 }), 'entry-invalid', /seeders/)
    assertRejectedAlone(entryFor(data, { leechers: 0.5 }), 'entry-invalid', /leechers/)
    assertRejectedAlone(entryFor(data, { num_files: '7' }), 'entry-invalid', /num_files/)
  })

  test('obsolete / embargo / dates of the wrong type', () => {
    assertRejectedAlone(entryFor(data, { obsolete: 'true' }), 'entry-invalid', /obsolete is not a boolean/)
    assertRejectedAlone(entryFor(data, { embargo: 1 }), 'entry-invalid', /embargo is not a boolean/)
    assertRejectedAlone(
      entryFor(data, { stats_scraped_at: 'yesterday' }),
      'entry-invalid',
      /stats_scraped_at/,
    )
    assertRejectedAlone(
      entryFor(data, { added_to_torrents_list_at: 20240101 }),
      'entry-invalid',
      /added_to_torrents_list_at/,
    )
  })

  const badHttpUrls = [
    'file:///etc/passwd',
    'javascript:alert(1)',
    'data:application/x-bittorrent;base64,ZGU=',
    'ftp://example.org/x.torrent',
    'FILE:///etc/x.torrent',
  ]
  for (const url of badHttpUrls) {
    test(`url ${url} in an http list`, () => {
      assertRejectedAlone(entryFor(data, { url }), 'entry-invalid', /only http and https are fetched/)
    })
  }

  test('a file list may not point to a non-http scheme either', () => {
    assertRejectedAlone(
      entryFor(data, { url: 'file:///etc/passwd' }),
      'entry-invalid',
      /only http and https/,
      FILE_LIST,
    )
  })

  test('url with credentials', () => {
    assertRejectedAlone(
      entryFor(data, { url: 'https://user:secret@example.org/x.torrent' }),
      'entry-invalid',
      /carries credentials/,
    )
    assertRejectedAlone(
      entryFor(data, { url: 'http://user@example.org/x.torrent' }),
      'entry-invalid',
      /carries credentials/,
    )
  })

  test('url with NUL or of the wrong type', () => {
    assertRejectedAlone(entryFor(data, { url: 'x\0.torrent' }), 'entry-invalid', /NUL/)
    assertRejectedAlone(entryFor(data, { url: 17 }), 'entry-invalid', /url is not a string/)
  })

  for (const url of [
    '../x.torrent',
    'torrents/../../../etc/x.torrent',
    'torrents/..',
    '/etc/x.torrent',
    'a\\..\\..\\x.torrent',
    './x.torrent',
    'a//x.torrent',
  ]) {
    test(`file-list url ${JSON.stringify(url)} leaves the list's folder`, () => {
      assertRejectedAlone(
        entryFor(data, { url }),
        'entry-invalid',
        /must be a path inside the list's folder/,
        FILE_LIST,
      )
    })
  }

  for (const url of ['%2E%2E/x.torrent', 'a%2F..%2F..%2Fx.torrent', '%00.torrent', '%E2%80']) {
    test(`file-list url ${JSON.stringify(url)} is decoded before it is checked`, () => {
      assertRejectedAlone(
        entryFor(data, { url }),
        'entry-invalid',
        /inside the list's folder|percent-encoded/,
        FILE_LIST,
      )
    })
  }

  test('a file-list url is percent-decoded, as published lists encode names (en dash ranges)', () => {
    const enDash = metaName('zlib3_records', 300, 400).replace('--', '\u2013')
    const parsed = parseTorrentList(
      listText([entryFor(enDash, { url: `torrents/${encodeURIComponent(enDash + '.torrent')}` })]),
      ctx(FILE_LIST),
    )
    assert.deepEqual(parsed.rejected, [])
    assert.equal(parsed.torrents[0]!.torrentUrl, `/srv/upstream/lists/torrents/${enDash}.torrent`)
  })

  test('the same btih listed for two names: the second is rejected, the first kept', () => {
    const btih = sha1(meta)
    const parsed = parseTorrentList(
      listText([
        entryFor(meta),
        entryFor(data, { btih, magnet_link: null }),
        entryFor(dataName('zlib3_files', 100, 200)),
      ]),
      ctx(),
    )
    assert.deepEqual(
      parsed.torrents.map((t) => t.name),
      [meta, dataName('zlib3_files', 100, 200)],
    )
    assert.equal(parsed.rejected.length, 1)
    assert.equal(parsed.rejected[0]!.entry, label(1, `${data}.torrent`))
    assert.equal(parsed.rejected[0]!.code, 'entry-invalid')
    assert.match(parsed.rejected[0]!.message, new RegExp(`btih ${btih} is also listed for ${meta}`))
  })

  test('a rejected entry does not claim its btih', () => {
    const btih = sha1(meta)
    const parsed = parseTorrentList(
      listText([entryFor(data, { btih, magnet_link: null, url: 'javascript:x' }), entryFor(meta)]),
      ctx(),
    )
    assert.deepEqual(
      parsed.torrents.map((t) => t.name),
      [meta],
    )
    assert.equal(parsed.rejected.length, 1)
    assert.equal(parsed.rejected[0]!.entry, label(0, `${data}.torrent`))
  })

  for (const v of [42, null, 'annas_archive_meta__x.torrent', [entryFor('x')], true]) {
    test(`a non-object entry ${JSON.stringify(v)?.slice(0, 20)}`, () => {
      assertRejectedAlone(v, 'entry-invalid', /is not a JSON object/)
    })
  }

  test('a very long hostile name is cut short in the label', () => {
    const displayName = 'x'.repeat(10_000) + '.torrent'
    const { parsed } = withNeighbours(entryFor('x', { display_name: displayName }))
    assert.equal(parsed.rejected.length, 1)
    assert.ok(
      parsed.rejected[0]!.entry.length < 400,
      `label of ${parsed.rejected[0]!.entry.length} characters`,
    )
    assert.ok(parsed.rejected[0]!.entry.startsWith('entry 1 "xxx'))
  })

  test('many hostile entries in one list: each rejected, in order, the good ones all kept', () => {
    const good = [
      metaName('a_records', 0, 1),
      dataName('a_files', 0, 1),
      metaName('b_records', 5, 9, '.jsonl.zstd'),
    ]
    const list = [
      entryFor(good[0]!),
      entryFor('x', { display_name: '../../etc/passwd.torrent' }),
      entryFor(good[1]!),
      7,
      entryFor(meta, { btih: 'nothex' }),
      entryFor(meta, { url: 'file:///etc/shadow' }),
      entryFor(good[2]!),
    ]
    const parsed = parseTorrentList(listText(list), ctx())
    assert.deepEqual(
      parsed.torrents.map((t) => t.name),
      good,
    )
    assert.deepEqual(
      parsed.rejected.map((r) => [r.entry, r.code]),
      [
        [label(1, '../../etc/passwd.torrent'), 'entry-invalid'],
        [label(3), 'entry-invalid'],
        [label(4, `${meta}.torrent`), 'entry-invalid'],
        [label(5, `${meta}.torrent`), 'entry-invalid'],
      ],
    )
  })
})

describe('parseTorrentList: whole-list failures', () => {
  function listError(text: string, c: ListContext = ctx()): MirrorError {
    try {
      parseTorrentList(text, c)
    } catch (e) {
      assert.ok(e instanceof MirrorError, `expected a MirrorError, got ${String(e)}`)
      return e
    }
    assert.fail('expected parseTorrentList to throw')
  }

  test('not JSON', () => {
    for (const text of ['', '<html>502 Bad Gateway</html>', '[{"display_name": "x"', '\u0000']) {
      const e = listError(text)
      assert.equal(e.code, 'list-invalid')
      assert.match(
        e.message,
        /upstream-a: the list at http:\/\/mirror\.example\.org\/aa\/lists\/torrents\.json is not JSON/,
      )
    }
  })

  test('not an array', () => {
    for (const text of [
      '{}',
      'null',
      '"[]"',
      '42',
      JSON.stringify({ torrents: [entryFor(metaName('c', 0, 1))] }),
    ]) {
      const e = listError(text)
      assert.equal(e.code, 'list-invalid')
      assert.match(e.message, /is not a JSON array/)
    }
  })

  test('more entries than maxEntries; exactly maxEntries is fine', () => {
    const entries = Array.from({ length: 5 }, (_, i) => entryFor(metaName('c', i * 10, i * 10 + 9)))
    const e = listError(listText(entries), ctx(HTTP_LIST, 4))
    assert.equal(e.code, 'list-invalid')
    assert.match(e.message, /has more than 4 entries \(the limit; 5 read when it was refused\)/)
    const ok = parseTorrentList(listText(entries), ctx(HTTP_LIST, 5))
    assert.equal(ok.torrents.length, 5)
    // The limit counts entries, good or bad.
    const bad = listError(listText([...entries.slice(0, 2), 1, 2, 3]), ctx(HTTP_LIST, 4))
    assert.equal(bad.code, 'list-invalid')
  })

  test('an empty array is an empty list, not an error', () => {
    assert.deepEqual(parseTorrentList('[]', ctx()), { torrents: [], opaque: [], rejected: [], duplicates: 0 })
  })
})

describe('magnetInfoHash', () => {
  const hex = sha1('some torrent')

  test('hex, any case, lowercased', () => {
    assert.equal(magnetInfoHash(`magnet:?xt=urn:btih:${hex}`), hex)
    assert.equal(magnetInfoHash(`magnet:?dn=a&xt=urn:btih:${hex.toUpperCase()}&tr=udp%3A%2F%2Fx`), hex)
  })

  test('base32, upper or lower case, decoded to hex', () => {
    assert.equal(magnetInfoHash(`magnet:?xt=urn:btih:${base32OfHex(hex)}`), hex)
    assert.equal(magnetInfoHash(`magnet:?xt=urn:btih:${base32OfHex(hex, true)}`), hex)
    // every bit position: all-ones and a single high bit
    assert.equal(magnetInfoHash(`magnet:?xt=urn:btih:${base32OfHex('f'.repeat(40))}`), 'f'.repeat(40))
    assert.equal(
      magnetInfoHash(`magnet:?xt=urn:btih:${base32OfHex('8' + '0'.repeat(39))}`),
      '8' + '0'.repeat(39),
    )
  })

  test('the same hash twice (hex and base32) is that hash; two different ones are none', () => {
    assert.equal(magnetInfoHash(`magnet:?xt=urn:btih:${hex}&xt=urn:btih:${base32OfHex(hex)}`), hex)
    assert.equal(magnetInfoHash(`magnet:?xt=urn:btih:${hex}&xt=urn:btih:${sha1('b')}`), null)
  })

  test('none when there is no valid v1 hash', () => {
    for (const m of [
      '',
      hex,
      `urn:btih:${hex}`,
      `MAGNET:?xt=urn:btih:${hex}`,
      'magnet:?dn=x',
      `magnet:?xt=urn:btih:${hex}0`,
      `magnet:?xt=urn:btih:${hex.slice(1)}`,
      `magnet:?xt=urn:btih:${base32OfHex(hex).slice(1)}`,
      `magnet:?xt=urn:btih:${base32OfHex(hex).replace(/./, '1')}`, // '1' is not in the base32 alphabet
      `magnet:?xt=urn:sha1:${hex}`,
      `magnet:?xt=urn:btih:${hex}x`,
    ]) {
      assert.equal(magnetInfoHash(m), null, m)
    }
  })
})

describe('releaseOfTorrentName', () => {
  test('a metadata file and a data folder', () => {
    const m = metaName('zlib3_records', 3, 4000, '.jsonl.seekable.zst', 'my_institute')
    assert.deepEqual(releaseOfTorrentName(`${m}.torrent`), {
      name: m,
      kind: 'meta',
      collection: 'zlib3_records',
      from: ts(3),
      to: ts(4000),
      fromS: T0 + 3,
      toS: T0 + 4000,
    })
    const d = dataName('zlib3_files', 7, 7)
    assert.deepEqual(releaseOfTorrentName(`${d}.torrent`), {
      name: d,
      kind: 'data',
      collection: 'zlib3_files',
      from: ts(7),
      to: ts(7),
      fromS: T0 + 7,
      toS: T0 + 7,
    })
  })

  test('the en dash of the written standard is accepted', () => {
    const name = `annas_archive_data__aacid__c__${ts(0)}\u2013${ts(5)}`
    const r = releaseOfTorrentName(`${name}.torrent`)
    assert.equal(r.name, name)
    assert.equal(r.toS - r.fromS, 5)
  })

  test('anything else is not-aac-name', () => {
    for (const n of [
      'r_000.torrent',
      `${metaName('c', 0, 1)}`,
      `../${dataName('c', 0, 1)}.torrent`,
      `annas_archive_data__aacid__c__${ts(2)}--${ts(1)}.torrent`,
      '.torrent',
    ]) {
      assert.throws(
        () => releaseOfTorrentName(n),
        (e: unknown) =>
          e instanceof MirrorError && e.code === 'not-aac-name' && e.message.includes(JSON.stringify(n)),
        n,
      )
    }
  })
})
