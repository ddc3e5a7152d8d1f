/**
 * Checking an upstream .torrent against its list entry (`checkUpstreamTorrent`): real torrents
 * built by `buildTorrent` over small files pass; torrents that are not the listed release, or
 * that would write outside a download folder or outside the standard's data folder shape, or
 * that exceed the limits, are refused with a stable code.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { checkUpstreamTorrent } from '../../src/mirror/index.js'
import { buildTorrent, encode, type BencodeDict, type BuiltTorrent } from '../../src/torrents/index.js'
import { aacid, dataName, metaName } from '../fixtures.js'
import { tempDir } from '../helpers.js'

const PIECE = 32 * 1024
const LIMITS = { maxBytes: 1 << 20, maxFiles: 100, maxPieces: 1000 }

interface Built extends BuiltTorrent {
  name: string
  kind: 'meta' | 'data'
}

async function build(
  root: string,
  name: string,
  kind: 'meta' | 'data',
  files: Array<{ path: string; size: number }>,
): Promise<Built> {
  const path = join(root, name)
  if (kind === 'meta') {
    writeFileSync(path, bytesOf(name, files[0]!.size))
  } else {
    mkdirSync(path, { recursive: true })
    for (const f of files) writeFileSync(join(path, f.path), bytesOf(f.path, f.size))
  }
  const b = await buildTorrent({
    name,
    kind: kind === 'meta' ? 'file' : 'folder',
    root: path,
    files:
      kind === 'meta'
        ? [{ path: name, length: files[0]!.size }]
        : files.map((f) => ({ path: f.path, length: f.size })),
    pieceLength: PIECE,
    announce: [['http://127.0.0.1:1/announce']],
    webSeeds: [],
    comment: '',
    createdBy: 'aacseed test',
    creationDate: null,
    source: '',
    private: false,
  })
  return { ...b, name, kind }
}

function bytesOf(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  let h = createHash('sha256').update(seed).digest()
  for (let i = 0; i < size; i += h.length) {
    h.copy(out, i)
    h = createHash('sha256').update(h).digest()
  }
  return out
}

/** A hand-made torrent: any info dictionary, with a consistent pieces field unless given. */
function hand(
  info: BencodeDict & { files?: Array<{ length: number; path: string[] }>; length?: number },
  pieceLength = PIECE,
): { buf: Buffer; btih: string } {
  const total = info.length ?? (info.files ?? []).reduce((s, f) => s + f.length, 0)
  const full: BencodeDict = {
    'piece length': pieceLength,
    pieces: Buffer.alloc(20 * Math.ceil(total / pieceLength), 7),
    ...info,
  }
  return {
    buf: encode({ announce: 'http://127.0.0.1:1/announce', info: full }),
    btih: createHash('sha1').update(encode(full)).digest('hex'),
  }
}

function entry(
  b: { btih: string } | Built,
  name: string,
  kind: 'meta' | 'data',
  dataSize: number | null,
): { btih: string; name: string; kind: 'meta' | 'data'; dataSize: number | null } {
  return { btih: 'infoHash' in b ? b.infoHash : b.btih, name, kind, dataSize }
}

/** Runs fn, expects an error with a string `code`, returns it. */
function failure(fn: () => unknown): { code: string; message: string; name: string } {
  try {
    fn()
  } catch (e) {
    const err = e as { code?: unknown; message?: unknown; name?: unknown }
    assert.equal(typeof err.code, 'string', `expected an error with a code, got ${String(e)}`)
    return { code: err.code as string, message: String(err.message), name: String(err.name) }
  }
  assert.fail('expected checkUpstreamTorrent to throw')
}

const META = metaName('zlib3_records', 0, 99)
const DATA = dataName('zlib3_files', 10, 20)
const DATA_FILES = [10, 15, 20].map((s) => ({ path: aacid('zlib3_files', s), size: 20_000 + s }))
const DATA_SIZE = DATA_FILES.reduce((s, f) => s + f.size, 0)

async function fixtures(t: TestContext): Promise<{ meta: Built; data: Built; otherMeta: Built }> {
  const root = tempDir(t, 'aacseed-mirror-check-')
  return {
    meta: await build(root, META, 'meta', [{ path: META, size: 70_000 }]),
    data: await build(root, DATA, 'data', DATA_FILES),
    otherMeta: await build(root, metaName('zlib3_records', 100, 199), 'meta', [{ path: '', size: 5_000 }]),
  }
}

describe('checkUpstreamTorrent: accepted', () => {
  test('a metadata file torrent and a data folder torrent as buildTorrent makes them', async (t) => {
    const { meta, data } = await fixtures(t)
    const m = checkUpstreamTorrent(meta.torrent, entry(meta, META, 'meta', 70_000), LIMITS)
    assert.equal(m.infoHash, meta.infoHash)
    assert.equal(m.name, META)
    assert.equal(m.kind, 'file')
    assert.equal(m.totalSize, 70_000)
    assert.deepEqual(m.files, [{ path: META, length: 70_000 }])

    const d = checkUpstreamTorrent(data.torrent, entry(data, DATA, 'data', DATA_SIZE), LIMITS)
    assert.equal(d.infoHash, data.infoHash)
    assert.equal(d.kind, 'folder')
    assert.equal(d.totalSize, DATA_SIZE)
    assert.deepEqual(d.files.map((f) => f.path).sort(), DATA_FILES.map((f) => f.path).sort())
  })

  test('an unknown size (data_size null) is not compared', async (t) => {
    const { meta, data } = await fixtures(t)
    assert.equal(
      checkUpstreamTorrent(meta.torrent, entry(meta, META, 'meta', null), LIMITS).infoHash,
      meta.infoHash,
    )
    assert.equal(
      checkUpstreamTorrent(data.torrent, entry(data, DATA, 'data', null), LIMITS).infoHash,
      data.infoHash,
    )
  })

  test('AACIDs at both ends of the folder range are inside it', () => {
    const name = dataName('c_files', 0, 5)
    const files = [0, 5].map((s) => ({ length: 10, path: [aacid('c_files', s)] }))
    const h = hand({ name, files })
    assert.equal(checkUpstreamTorrent(h.buf, entry(h, name, 'data', 20), LIMITS).files.length, 2)
  })
})

describe('checkUpstreamTorrent: not the listed torrent (torrent-mismatch)', () => {
  test('another infohash', async (t) => {
    const { meta, otherMeta } = await fixtures(t)
    const f = failure(() =>
      checkUpstreamTorrent(
        meta.torrent,
        { btih: otherMeta.infoHash, name: META, kind: 'meta', dataSize: null },
        LIMITS,
      ),
    )
    assert.equal(f.code, 'torrent-mismatch')
    assert.match(f.message, new RegExp(`has infohash ${meta.infoHash}, not the listed ${otherMeta.infoHash}`))
  })

  test('another name (with its own, matching infohash)', async (t) => {
    const { otherMeta } = await fixtures(t)
    const f = failure(() =>
      checkUpstreamTorrent(otherMeta.torrent, entry(otherMeta, META, 'meta', null), LIMITS),
    )
    assert.equal(f.code, 'torrent-mismatch')
    assert.match(f.message, new RegExp(`is named "${otherMeta.name}"`))
  })

  test('another size than the listed data_size', async (t) => {
    const { meta, data } = await fixtures(t)
    for (const [b, name, kind, size] of [
      [meta, META, 'meta', 70_001],
      [meta, META, 'meta', 0],
      [data, DATA, 'data', DATA_SIZE - 1],
    ] as const) {
      const f = failure(() => checkUpstreamTorrent(b.torrent, entry(b, name, kind, size), LIMITS))
      assert.equal(f.code, 'torrent-mismatch')
      assert.match(f.message, new RegExp(`holds ${b.totalSize} bytes, not the listed ${size}`))
    }
  })

  test('a metadata file torrent that is a folder', () => {
    const h = hand({ name: META, files: [{ length: 100, path: [META] }] })
    const f = failure(() => checkUpstreamTorrent(h.buf, entry(h, META, 'meta', 100), LIMITS))
    assert.equal(f.code, 'torrent-mismatch')
    assert.match(f.message, /is a folder/)
  })

  test('a data folder torrent that is a single file', () => {
    const h = hand({ name: DATA, length: 100 })
    const f = failure(() => checkUpstreamTorrent(h.buf, entry(h, DATA, 'data', 100), LIMITS))
    assert.equal(f.code, 'torrent-mismatch')
    assert.match(f.message, /is a single file/)
  })

  test('a data folder torrent with a sub-folder', () => {
    const h = hand({
      name: DATA,
      files: [
        { length: 100, path: [aacid('zlib3_files', 10)] },
        { length: 100, path: ['sub', aacid('zlib3_files', 11)] },
      ],
    })
    const f = failure(() => checkUpstreamTorrent(h.buf, entry(h, DATA, 'data', 200), LIMITS))
    assert.equal(f.code, 'torrent-mismatch')
    assert.match(f.message, /sub\/aacid__zlib3_files__.*holds no sub-folders/)
    // A sub-folder named like an AACID is no better.
    const h2 = hand({
      name: DATA,
      files: [{ length: 100, path: [aacid('zlib3_files', 10), aacid('zlib3_files', 11)] }],
    })
    assert.equal(
      failure(() => checkUpstreamTorrent(h2.buf, entry(h2, DATA, 'data', 100), LIMITS)).code,
      'torrent-mismatch',
    )
  })
})

describe('checkUpstreamTorrent: a data folder holds only AACIDs of its range (not-aac-name)', () => {
  const cases: Array<[string, string]> = [
    ['another collection', aacid('zlib3_records', 15)],
    ['a collection that only starts alike', aacid('zlib3_files2', 15)],
    ['before the range', aacid('zlib3_files', 9)],
    ['after the range', aacid('zlib3_files', 21)],
    ['a plain name', 'README.txt'],
    ['an AACID with an extension', `${aacid('zlib3_files', 15)}.pdf`],
    ['a range instead of an AACID', 'aacid__zlib3_files__20240101T000010Z--20240101T000020Z'],
  ]
  for (const [what, file] of cases) {
    test(what, () => {
      const h = hand({
        name: DATA,
        files: [
          { length: 10, path: [aacid('zlib3_files', 12)] },
          { length: 10, path: [file] },
        ],
      })
      const f = failure(() => checkUpstreamTorrent(h.buf, entry(h, DATA, 'data', 20), LIMITS))
      assert.equal(f.code, 'not-aac-name')
      assert.ok(f.message.includes(JSON.stringify(file)), f.message)
    })
  }
})

describe('checkUpstreamTorrent: unsafe paths (unsafe-torrent-path)', () => {
  const components: Array<[string, string]> = [
    ['..', '..'],
    ['.', '.'],
    ['absolute (empty first component)', ''],
    ['absolute (a component with /)', '/etc/passwd'],
    ['NUL', `${aacid('zlib3_files', 12)}\0`],
    ['backslash', `..\\..\\${aacid('zlib3_files', 12)}`],
    ['a drive letter', 'C:evil'],
  ]
  for (const [what, c] of components) {
    test(`a file path component: ${what}`, () => {
      const h = hand({ name: DATA, files: [{ length: 10, path: [c, aacid('zlib3_files', 12)] }] })
      const f = failure(() => checkUpstreamTorrent(h.buf, entry(h, DATA, 'data', 10), LIMITS))
      assert.equal(f.code, 'unsafe-torrent-path', f.message)
      assert.match(f.message, /unsafe path component/)
    })
    test(`the torrent name: ${what}`, () => {
      const h = hand({ name: c, length: 10 })
      const f = failure(() => checkUpstreamTorrent(h.buf, entry(h, META, 'meta', 10), LIMITS))
      assert.equal(f.code, 'unsafe-torrent-path', f.message)
    })
  }
})

describe('checkUpstreamTorrent: limits and malformed input', () => {
  test('more files than maxFiles', () => {
    const files = [10, 11, 12, 13].map((s) => ({ length: 10, path: [aacid('zlib3_files', s)] }))
    const h = hand({ name: DATA, files })
    assert.equal(
      checkUpstreamTorrent(h.buf, entry(h, DATA, 'data', 40), { ...LIMITS, maxFiles: 4 }).files.length,
      4,
    )
    const f = failure(() =>
      checkUpstreamTorrent(h.buf, entry(h, DATA, 'data', 40), { ...LIMITS, maxFiles: 3 }),
    )
    assert.equal(f.code, 'invalid-torrent')
    assert.match(f.message, /4 files is more than the limit of 3/)
  })

  test('more pieces than maxPieces', async (t) => {
    const { meta } = await fixtures(t)
    // 70,000 bytes in 32 KiB pieces: 3 pieces.
    assert.equal(
      checkUpstreamTorrent(meta.torrent, entry(meta, META, 'meta', null), { ...LIMITS, maxPieces: 3 })
        .pieceCount,
      3,
    )
    const f = failure(() =>
      checkUpstreamTorrent(meta.torrent, entry(meta, META, 'meta', null), { ...LIMITS, maxPieces: 2 }),
    )
    assert.equal(f.code, 'invalid-torrent')
    assert.match(f.message, /3 pieces is more than the limit of 2/)
  })

  test('more bytes than maxBytes', async (t) => {
    const { data } = await fixtures(t)
    const n = data.torrent.length
    assert.equal(
      checkUpstreamTorrent(data.torrent, entry(data, DATA, 'data', null), { ...LIMITS, maxBytes: n })
        .infoHash,
      data.infoHash,
    )
    const f = failure(() =>
      checkUpstreamTorrent(data.torrent, entry(data, DATA, 'data', null), { ...LIMITS, maxBytes: n - 1 }),
    )
    assert.equal(f.code, 'invalid-torrent')
    assert.match(f.message, new RegExp(`is ${n} bytes, more than the limit of ${n - 1}`))
  })

  test('pieces that do not cover the files', () => {
    const h = hand({ name: META, length: 100_000, pieces: Buffer.alloc(20) })
    const f = failure(() => checkUpstreamTorrent(h.buf, entry(h, META, 'meta', null), LIMITS))
    assert.equal(f.code, 'invalid-torrent')
    assert.match(f.message, /info\.pieces holds 1 hashes/)
  })

  test('garbage bytes are invalid-bencode, naming the offset', () => {
    const garbage = bytesOf('garbage', 200)
    garbage[0] = 0x78 // not 'd'
    for (const buf of [
      garbage,
      Buffer.from('<html>404</html>'),
      Buffer.from('d4:infod4:name'),
      Buffer.alloc(0),
    ]) {
      const f = failure(() =>
        checkUpstreamTorrent(buf, { btih: '0'.repeat(40), name: META, kind: 'meta', dataSize: null }, LIMITS),
      )
      assert.equal(f.code, 'invalid-bencode', f.message)
      assert.match(f.message, /invalid bencode at byte \d+/)
    }
  })

  test('a truncated real torrent is invalid-bencode', async (t) => {
    const { data } = await fixtures(t)
    const f = failure(() =>
      checkUpstreamTorrent(
        data.torrent.subarray(0, data.torrent.length - 5),
        entry(data, DATA, 'data', null),
        LIMITS,
      ),
    )
    assert.equal(f.code, 'invalid-bencode', f.message)
  })

  test('valid bencode without an info dictionary is invalid-torrent', () => {
    const f = failure(() =>
      checkUpstreamTorrent(
        encode({ announce: 'x' }),
        { btih: '0'.repeat(40), name: META, kind: 'meta', dataSize: null },
        LIMITS,
      ),
    )
    assert.equal(f.code, 'invalid-torrent')
    assert.match(f.message, /info is missing/)
  })
})
