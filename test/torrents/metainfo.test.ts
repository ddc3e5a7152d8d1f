import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import {
  buildTorrent,
  decode,
  encode,
  parseTorrent,
  sortByNameBytes,
  TorrentError,
  type BencodeValue,
  type DecodedDict,
  type TorrentInput,
} from '../../src/torrents/index.js'
import { infoWithoutPieces } from '../../src/torrents/metainfo.js'
import { tempDir } from '../helpers.js'
import { baseInput, infoOf, listFiles, referencePieces, writeFiles } from './fixtures.js'

function dataFolder(
  t: TestContext,
  sizes: Record<string, number> = {
    aacid__x__20230808T051503Z__1__A: 70_000,
    aacid__x__20230808T051503Z__2__B: 0,
    aacid__x__20230808T051503Z__C: 5,
  },
): TorrentInput {
  const root = join(tempDir(t), 'annas_archive_data__aacid__x__20230808T051503Z--20230808T051504Z')
  writeFiles(root, sizes)
  return baseInput({
    name: 'annas_archive_data__aacid__x__20230808T051503Z--20230808T051504Z',
    kind: 'folder',
    root,
    files: sortByNameBytes(listFiles(root)),
  })
}

function rejectsWith(code: string, pattern: RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof TorrentError, String(e))
    assert.equal(e.code, code)
    assert.match(e.message, pattern)
    return true
  }
}

const str = (v: unknown): string =>
  Buffer.isBuffer(v) ? v.toString('utf8') : assert.fail(`not a byte string: ${String(v)}`)

test('the same input gives byte-identical torrents, whatever the number of hash workers', async (t) => {
  const sizes: Record<string, number> = {}
  for (let i = 0; i < 12; i++) sizes[`aacid__x__20230808T051503Z__${i}__A`] = 900_001 + i
  const input = {
    ...dataFolder(t, sizes),
    comment: 'c',
    createdBy: 'aacseed test',
    creationDate: 1_691_472_903,
  }
  const a = await buildTorrent(input)
  const b = await buildTorrent({ ...input, hashWorkers: 1 })
  const c = await buildTorrent({ ...input, hashWorkers: 3 })
  assert.ok(a.torrent.equals(b.torrent))
  assert.ok(a.torrent.equals(c.torrent))
  const info = infoOf(a.torrent)
  assert.equal(a.infoHash, info.infoHash)
  assert.match(a.infoHash, /^[0-9a-f]{40}$/)
  const paths = input.files.map((f) => join(input.root, f.path))
  assert.ok((info.info.pieces as Buffer).equals(referencePieces(paths, input.pieceLength)))
  assert.deepEqual(
    { pieceLength: a.pieceLength, pieceCount: a.pieceCount, totalSize: a.totalSize, fileCount: a.fileCount },
    { pieceLength: 32_768, pieceCount: Math.ceil(10_800_078 / 32_768), totalSize: 10_800_078, fileCount: 12 },
  )
})

test('optional keys are written only when set', async (t) => {
  const input = dataFolder(t)
  const bare = decode((await buildTorrent({ ...input, announce: [] })).torrent) as DecodedDict
  assert.deepEqual(Object.keys(bare), ['info'])
  assert.deepEqual(Object.keys(bare.info as DecodedDict), ['files', 'name', 'piece length', 'pieces'])

  const one = decode((await buildTorrent(input)).torrent) as DecodedDict
  assert.deepEqual(Object.keys(one), ['announce', 'info'])
  assert.equal(str(one.announce), 'http://127.0.0.1:1/announce')

  const full = decode(
    (
      await buildTorrent({
        ...input,
        announce: [['http://t1/a'], ['http://t2/a', 'udp://t3:80']],
        webSeeds: ['https://host/releases', 'https://mirror/aa/'],
        comment: 'AAC release',
        createdBy: 'aacseed 0.1.0',
        creationDate: 1_691_472_903,
        source: 'AA',
        private: true,
      })
    ).torrent,
  ) as DecodedDict
  assert.deepEqual(Object.keys(full), [
    'announce',
    'announce-list',
    'comment',
    'created by',
    'creation date',
    'info',
    'url-list',
  ])
  assert.equal(str(full.announce), 'http://t1/a')
  assert.deepEqual(
    (full['announce-list'] as Buffer[][]).map((tier) => tier.map(str)),
    [['http://t1/a'], ['http://t2/a', 'udp://t3:80']],
  )
  // BEP 19: clients append name/path to a URL ending in '/'.
  assert.deepEqual((full['url-list'] as Buffer[]).map(str), ['https://host/releases/', 'https://mirror/aa/'])
  assert.equal(str(full.comment), 'AAC release')
  assert.equal(str(full['created by']), 'aacseed 0.1.0')
  assert.equal(full['creation date'], 1_691_472_903)
  const info = full.info as DecodedDict
  assert.deepEqual(Object.keys(info), ['files', 'name', 'piece length', 'pieces', 'private', 'source'])
  assert.equal(info.private, 1)
  assert.equal(str(info.source), 'AA')
})

test('a single-file torrent has length instead of files', async (t) => {
  const dir = tempDir(t)
  writeFiles(dir, { 'm.jsonl.zst': 40_000 })
  const built = await buildTorrent(
    baseInput({
      name: 'm.jsonl.zst',
      kind: 'file',
      root: join(dir, 'm.jsonl.zst'),
      files: [{ path: 'm.jsonl.zst', length: 40_000 }],
    }),
  )
  const info = (decode(built.torrent) as DecodedDict).info as DecodedDict
  assert.deepEqual(Object.keys(info), ['length', 'name', 'piece length', 'pieces'])
  assert.equal(info.length, 40_000)
  assert.equal(str(info.name), 'm.jsonl.zst')
  assert.ok((info.pieces as Buffer).equals(referencePieces([join(dir, 'm.jsonl.zst')], 32_768)))
})

test('a file changed since it was cataloged fails with file-changed and its path', async (t) => {
  const input = dataFolder(t)
  const path = join(input.root, 'aacid__x__20230808T051503Z__C')
  writeFileSync(path, 'longer now')
  await assert.rejects(buildTorrent(input), (e: unknown) => {
    rejectsWith('file-changed', /10 bytes, expected 5/)(e)
    assert.equal((e as TorrentError).location.path, path)
    return true
  })
})

test('refuses inputs that cannot make a sound torrent', async (t) => {
  const input = dataFolder(t)
  const cases: [Partial<TorrentInput>, string, RegExp][] = [
    [{ name: '..' }, 'unsafe-torrent-path', /relative step/],
    [{ name: 'a/b' }, 'unsafe-torrent-path', /contains '\/'/],
    [{ name: '' }, 'unsafe-torrent-path', /is empty/],
    [{ files: [{ path: '../x', length: 1 }] }, 'unsafe-torrent-path', /relative step/],
    [{ files: [{ path: '/etc/passwd', length: 1 }] }, 'unsafe-torrent-path', /absolute/],
    [{ files: [{ path: 'a//b', length: 1 }] }, 'unsafe-torrent-path', /is empty/],
    [{ files: [{ path: 'a\\b', length: 1 }] }, 'unsafe-torrent-path', /contains '\\'/],
    [{ files: [] }, 'invalid-torrent-input', /no files/],
    [
      {
        files: [
          { path: 'a', length: 1 },
          { path: 'a', length: 1 },
        ],
      },
      'invalid-torrent-input',
      /listed twice/,
    ],
    [
      {
        files: [
          { path: 'a', length: 1 },
          { path: 'a/b', length: 1 },
        ],
      },
      'invalid-torrent-input',
      /both a file and a folder/,
    ],
    [{ files: [{ path: 'a', length: -1 }] }, 'invalid-torrent-input', /bad length -1/],
    [
      { kind: 'file', files: [{ path: 'other', length: 1 }] },
      'invalid-torrent-input',
      /exactly one file, named like the torrent/,
    ],
    [{ files: [{ path: 'a', length: 0 }] }, 'empty-torrent', /at least one byte/],
    [{ announce: [['http://t/a'], []] }, 'invalid-torrent-input', /tier is empty/],
    [{ pieceLength: 1000 }, 'invalid-piece-length', /power of two/],
    // Checked before any file is opened: these files do not exist.
    [{ files: [{ path: 'huge', length: 2 ** 47 }] }, 'too-many-pieces', /4294967296 pieces of 32768 bytes/],
  ]
  for (const [over, code, pattern] of cases)
    await assert.rejects(
      buildTorrent({ ...input, ...over }),
      rejectsWith(code, pattern),
      JSON.stringify(over),
    )
})

test('parseTorrent reads back what buildTorrent wrote', async (t) => {
  const input = {
    ...dataFolder(t),
    announce: [['http://t1/a'], ['http://t2/a']],
    webSeeds: ['https://host/r'],
    comment: 'hi',
    createdBy: 'me',
    creationDate: 5,
    source: 'S',
    private: true,
  }
  const built = await buildTorrent(input)
  assert.deepEqual(parseTorrent(built.torrent), {
    infoHash: built.infoHash,
    name: input.name,
    kind: 'folder',
    files: input.files.map((f) => ({ path: f.path, length: f.length })),
    totalSize: 70_005,
    pieceLength: 32_768,
    pieceCount: 3,
    private: true,
    source: 'S',
    announce: [['http://t1/a'], ['http://t2/a']],
    urlList: ['https://host/r/'],
    comment: 'hi',
    createdBy: 'me',
    creationDate: 5,
  })
})

function torrentWith(info: Record<string, BencodeValue>, outer: Record<string, BencodeValue> = {}): Buffer {
  return encode({ ...outer, info: { name: 'n', 'piece length': 16_384, pieces: Buffer.alloc(20), ...info } })
}

test('parseTorrent refuses paths that could leave the download folder', () => {
  for (const bad of ['..', '.', '', 'a/b', 'a\\b', 'a\0b', 'C:', 'c:evil']) {
    assert.throws(
      () => parseTorrent(torrentWith({ files: [{ length: 1, path: ['ok', bad] }] })),
      rejectsWith('unsafe-torrent-path', /unsafe path component/),
      JSON.stringify(bad),
    )
    assert.throws(
      () => parseTorrent(torrentWith({ name: bad, length: 1 })),
      rejectsWith('unsafe-torrent-path', /info\.name/),
      JSON.stringify(bad),
    )
  }
})

test('parseTorrent enforces its limits and the shape of a v1 torrent', () => {
  const files = (n: number): BencodeValue[] =>
    Array.from({ length: n }, (_, i) => ({ length: 1, path: [`f${i}`] }))
  const cases: [Buffer, Parameters<typeof parseTorrent>[1], RegExp][] = [
    [torrentWith({ files: files(3) }), { maxFiles: 2 }, /3 files is more than the limit of 2/],
    [
      torrentWith({ length: 16_384 * 3, pieces: Buffer.alloc(60) }),
      { maxPieces: 2 },
      /3 pieces is more than the limit of 2/,
    ],
    [torrentWith({ length: 1 }), { maxBytes: 10 }, /more than the limit of 10/],
    [torrentWith({ length: 16_385 }), {}, /holds 1 hashes but 16385 bytes in pieces of 16384 need 2/],
    [torrentWith({ length: 1, pieces: Buffer.alloc(21) }), {}, /not a multiple of 20/],
    [torrentWith({ length: 1, files: files(1) }), {}, /both length and files/],
    [torrentWith({ 'meta version': 2, 'file tree': {} }), {}, /v2-only/],
    [torrentWith({ length: -1 }), {}, /negative/],
    [torrentWith({ length: 2n ** 60n }), {}, /too large/],
    [torrentWith({ files: [] }), {}, /info.files is empty/],
    [torrentWith({ files: [...files(2), ...files(1)] }), {}, /f0 is listed twice/],
    [torrentWith({ files: [{ length: 1, path: [Buffer.from([0xff])] }] }), {}, /not UTF-8/],
    [torrentWith({ length: 1, 'piece length': 0 }), {}, /out of range/],
    [encode({ announce: 'x' }), {}, /info is missing/],
  ]
  for (const [buf, limits, pattern] of cases)
    assert.throws(() => parseTorrent(buf, limits), rejectsWith('invalid-torrent', pattern), String(pattern))
})

test('parseTorrent takes the infohash from the bytes as written and reads tracker forms', () => {
  // Keys out of order inside info (an old tool's output): re-encoding would change the hash.
  const info = `d4:name1:n6:lengthi1e12:piece lengthi16384e6:pieces20:${'\0'.repeat(20)}e`
  const buf = Buffer.from(`d8:announce4:http4:info${info}8:url-list3:urle`, 'latin1')
  const parsed = parseTorrent(buf, {}, { allowUnsortedKeys: true })
  assert.equal(parsed.infoHash, createHash('sha1').update(Buffer.from(info, 'latin1')).digest('hex'))
  assert.deepEqual(parsed.announce, [['http']])
  assert.deepEqual(parsed.urlList, ['url'])
  assert.equal(parsed.kind, 'file')
  assert.throws(() => parseTorrent(buf), rejectsWith('invalid-bencode', /out of order/))
})

test('an info dictionary encoded but for its pieces, then spliced, is the bytes of encoding it whole', () => {
  const pieces = createHash('sha1').update('x').digest()
  const infos: Array<Record<string, BencodeValue | undefined>> = [
    { name: 'a', 'piece length': 32768, length: 5 },
    { name: 'a', 'piece length': 32768, files: [{ length: 1, path: ['b'] }], private: 1, source: 'S' },
    // Keys on either side of "pieces" by their bytes: "piece length" and "piecesz", "pi" and "pz".
    { piecesz: 1, 'piece length': 1, pi: 'x', pz: [1, 2], private: undefined },
    {},
  ]
  for (const info of infos)
    assert.deepEqual(
      infoWithoutPieces(info).withPieces(pieces),
      encode({ ...info, pieces }),
      JSON.stringify(info),
    )
  assert.throws(() => infoWithoutPieces({ pieces }), /already has pieces/)
})
