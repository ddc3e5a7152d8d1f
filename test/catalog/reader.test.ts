/**
 * The metadata reader: zstd frames of every shape, and the position it keeps for each record
 * (line, byte offset and length in the decompressed stream, frame it starts in), checked
 * against the real `zstd -dc` output; and `aacseed get`, which serves one record from those
 * positions without decompressing the file from its start.
 *
 * Documented behaviour pinned here: a record is its line's bytes without the '\n'. In a CRLF
 * file the '\r' is JSON whitespace, so the line is valid, and it belongs to the record (its
 * length counts it and `get` prints it): records are compared byte for byte.
 */
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { closeSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { describe, test, type TestContext } from 'node:test'
import { LinePool } from '../../src/catalog/line-pool.js'
import { readMetaFile, type ReadProblem } from '../../src/catalog/meta-reader.js'
import { CatalogStore } from '../../src/catalog/store.js'
import { aacidSeconds, aacidTag } from '../../src/catalog/record-key.js'
import { parseMetaFileName } from '../../src/aac/index.js'
import { openDatabase } from '../../src/db/index.js'
import { join } from 'node:path'
import type { Db } from '../../src/db/index.js'
import { requireTool, runCli, tempDir } from '../helpers.js'
import {
  aacid,
  catalogDb,
  framesAt,
  metaName,
  metaRow,
  rec,
  recordsOf,
  recs,
  scanRoots,
  seekTableFrame,
  skippableFrame,
  T0,
  writeMeta,
  writeRaw,
  zstdFrame,
  type RecordRow,
} from '../fixtures.js'

const C = 'reader_records'

function zstdDc(t: TestContext, path: string): Buffer | undefined {
  if (!requireTool(t, 'zstd')) return undefined
  const r = spawnSync('zstd', ['-dcq', path], { maxBuffer: 1 << 30 })
  assert.equal(r.status, 0, r.stderr?.toString())
  return r.stdout
}

/** Every record's bytes in the real decompressed stream are its line; lines are numbered from 1. */
function assertPositions(rows: RecordRow[], decompressed: Buffer, lines: readonly string[]): void {
  assert.equal(rows.length, lines.length)
  rows.forEach((r, i) => {
    assert.equal(r.line, i + 1)
    assert.equal(
      decompressed.subarray(r.offset, r.offset + r.length).toString('utf8'),
      lines[i],
      `line ${r.line}: bytes at its offset`,
    )
    assert.equal(r.aacid, (JSON.parse(lines[i]!) as { aacid: string }).aacid)
  })
}

/** The frame a byte offset lies in, from the frames' decompressed start offsets. */
function frameAt(starts: readonly number[], offset: number): number {
  let f = 0
  while (f + 1 < starts.length && starts[f + 1]! <= offset) f++
  return f
}

function framesOf(
  db: Db,
  name: string,
): Array<{ frame: number; compressed_offset: number; decompressed_offset: number }> {
  return db
    .prepare(
      "SELECT f.frame, f.compressed_offset, f.decompressed_offset FROM meta_frames f JOIN meta_files m ON m.id = f.meta_file_id WHERE m.name = ? AND m.state = 'complete' ORDER BY f.frame",
    )
    .all(name) as Array<{ frame: number; compressed_offset: number; decompressed_offset: number }>
}

async function get(dbPath: string, id: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return await runCli(['get', id, '--db', dbPath])
}

/**
 * Varied records: objects with non-ASCII text, XML strings, nulls, lengths from tens to thousands of bytes.
 */
function variedLines(n: number, from = 10): string[] {
  return Array.from({ length: n }, (_, i) => {
    const id = aacid(C, from + i)
    if (i % 7 === 3) return rec(id, `<record n="${i}">${'Ελληνικά & 東京 '.repeat(i % 13)}</record>`)
    if (i % 11 === 5) return rec(id, null)
    return rec(id, {
      i,
      title: `Titel ${i} – Zürich 東京 ${'ü'.repeat((i * 37) % 500)}`,
      isbns: i % 2 ? [] : [`978${i}`],
    })
  })
}

describe('multi-frame files: positions against zstd -dc', () => {
  test('frames cut mid-line, a skippable frame first, a seek table last', async (t) => {
    const root = tempDir(t)
    const lines = variedLines(300)
    const text = Buffer.from(lines.map((l) => l + '\n').join(''))
    // Cuts every 997 bytes (mostly mid-line, some mid-character), and one exactly at a line start.
    const lineStart100 = Buffer.byteLength(lines.slice(0, 100).join('\n')) + 1
    const cuts = [
      ...Array.from({ length: Math.floor(text.length / 997) }, (_, i) => (i + 1) * 997),
      lineStart100,
    ].sort((a, b) => a - b)
    const { file, frames } = framesAt(text, cuts)
    const skip = skippableFrame(Buffer.from('leading skippable frame'))
    const name = metaName(C, 0, 999, '.jsonl.seekable.zst')
    const whole = Buffer.concat([
      skip,
      file,
      seekTableFrame(
        frames.map((f, i) => ({
          compressed: (frames[i + 1]?.compressedOffset ?? file.length) - f.compressedOffset,
          decompressed: f.length,
        })),
      ),
    ])
    const path = writeRaw(root, name, whole)
    const d = zstdDc(t, path)
    if (!d) return
    assert.ok(d.equals(text), 'zstd -dc gives the text back')
    const { db, path: dbPath } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    const rows = recordsOf(db, name)
    assertPositions(rows, d, lines)
    const starts = frames.map((f) => f.decompressedOffset)
    for (const row of rows) assert.equal(row.frame, frameAt(starts, row.offset), `line ${row.line}: frame`)
    assert.ok(
      rows[99]!.frame > 0 && starts.includes(rows[100]!.offset),
      'one record starts exactly at a frame start',
    )
    // Stored frames: where each starts, compressed and decompressed. The leading skippable frame
    // produces nothing, so frame 0 starts at byte 0 and decoding from there skips it.
    const stored = framesOf(db, name)
    assert.deepEqual(
      stored.map((f) => [f.frame, f.compressed_offset, f.decompressed_offset]),
      frames.map((f, i) => [i, i === 0 ? 0 : skip.length + f.compressedOffset, f.decompressedOffset]),
    )
    const m = metaRow(db, name)!
    assert.equal(m.frames, frames.length)
    assert.equal(m.decompressed_bytes, text.length)
    assert.equal(m.records, 300)

    // get: records in the first, a middle and the last frame, one straddling a frame boundary, the last line.
    const straddling = rows.find((row) => frameAt(starts, row.offset + row.length - 1) > row.frame)!
    assert.ok(straddling)
    for (const row of [rows[0]!, rows[150]!, straddling, rows[100]!, rows[299]!]) {
      const g = await get(dbPath, row.aacid)
      assert.equal(g.code, 0, g.stderr)
      assert.equal(g.stdout, lines[row.line - 1] + '\n', `get ${row.aacid}`)
    }
  })

  test("the sample writer's seekable format: line-aligned frames and a seek table", async (t) => {
    const root = tempDir(t)
    const lines = variedLines(95)
    const name = metaName(C, 0, 999, '.jsonl.seekable.zst')
    const path = writeMeta(root, name, lines, { linesPerFrame: 10, seekTable: true })
    const d = zstdDc(t, path)
    if (!d) return
    const { db, path: dbPath } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    const rows = recordsOf(db, name)
    assertPositions(rows, d, lines)
    rows.forEach((row) => assert.equal(row.frame, Math.floor((row.line - 1) / 10), `line ${row.line}: frame`))
    assert.equal(metaRow(db, name)!.frames, 10)
    // Decoding from each stored frame start gives exactly that frame's lines.
    const file = readFileSync(path)
    const stored = framesOf(db, name)
    for (const f of stored) {
      const next = stored[f.frame + 1]?.compressed_offset
      const out = zstdDecompressFrom(file, f.compressed_offset, next)
      assert.equal(
        out.toString(),
        lines
          .slice(f.frame * 10, f.frame * 10 + 10)
          .map((l) => l + '\n')
          .join(''),
      )
    }
    for (const i of [0, 47, 94]) {
      const g = await get(dbPath, rows[i]!.aacid)
      assert.equal(g.code, 0, g.stderr)
      assert.equal(g.stdout, lines[i] + '\n')
    }
  })

  test('a single-frame file: every record in frame 0, get works from the start', async (t) => {
    const root = tempDir(t)
    const lines = variedLines(120)
    const name = metaName(C, 0, 999)
    const path = writeMeta(root, name, lines)
    const d = zstdDc(t, path)
    if (!d) return
    const { db, path: dbPath } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    const rows = recordsOf(db, name)
    assertPositions(rows, d, lines)
    assert.ok(rows.every((row) => row.frame === 0))
    assert.deepEqual(
      framesOf(db, name).map((f) => [f.frame, f.compressed_offset, f.decompressed_offset]),
      [[0, 0, 0]],
    )
    for (const i of [0, 60, 119]) {
      const g = await get(dbPath, rows[i]!.aacid)
      assert.equal(g.code, 0, g.stderr)
      assert.equal(g.stdout, lines[i] + '\n')
    }
  })
})

/** Decompresses file[from, to) (whole frames) with the zstd binary. */
function zstdDecompressFrom(file: Buffer, from: number, to: number | undefined): Buffer {
  const part = file.subarray(from, to)
  const r = spawnSync('zstd', ['-dcq'], { input: part, maxBuffer: 1 << 28 })
  assert.equal(r.status, 0, r.stderr?.toString())
  return r.stdout
}

describe('line endings, encodings and edge files', () => {
  test('CRLF lines are valid; the \\r belongs to the record and get prints it', async (t) => {
    const root = tempDir(t)
    const lines = recs(C, 10, 6).map((l) => l + '\r')
    const name = metaName(C, 0, 999)
    const path = writeMeta(root, name, lines, { linesPerFrame: 4 })
    const d = zstdDc(t, path)
    if (!d) return
    const { db, path: dbPath } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    const rows = recordsOf(db, name)
    assertPositions(rows, d, lines)
    rows.forEach((row, i) => assert.equal(row.length, Buffer.byteLength(lines[i]!)))
    assert.ok(
      rows.every((row) => d[row.offset + row.length - 1] === 0x0d && d[row.offset + row.length] === 0x0a),
    )
    const g = await get(dbPath, rows[5]!.aacid)
    assert.equal(g.code, 0, g.stderr)
    assert.equal(g.stdout, lines[5] + '\n')
  })

  test('a last line without a newline is a record reaching to the end of the stream', async (t) => {
    const root = tempDir(t)
    const lines = variedLines(40)
    const text = lines.join('\n')
    const name = metaName(C, 0, 999)
    // Two frames, the second holding the end of line 39 and all of line 40.
    const { file } = framesAt(Buffer.from(text), [Buffer.byteLength(lines.slice(0, 38).join('\n')) + 10])
    const path = writeRaw(root, name, file)
    const d = zstdDc(t, path)
    if (!d) return
    assert.equal(d.toString(), text)
    const { db, path: dbPath } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(r.problems, [])
    const rows = recordsOf(db, name)
    assertPositions(rows, d, lines)
    const last = rows[39]!
    assert.equal(last.offset + last.length, d.length)
    assert.equal(last.frame, 1)
    assert.equal(metaRow(db, name)!.decompressed_bytes, d.length)
    const g = await get(dbPath, last.aacid)
    assert.equal(g.code, 0, g.stderr)
    assert.equal(g.stdout, lines[39] + '\n')
  })

  test('offsets and lengths count bytes, not characters', async (t) => {
    const root = tempDir(t)
    const lines = [
      rec(aacid(C, 10), '東京'.repeat(50)),
      rec(aacid(C, 11), '😀'.repeat(10)),
      rec(aacid(C, 12), 'plain'),
    ]
    const name = metaName(C, 0, 999)
    writeMeta(root, name, lines)
    const { db } = catalogDb(t)
    await scanRoots(db, [root])
    const rows = recordsOf(db, name)
    assert.deepEqual(
      rows.map((r) => [r.offset, r.length]),
      [
        [0, Buffer.byteLength(lines[0]!)],
        [Buffer.byteLength(lines[0]!) + 1, Buffer.byteLength(lines[1]!)],
        [Buffer.byteLength(lines[0]! + lines[1]!) + 2, Buffer.byteLength(lines[2]!)],
      ],
    )
    assert.notEqual(rows[2]!.offset, lines[0]!.length + lines[1]!.length + 2, 'not UTF-16 positions')
  })

  test('a 0-byte file is corrupt-zstd; an empty frame, or only a skippable frame, is a file of no records', async (t) => {
    const root = tempDir(t)
    const empty = metaName(C, 0, 9)
    const emptyFrame = metaName(C, 10, 19)
    const onlySkippable = metaName(C, 20, 29)
    const emptyThenData = metaName(C, 30, 39)
    writeRaw(root, empty, Buffer.alloc(0))
    writeMeta(root, emptyFrame, [])
    writeRaw(root, onlySkippable, skippableFrame())
    const tail = recs(C, 30, 2)
    writeRaw(
      root,
      emptyThenData,
      Buffer.concat([zstdFrame(''), zstdFrame(''), zstdFrame(tail.map((l) => l + '\n').join(''))]),
    )
    const { db } = catalogDb(t)
    const r = await scanRoots(db, [root])
    assert.deepEqual(
      r.problems.map((p) => [p.path, p.line, p.code]),
      [[empty, null, 'corrupt-zstd']],
    )
    for (const n of [empty, emptyFrame, onlySkippable]) {
      assert.equal(metaRow(db, n)?.records, 0, n)
      assert.equal(metaRow(db, n)?.frames, 1, n)
    }
    // Empty frames are no place to start from: the data frame is frame 0.
    const rows = recordsOf(db, emptyThenData)
    assert.deepEqual(
      rows.map((x) => [x.line, x.offset, x.frame]),
      [
        [1, 0, 0],
        [2, Buffer.byteLength(tail[0]!) + 1, 0],
      ],
    )
    assert.equal(r.records, 2)
  })
})

describe('the reader on its own: chunk boundaries and growing buffers', () => {
  // With one line worker the decompress worker checks the chunks that worker has no room for:
  // verdicts from both threads must come out the same.
  for (const size of [2, 1])
    test(`small chunks, ${size} line worker(s): lines across chunk and frame boundaries keep exact positions; an over-long line is skipped`, async (t) => {
      const root = tempDir(t)
      // Lines from 60 bytes to 3 kB, one of 8 kB (over the 5000-byte bound), a CRLF one, an invalid one.
      const lines = Array.from({ length: 400 }, (_, i) =>
        rec(aacid(C, 10 + i), { pad: 'p'.repeat((i * 389) % 3000) }),
      )
      lines[123] = rec(aacid(C, 133), { pad: 'L'.repeat(8000) })
      lines[200] = lines[200] + '\r'
      lines[300] = '{"aacid":'
      const text = Buffer.from(lines.join('\n') + '\n')
      const { file, frames } = framesAt(
        text,
        Array.from({ length: 40 }, (_, i) => (i + 1) * 4099),
      )
      const path = writeRaw(root, metaName(C, 0, 999), file)
      const pool = new LinePool(size)
      t.after(() => pool.close())
      // The line workers write the records themselves, into a metadata file's row of a real catalog.
      const db = openDatabase(join(root, 'catalog.db'))
      t.after(() => db.close())
      const store = new CatalogStore(db)
      const fileId = store.beginMetaFile(store.rootId(root), parseMetaFileName(metaName(C, 0, 999)), {
        size: 0n,
        mtimeNs: 0n,
        inode: 0n,
      })
      const problems: ReadProblem[] = []
      let counted = 0
      const res = await readMetaFile(
        path,
        { collection: C, fromS: T0, toS: T0 + 999 },
        { database: db.name, fileId },
        pool,
        {
          records(n) {
            counted += n
          },
          problem(p) {
            problems.push(p)
          },
        },
        { chunkBytes: 1000, maxLineBytes: 5000 },
      )
      const got = db
        .prepare(
          'SELECT line, offset, length, seconds, tag FROM records WHERE meta_file_id = ? ORDER BY line',
        )
        .all(fileId)
      assert.equal(counted, got.length)
      assert.deepEqual(
        problems.map((p) => [p.line, p.code]),
        [
          [124, 'line-too-long'],
          [301, 'invalid-json'],
        ],
      )
      let off = 0
      const want = []
      for (let i = 0; i < lines.length; i++) {
        const len = Buffer.byteLength(lines[i]!)
        if (i !== 123 && i !== 300)
          want.push({
            line: i + 1,
            offset: off,
            length: len,
            seconds: aacidSeconds(aacid(C, 10 + i)),
            tag: aacidTag(aacid(C, 10 + i)),
          })
        off += len + 1
      }
      assert.deepEqual(got, want)
      assert.equal(problems[0]!.offset, Buffer.byteLength(lines.slice(0, 123).join('\n')) + 1)
      assert.equal(res.lines, 400)
      assert.equal(res.records, 398)
      assert.equal(res.decompressedBytes, text.length)
      assert.equal(res.compressedBytes, file.length)
      assert.deepEqual(
        res.frames.map((f) => [f.compressedOffset, f.decompressedOffset]),
        frames.map((f) => [f.compressedOffset, f.decompressedOffset]),
      )
      // Hundreds of chunks: one line worker (a SQLite transaction each) cannot keep up with
      // decompressing a kilobyte, so the decompress worker checked some.
      if (size === 1) assert.ok(pool.checkedByDecompressor > 0, 'the decompress worker checked no chunk')
    })
})

describe('aacseed get reads one frame, not the file', () => {
  test('a record in the last frame is served after the first frames were destroyed', async (t) => {
    const root = tempDir(t)
    const lines = variedLines(60)
    const name = metaName(C, 0, 999, '.jsonl.seekable.zst')
    const path = writeMeta(root, name, lines, { linesPerFrame: 10, seekTable: true })
    const { db, path: dbPath } = catalogDb(t)
    await scanRoots(db, [root])
    const stored = framesOf(db, name)
    // Read before the damage: the catalog keeps AACIDs' tags, and recordsOf reads the text from the file.
    const records = recordsOf(db, name)
    // Overwrite frames 0-4 with garbage, keeping the size: decoding from the start now fails.
    const fd = openSync(path, 'r+')
    writeSync(fd, Buffer.alloc(stored[5]!.compressed_offset, 0xa5), 0, stored[5]!.compressed_offset, 0)
    closeSync(fd)
    const last = records[55]!
    const g = await get(dbPath, last.aacid)
    assert.equal(g.code, 0, g.stderr)
    assert.equal(g.stdout, lines[55] + '\n')
    // A record in a destroyed frame is an error with a code, not a crash.
    const first = await get(dbPath, records[3]!.aacid)
    assert.equal(first.code, 1)
    assert.doesNotMatch(first.stderr, /internal error/)
    assert.match(first.stderr, /^aacseed: [a-z-]+: .*\n$/)
  })

  test('a file changed after the scan: get says so instead of printing another record', async (t) => {
    const root = tempDir(t)
    const lines = variedLines(20)
    const name = metaName(C, 0, 999)
    writeMeta(root, name, lines)
    const { db, path: dbPath } = catalogDb(t)
    await scanRoots(db, [root])
    const id = recordsOf(db, name)[10]!.aacid
    writeMeta(root, name, variedLines(20, 500))
    const g = await get(dbPath, id)
    assert.equal(g.code, 1)
    assert.match(g.stderr, /file-changed/)
    assert.equal(g.stdout, '')
  })

  test('a file removed after the scan: get exits 1 with a coded error, not a crash', async (t) => {
    const root = tempDir(t)
    const name = metaName(C, 0, 999)
    const path = writeMeta(root, name, variedLines(5))
    const { db, path: dbPath } = catalogDb(t)
    await scanRoots(db, [root])
    const id = recordsOf(db, name)[2]!.aacid
    rmSync(path)
    const g = await get(dbPath, id)
    assert.equal(g.code, 1)
    assert.match(g.stderr, /^aacseed: unreadable: .*ENOENT/)
  })

  test('an AACID not in the catalog exits 1 with not-found', async (t) => {
    const { path: dbPath } = catalogDb(t)
    const g = await get(dbPath, aacid(C, 1))
    assert.equal(g.code, 1)
    assert.match(g.stderr, /not-found/)
  })
})
