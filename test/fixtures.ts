/**
 * Shared builders for the catalog tests: predictable names and AACIDs, record lines,
 * metadata files (clean or with raw, defective bytes), data folders, a catalog database in a
 * temp dir, and small queries over what a scan stored.
 *
 * Times are seconds after T0 (2024-01-01T00:00:00Z), so a test reads `aacid('c', 5)` as
 * "a record of collection c at T0+5 s" and `metaName('c', 0, 9)` as the file for T0…T0+9 s.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import type { TestContext } from 'node:test'
import {
  encodeShortuuid,
  formatAacId,
  formatDataFolderName,
  formatMetaFileName,
  makeRange,
  timestampFromSeconds,
  type MetaFileExtension,
} from '../src/aac/index.js'
import {
  encodeMetaFile,
  scan,
  seekTableFrame,
  type ScanOptions,
  type ScanReport,
} from '../src/catalog/index.js'
import { openDatabase, type Db } from '../src/db/index.js'
import { newDecompressContext } from '../src/catalog/zstd.js'
import type { Problem } from '../src/problems.js'
import { tempDir } from './helpers.js'

const require = createRequire(import.meta.url)
const zstd = require('zstd-napi') as {
  compress(b: Uint8Array, p?: { compressionLevel?: number; checksumFlag?: boolean }): Buffer
  decompress(b: Uint8Array): Buffer
}

export const T0 = Date.UTC(2024, 0, 1) / 1000

export function ts(sec: number): string {
  return timestampFromSeconds(T0 + sec).text
}

/** A deterministic AACID of `collection` at T0+sec; `n` varies the id and shortuuid. */
export function aacid(collection: string, sec: number, n = sec): string {
  return formatAacId(
    collection,
    ts(sec),
    String(10_000 + n),
    encodeShortuuid(BigInt(n + 1) * 0x9e3779b97f4a7c15n),
  )
}

export function metaName(
  collection: string,
  from: number,
  to: number,
  ext: MetaFileExtension = '.jsonl.zst',
  prefix = 'annas_archive',
): string {
  return formatMetaFileName(prefix, makeRange(collection, ts(from), ts(to)), ext)
}

export function dataName(collection: string, from: number, to: number, prefix = 'annas_archive'): string {
  return formatDataFolderName(prefix, makeRange(collection, ts(from), ts(to)))
}

/** One record line (no newline) as the standard writes it. */
export function rec(id: string, metadata: unknown = { n: id.length }, dataFolder?: string): string {
  return JSON.stringify(
    dataFolder === undefined ? { aacid: id, metadata } : { aacid: id, data_folder: dataFolder, metadata },
  )
}

/** `count` valid record lines of `collection`, at seconds from, from+1, … */
export function recs(
  collection: string,
  from: number,
  count: number,
  metadata: (i: number) => unknown = (i) => ({ i, title: `Titel ${i} – Zürich 東京` }),
): string[] {
  return Array.from({ length: count }, (_, i) => rec(aacid(collection, from + i), metadata(i)))
}

/** Zstd-compresses raw bytes as one frame (checksummed when asked). */
export function zstdFrame(
  bytes: Uint8Array | string,
  opts: { level?: number; checksum?: boolean } = {},
): Buffer {
  return zstd.compress(typeof bytes === 'string' ? Buffer.from(bytes) : bytes, {
    compressionLevel: opts.level ?? 3,
    checksumFlag: opts.checksum ?? false,
  })
}

export function zstdDecompress(bytes: Uint8Array): Buffer {
  return zstd.decompress(bytes)
}

/** A skippable zstd frame (magic 0x184D2A50..5F) holding `payload`. */
export function skippableFrame(payload: Uint8Array = Buffer.from('aacseed test')): Buffer {
  const head = Buffer.alloc(8)
  head.writeUInt32LE(0x184d2a50, 0)
  head.writeUInt32LE(payload.length, 4)
  return Buffer.concat([head, payload])
}

/**
 * Compresses a decompressed stream into one frame per slice, cutting at the given byte
 * positions (not necessarily line ends). Returns the file and where each frame starts.
 */
export function framesAt(
  text: Buffer,
  cuts: number[],
): { file: Buffer; frames: Array<{ compressedOffset: number; decompressedOffset: number; length: number }> } {
  const bounds = [0, ...cuts.filter((c) => c > 0 && c < text.length), text.length]
  const parts: Buffer[] = []
  const frames = []
  let c = 0
  for (let i = 0; i + 1 < bounds.length; i++) {
    const f = zstdFrame(text.subarray(bounds[i], bounds[i + 1]))
    frames.push({ compressedOffset: c, decompressedOffset: bounds[i]!, length: bounds[i + 1]! - bounds[i]! })
    parts.push(f)
    c += f.length
  }
  return { file: Buffer.concat(parts), frames }
}

export function writeMeta(
  root: string,
  name: string,
  lines: readonly string[],
  opts: Parameters<typeof encodeMetaFile>[1] = {},
): string {
  mkdirSync(root, { recursive: true })
  const path = join(root, name)
  writeFileSync(path, encodeMetaFile(lines, opts))
  return path
}

export function writeRaw(root: string, name: string, bytes: Uint8Array): string {
  mkdirSync(root, { recursive: true })
  const path = join(root, name)
  writeFileSync(path, bytes)
  return path
}

/** A data folder holding one small blob per name. */
export function writeDataFolder(root: string, name: string, files: readonly string[]): string {
  const dir = join(root, name)
  mkdirSync(dir, { recursive: true })
  for (const f of files) writeFileSync(join(dir, f), `blob of ${f}\n`)
  return dir
}

/**
 * A clean neighbour written next to a defect: `good_records`, 25 records at T0+0…24. Every
 * defect tree has one, and every test checks it was cataloged whole and without problems.
 */
export const GOOD = { collection: 'good_records', count: 25, name: metaName('good_records', 0, 24) }

export function writeGoodNeighbour(root: string): string[] {
  const lines = recs(GOOD.collection, 0, GOOD.count)
  writeMeta(root, GOOD.name, lines, { linesPerFrame: 10 })
  return lines
}

/** A fresh catalog database in its own temp dir, closed after the test. */
export function catalogDb(t: TestContext): { db: Db; path: string } {
  const dir = tempDir(t, 'aacseed-catalog-db-')
  const path = join(dir, 'catalog.db')
  const db = openDatabase(path)
  t.after(() => db.close())
  return { db, path }
}

export async function scanRoots(
  db: Db,
  roots: string[],
  extra: Partial<ScanOptions> = {},
): Promise<ScanReport> {
  return await scan({ db, roots, parseWorkers: 2, ...extra })
}

export interface RecordRow {
  aacid: string
  line: number
  offset: number
  length: number
  frame: number
  data_folder: string | null
}

/**
 * The records cataloged for one metadata file (its complete version), in line order. The
 * catalog keeps a tag of each AACID, not its text: the AACID is read from the file at the
 * record's offset (null when the file no longer holds a record there), the frame from meta_frames.
 */
export function recordsOf(db: Db, metaFile: string): RecordRow[] {
  const rows = db
    .prepare(
      `SELECT ro.path AS root, r.line, r.offset, r.length, (SELECT name FROM record_folders WHERE id = r.folder_id) AS data_folder,
              (SELECT max(f.frame) FROM meta_frames f WHERE f.meta_file_id = m.id AND f.decompressed_offset <= r.offset) AS frame
       FROM records r JOIN meta_files m ON m.id = r.meta_file_id JOIN roots ro ON ro.id = m.root_id
       WHERE m.name = ? AND m.state = 'complete' ORDER BY r.line`,
    )
    .all(metaFile) as Array<Omit<RecordRow, 'aacid'> & { root: string }>
  if (rows.length === 0) return []
  let text: Buffer | null = null
  try {
    text = decompressPrefix(readFileSync(join(rows[0]!.root, metaFile)))
  } catch {
    text = null
  }
  return rows.map(({ root: _root, ...r }) => {
    let aacid: string | null = null
    try {
      aacid = (JSON.parse(text!.subarray(r.offset, r.offset + r.length).toString()) as { aacid: string })
        .aacid
    } catch {
      aacid = null
    }
    return { aacid: aacid as string, ...r }
  })
}

/** What decodes of a zstd stream up to its first error (the tests damage files on purpose). */
function decompressPrefix(bytes: Buffer): Buffer {
  const dctx = newDecompressContext()
  const parts: Buffer[] = []
  let src: Uint8Array = bytes
  try {
    while (src.length > 0) {
      const out = Buffer.allocUnsafe(1 << 20)
      const [, produced, consumed] = dctx.decompressStream(out, src)
      parts.push(out.subarray(0, produced))
      src = src.subarray(consumed)
      if (consumed === 0 && produced === 0) break
    }
  } catch {
    // Damaged from here on.
  }
  return Buffer.concat(parts)
}

export function metaRow(
  db: Db,
  name: string,
):
  | {
      id: number
      state: string
      records: number
      frames: number
      problems: number
      decompressed_bytes: number
    }
  | undefined {
  return db
    .prepare(
      "SELECT id, state, records, frames, problems, decompressed_bytes FROM meta_files WHERE name = ? AND state = 'complete'",
    )
    .get(name) as
    | {
        id: number
        state: string
        records: number
        frames: number
        problems: number
        decompressed_bytes: number
      }
    | undefined
}

export function dataFilesOf(db: Db, folder: string): string[] {
  return db
    .prepare(
      "SELECT d.name FROM data_files d JOIN data_folders f ON f.id = d.data_folder_id WHERE f.name = ? AND f.state = 'complete' ORDER BY d.name",
    )
    .pluck()
    .all(folder) as string[]
}

/** Problems with this code (in report order). */
export function withCode(problems: readonly Problem[], code: string): Problem[] {
  return problems.filter((p) => p.code === code)
}

/**
 * Asserts that `problems` holds exactly one problem with this code and path, on this line
 * (null: not about a line), and returns it.
 */
export function assertProblem(
  problems: readonly Problem[],
  want: { code: string; path: string; line: number | null; aacid?: string | null },
): Problem {
  const same = problems.filter((p) => p.code === want.code && p.path === want.path)
  assert.equal(
    same.length,
    1,
    `expected one ${want.code} at ${want.path}, got ${JSON.stringify(problems, null, 1)}`,
  )
  const p = same[0]!
  assert.equal(p.line, want.line, `${want.code} at ${want.path}: line`)
  if (want.aacid !== undefined) assert.equal(p.aacid, want.aacid, `${want.code} at ${want.path}: aacid`)
  assert.equal(typeof p.message, 'string')
  assert.ok(p.message.length > 0)
  return p
}

/** The clean neighbour is cataloged whole: every line a record, in order, and no problem names it. */
export function assertGoodNeighbour(db: Db, report: ScanReport, lines: readonly string[]): void {
  const rows = recordsOf(db, GOOD.name)
  assert.equal(rows.length, GOOD.count, 'good neighbour: record count')
  rows.forEach((r, i) => {
    assert.equal(r.line, i + 1)
    assert.equal(r.aacid, (JSON.parse(lines[i]!) as { aacid: string }).aacid)
  })
  assert.deepEqual(
    report.problems.filter((p) => p.path === GOOD.name),
    [],
    'good neighbour: no problems',
  )
}

/** Problems sorted into a stable order, for comparing two scans. */
export function sortedProblems(ps: readonly Problem[]): Problem[] {
  const key = (p: Problem): string =>
    `${p.path}\0${String(p.line).padStart(12, '0')}\0${p.code}\0${p.aacid ?? ''}\0${p.message}`
  return [...ps].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
}

/** The zstd seekable format's seek table (a skippable frame), as the sample writer makes it. */
export { seekTableFrame }
