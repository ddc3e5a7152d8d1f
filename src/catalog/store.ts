/**
 * All SQL for the catalog tables (created by db/migrations/001-catalog.ts).
 *
 * roots              one row per release root ever scanned.
 * collections        every collection seen in a name.
 * meta_files         one row per metadata file: its parsed name, the (size, mtime_ns, inode)
 *                    it had when read, state `scanning` while being read and `complete` after,
 *                    record/line/frame counts and how many problems it had.
 * meta_frames        the zstd frames of a file: where each starts, compressed and decompressed,
 *                    so one record can be read without decompressing from the start.
 * records            one row per valid record, keyed by (meta_file_id, seconds, tag, line):
 *                    its AACID's timestamp in seconds and a 48-bit tag of the AACID (see
 *                    record-key.ts; the AACID text is not stored, it is read back from the file
 *                    where a message needs it), line (1-based), byte offset and length in the
 *                    decompressed stream (the frame it starts in is the last frame starting at
 *                    or before it), folder_id (its data_folder's id in record_folders, null
 *                    when it names none), and the SHA-1 of the line (base64), computed
 *                    only for records in overlapping ranges,
 *                    where the immutability check compares them (hashing every line of every
 *                    file would cost a fifth of a scan for a check that rarely applies).
 * record_folders     the data folder names records reference, one row per name ever named, so a
 *                    record stores a small integer instead of a 70–90 byte name (migration 15).
 *                    Kept even when no record names it any more: a folder's row is a few dozen
 *                    bytes and ids stay valid for the other scan threads' writers.
 * meta_file_folders  which data folders a metadata file references (and how many records each).
 * data_folders       one row per data folder, like meta_files; mtime_ns/inode are the folder's.
 * data_files         the blobs of a folder: name (an AACID), size, mtime_ns.
 * problems           defects found: `root` (names in the root), `meta` / `data` (inside one
 *                    entry; deleted with it), `cross` (between entries of one collection).
 * scan_runs          one row per scan.
 *
 * mtime_ns and inode are compared as BigInt: nanosecond times do not fit a double.
 */
import { parseAacId, type AacRange, type DataFolder, type MetaFile } from '../aac/index.js'
import type { Db } from '../db/index.js'
import type { Problem } from '../problems.js'
import type Database from 'better-sqlite3'
import { SqliteDatabase } from '../db/sqlite.js'
import type { MetaFrame } from './meta-reader.js'
import { aacidSeconds, aacidTag } from './record-key.js'

export interface FileIdentity {
  size: bigint
  mtimeNs: bigint
  inode: bigint
}

export interface StoredEntry {
  id: number
  name: string
  state: 'scanning' | 'complete'
  size: bigint
  mtimeNs: bigint
  inode: bigint
}

export type ProblemScope = 'root' | 'meta' | 'data' | 'cross'

export interface StoredProblem extends Problem {
  root: string
  scope: ProblemScope
}

export interface CatalogTotals {
  meta_files: number
  data_folders: number
  records: number
  data_files: number
}

export interface CatalogRelease {
  kind: 'meta' | 'data'
  id: number
  name: string
  rootId: number
  root: string
  collection: string
  rangeFrom: string
  rangeTo: string
  fromS: number
  toS: number
  bytes: number
  files: number
  records: number
  /** What the data looked like when cataloged; a torrent made from it stores the same string. */
  identity: string
  problems: number
}

export interface CrossProblem {
  code: string
  path: string
  line: number | null
  aacid: string | null
  message: string
}

const now = (): string => new Date().toISOString()

const ROWS_PER_INSERT = 64

/** Where one record's line is, to read its AACID (or its bytes) back from the file. */
export interface RecordRef {
  root: string
  name: string
  offset: number
  length: number
}

/** A record found by a check, named by its key; `ref` reads its AACID back for the message. */
export interface RecordAt {
  seconds: number
  tag: number
  line: number
  offset: number
  length: number
}

/**
 * A problem between entries whose message names an AACID that has to be read from a file first
 * (see CatalogStore.crossCandidates): `problem` gets the AACIDs of `refs`, in order, and
 * returns what to report (none, when the texts show two AACIDs that only shared a tag).
 */
export interface PendingCrossProblem {
  refs: RecordRef[]
  problem(aacids: Array<string | null>): Array<CrossProblem & { rootId: number }>
}

export class CatalogStore {
  #stmts: ReturnType<typeof CatalogStore.prepare> | undefined

  constructor(readonly db: Db) {}

  /**
   * The scan's statements, prepared on first use: `torrents make` opens a catalog twice (its head
   * start and the command) and uses none of them, and preparing the two dozen took ~2 ms of
   * each CLI start.
   */
  private get stmts(): ReturnType<typeof CatalogStore.prepare> {
    return (this.#stmts ??= CatalogStore.prepare(this.db))
  }

  private static prepare(db: Db) {
    return {
      rootId: db.prepare('SELECT id FROM roots WHERE path = ?').pluck(),
      insertRoot: db.prepare('INSERT INTO roots (path) VALUES (?)'),
      insertCollection: db.prepare('INSERT OR IGNORE INTO collections (name, first_seen_at) VALUES (?, ?)'),
      listMeta: db
        .prepare('SELECT id, name, state, size, mtime_ns AS mtimeNs, inode FROM meta_files WHERE root_id = ?')
        .safeIntegers(true),
      listData: db
        .prepare(
          'SELECT id, name, state, 0 AS size, mtime_ns AS mtimeNs, inode FROM data_folders WHERE root_id = ?',
        )
        .safeIntegers(true),
      insertMeta: db.prepare(
        `INSERT INTO meta_files (root_id, name, prefix, collection, range_from, range_to, range_from_s, range_to_s, extension, size, mtime_ns, inode, state, scanned_at)
       VALUES (@root, @name, @prefix, @collection, @from, @to, @fromS, @toS, @extension, @size, @mtimeNs, @inode, 'scanning', @at)`,
      ),
      insertFrame: db.prepare(
        'INSERT INTO meta_frames (meta_file_id, frame, compressed_offset, decompressed_offset) VALUES (?, ?, ?, ?)',
      ),
      insertMetaFolders: db.prepare(
        `INSERT INTO meta_file_folders (meta_file_id, data_folder, records)
       SELECT r.meta_file_id, f.name, count(*) FROM records r JOIN record_folders f ON f.id = r.folder_id
       WHERE r.meta_file_id = ? GROUP BY f.name`,
      ),
      insertMetaFolder: db.prepare(
        'INSERT INTO meta_file_folders (meta_file_id, data_folder, records) VALUES (?, ?, ?)',
      ),
      // Records sharing a key within one file: a repeated AACID, or (rarely) two that share a tag.
      sameKey: db.prepare(
        `SELECT seconds, tag, line, offset, length FROM records WHERE meta_file_id = @id AND (seconds, tag) IN
           (SELECT seconds, tag FROM records WHERE meta_file_id = @id GROUP BY seconds, tag HAVING count(*) > 1)
         ORDER BY offset LIMIT 100000`,
      ),
      fileExists: db.prepare('SELECT 1 FROM meta_files WHERE id = ?').pluck(),
      deleteRecords: db.prepare('DELETE FROM records WHERE meta_file_id = ?'),
      setHash: db.prepare(
        'UPDATE records SET hash = ? WHERE meta_file_id = ? AND seconds = ? AND tag = ? AND line = ?',
      ),
      completeMeta: db.prepare(
        "UPDATE meta_files SET state = 'complete', records = @records, decompressed_bytes = @bytes, frames = @frames, problems = @problems, scanned_at = @at WHERE id = @id",
      ),
      deleteMeta: db.prepare('DELETE FROM meta_files WHERE id = ?'),
      insertData: db.prepare(
        `INSERT INTO data_folders (root_id, name, prefix, collection, range_from, range_to, range_from_s, range_to_s, mtime_ns, inode, state, scanned_at)
       VALUES (@root, @name, @prefix, @collection, @from, @to, @fromS, @toS, @mtimeNs, @inode, 'scanning', @at)`,
      ),
      insertDataFile: db.prepare(
        'INSERT INTO data_files (data_folder_id, name, size, mtime_ns) VALUES (?, ?, ?, ?)',
      ),
      completeData: db.prepare(
        "UPDATE data_folders SET state = 'complete', files = @files, bytes = @bytes, max_file_mtime_ns = @maxMtime, problems = @problems, scanned_at = @at WHERE id = @id",
      ),
      deleteData: db.prepare('DELETE FROM data_folders WHERE id = ?'),
      insertProblem: db.prepare(
        'INSERT INTO problems (root_id, scope, meta_file_id, data_folder_id, collection, path, line, aacid, code, message, found_at) VALUES (@root, @scope, @meta, @data, @collection, @path, @line, @aacid, @code, @message, @at)',
      ),
      deleteRootProblems: db.prepare("DELETE FROM problems WHERE root_id = ? AND scope = 'root'"),
      deleteCrossProblems: db.prepare("DELETE FROM problems WHERE scope = 'cross' AND collection = ?"),
    }
  }

  rootId(path: string): number {
    const id = this.stmts.rootId.get(path) as number | undefined
    return id ?? Number(this.stmts.insertRoot.run(path).lastInsertRowid)
  }

  /** Rows a killed scan left half-written; their previous complete versions are untouched. */
  deleteUnfinished(): number {
    const meta = this.db
      .prepare("SELECT id FROM meta_files WHERE state = 'scanning'")
      .pluck()
      .all() as number[]
    for (const id of meta) this.deleteMetaFile(id)
    return meta.length + this.db.prepare("DELETE FROM data_folders WHERE state = 'scanning'").run().changes
  }

  listMetaFiles(rootId: number): StoredEntry[] {
    return (this.stmts.listMeta.all(rootId) as Array<StoredEntry & { id: bigint }>).map((r) => ({
      ...r,
      id: Number(r.id),
    }))
  }

  listDataFolders(rootId: number): StoredEntry[] {
    return (this.stmts.listData.all(rootId) as Array<StoredEntry & { id: bigint }>).map((r) => ({
      ...r,
      id: Number(r.id),
    }))
  }

  private rangeParams(range: AacRange) {
    return {
      collection: range.collection,
      from: range.from.text,
      to: range.to.text,
      fromS: range.from.seconds,
      toS: range.to.seconds,
    }
  }

  beginMetaFile(rootId: number, meta: MetaFile, id: FileIdentity): number {
    this.stmts.insertCollection.run(meta.range.collection, now())
    return Number(
      this.stmts.insertMeta.run({
        root: rootId,
        name: meta.name,
        prefix: meta.prefix,
        ...this.rangeParams(meta.range),
        extension: meta.extension,
        size: id.size,
        mtimeNs: id.mtimeNs,
        inode: id.inode,
        at: now(),
      }).lastInsertRowid,
    )
  }

  /** Records written on this connection (the scan writes them from its line workers instead). */
  insertRecords(fileId: number, cols: RecordColumns): void {
    ;(this.writer ??= new RecordWriter(this.db)).write(fileId, cols)
  }

  private writer: RecordWriter | undefined

  /**
   * Within one file an AACID may appear once: the records that share a key, in file order, for
   * the caller to read back and group by their AACID (a shared tag alone proves nothing).
   */
  sameKeyRecords(fileId: number): RecordAt[] {
    return this.stmts.sameKey.all({ id: fileId }) as RecordAt[]
  }

  /**
   * Makes a freshly read file the catalog's version of it: frames and problems stored, the
   * previous version (if any) dropped, state `complete`, all in one transaction.
   */
  completeMetaFile(
    fileId: number,
    previousId: number | null,
    stats: {
      records: number
      decompressedBytes: number
      frames: MetaFrame[]
      folders?: Map<string, number> | null
    },
    problems: Array<Omit<StoredProblem, 'root' | 'scope'>>,
    rootId: number,
    collection: string,
  ): void {
    this.db.transaction(() => {
      for (const f of stats.frames)
        this.stmts.insertFrame.run(fileId, f.frame, f.compressedOffset, f.decompressedOffset)
      // Counted while reading when the reader could; reading a million records back costs a tenth of a scan.
      if (stats.folders)
        for (const [folder, n] of stats.folders) this.stmts.insertMetaFolder.run(fileId, folder, n)
      else this.stmts.insertMetaFolders.run(fileId)
      for (const p of problems) this.insertProblem(rootId, 'meta', { meta: fileId, collection }, p)
      if (previousId !== null) this.deleteMetaFile(previousId)
      this.stmts.completeMeta.run({
        id: fileId,
        records: stats.records,
        bytes: stats.decompressedBytes,
        frames: stats.frames.length,
        problems: problems.length,
        at: now(),
      })
    })()
  }

  /** Makes the next scan read this file again whatever its identity. */
  forgetIdentity(fileId: number): void {
    this.db.prepare('UPDATE meta_files SET size = -1 WHERE id = ?').run(fileId)
  }

  /** Makes the next scan list this folder again whatever its identity. */
  forgetFolderIdentity(folderId: number): void {
    this.db.prepare('UPDATE data_folders SET mtime_ns = -1 WHERE id = ?').run(folderId)
  }

  /** A file, its records (no cascade: see migration 001), frames and problems. */
  deleteMetaFile(id: number): void {
    if (this.stmts.fileExists.get(id) === undefined) return
    this.db.transaction(() => {
      this.stmts.deleteRecords.run(id)
      this.stmts.deleteMeta.run(id)
    })()
  }

  /** Records of overlapping files whose line hash the immutability check needs and lacks. */
  recordsWithoutHash(collection: string): Array<{
    fileId: number
    root: string
    name: string
    records: RecordAt[]
  }> {
    const out = []
    const select = this.db.prepare(
      'SELECT seconds, tag, line, offset, length FROM records WHERE meta_file_id = ? AND seconds >= ? AND seconds <= ? AND hash IS NULL ORDER BY offset',
    )
    for (const p of this.overlappingPairs(collection)) {
      for (const [id, name, root] of [
        [p.a, p.aName, p.aRoot],
        [p.b, p.bName, p.bRoot],
      ] as const) {
        const records = select.all(id, p.loS, p.hiS) as RecordAt[]
        if (records.length > 0) out.push({ fileId: id, root, name, records })
      }
    }
    return out
  }

  setHashes(fileId: number, hashes: Array<RecordAt & { hash: string }>): void {
    this.db.transaction(() => {
      for (const h of hashes) this.stmts.setHash.run(h.hash, fileId, h.seconds, h.tag, h.line)
    })()
  }

  /** Pairs of complete files of one collection whose ranges overlap; the two may lie in different roots. */
  private overlappingPairs(collection: string) {
    return this.db
      .prepare(
        `SELECT a.id AS a, b.id AS b, a.name AS aName, b.name AS bName, a.root_id AS aRootId, b.root_id AS bRootId, ra.path AS aRoot, rb.path AS bRoot,
                max(a.range_from, b.range_from) AS lo, min(a.range_to, b.range_to) AS hi,
                max(a.range_from_s, b.range_from_s) AS loS, min(a.range_to_s, b.range_to_s) AS hiS
         FROM meta_files a JOIN meta_files b
           ON b.collection = a.collection AND b.id > a.id AND a.range_from_s <= b.range_to_s AND b.range_from_s <= a.range_to_s
         JOIN roots ra ON ra.id = a.root_id
         JOIN roots rb ON rb.id = b.root_id
         WHERE a.collection = ? AND a.state = 'complete' AND b.state = 'complete'`,
      )
      .all(collection) as Array<{
      a: number
      b: number
      aName: string
      bName: string
      aRootId: number
      bRootId: number
      aRoot: string
      bRoot: string
      lo: string
      hi: string
      loS: number
      hiS: number
    }>
  }
  beginDataFolder(rootId: number, folder: DataFolder, id: Omit<FileIdentity, 'size'>): number {
    this.stmts.insertCollection.run(folder.range.collection, now())
    return Number(
      this.stmts.insertData.run({
        root: rootId,
        name: folder.name,
        ...this.rangeParams(folder.range),
        prefix: folder.prefix,
        mtimeNs: id.mtimeNs,
        inode: id.inode,
        at: now(),
      }).lastInsertRowid,
    )
  }

  insertDataFiles(folderId: number, files: Array<{ name: string; size: bigint; mtimeNs: bigint }>): void {
    const ins = this.stmts.insertDataFile
    this.db.transaction(() => {
      for (const f of files) ins.run(folderId, f.name, f.size, f.mtimeNs)
    })()
  }

  completeDataFolder(
    folderId: number,
    previousId: number | null,
    stats: { files: number; bytes: bigint; maxMtimeNs: bigint },
    problems: Array<Omit<StoredProblem, 'root' | 'scope'>>,
    rootId: number,
    collection: string,
  ): void {
    this.db.transaction(() => {
      for (const p of problems) this.insertProblem(rootId, 'data', { data: folderId, collection }, p)
      if (previousId !== null) this.stmts.deleteData.run(previousId)
      this.stmts.completeData.run({
        id: folderId,
        files: stats.files,
        bytes: stats.bytes,
        maxMtime: stats.maxMtimeNs,
        problems: problems.length,
        at: now(),
      })
    })()
  }

  deleteDataFolder(id: number): void {
    this.stmts.deleteData.run(id)
  }

  replaceRootProblems(rootId: number, problems: Problem[]): void {
    this.db.transaction(() => {
      this.stmts.deleteRootProblems.run(rootId)
      for (const p of problems) this.insertProblem(rootId, 'root', {}, p)
    })()
  }

  private insertProblem(
    rootId: number,
    scope: ProblemScope,
    ref: { meta?: number; data?: number; collection?: string },
    p: Omit<Problem, never>,
  ): void {
    this.stmts.insertProblem.run({
      root: rootId,
      scope,
      meta: ref.meta ?? null,
      data: ref.data ?? null,
      collection: ref.collection ?? null,
      path: p.path,
      line: p.line,
      aacid: p.aacid,
      code: p.code,
      message: p.message,
      at: now(),
    })
  }

  /**
   * Finds the problems between entries of one collection: immutability across overlapping
   * metadata files, and blobs against the records that reference them. Those that name a
   * record's AACID come back pending: the caller reads the AACIDs from the files (the catalog
   * keeps only their tags) and passes the result to replaceCrossProblems.
   */
  crossCandidates(collection: string): {
    found: Array<CrossProblem & { rootId: number }>
    pending: PendingCrossProblem[]
  } {
    const found: Array<CrossProblem & { rootId: number }> = []
    const pending: PendingCrossProblem[] = []
    this.db.transaction(() => {
      this.overlapProblems(collection, pending)
      this.dataFileProblems(collection, found, pending)
    })()
    return { found, pending }
  }

  /** Replaces the problems between entries of one collection (from crossCandidates, resolved). */
  replaceCrossProblems(collection: string, found: Array<CrossProblem & { rootId: number }>): number {
    return this.db.transaction(() => {
      this.stmts.deleteCrossProblems.run(collection)
      for (const p of found) this.insertProblem(p.rootId, 'cross', { collection }, p)
      return found.length
    })()
  }

  private overlapProblems(collection: string, pending: PendingCrossProblem[]): void {
    const pairs = this.overlappingPairs(collection)
    // A record of x in the overlap whose key y lacks: its AACID is certainly not in y.
    const missing = this.db.prepare(
      `SELECT offset, length FROM records x WHERE x.meta_file_id = ? AND x.seconds >= ? AND x.seconds <= ?
         AND NOT EXISTS (SELECT 1 FROM records y WHERE y.meta_file_id = ? AND y.seconds = x.seconds AND y.tag = x.tag)
       ORDER BY x.seconds, x.tag LIMIT 101`,
    )
    const differing = this.db.prepare(
      `SELECT x.line AS line, x.offset AS offset, x.length AS length, y.line AS otherLine, y.offset AS otherOffset, y.length AS otherLength
       FROM records x JOIN records y ON y.meta_file_id = ? AND y.seconds = x.seconds AND y.tag = x.tag
       WHERE x.meta_file_id = ? AND x.seconds >= ? AND x.seconds <= ? AND x.hash <> y.hash ORDER BY x.seconds, x.tag LIMIT 1000`,
    )
    for (const p of pairs) {
      // A problem's path is relative to its own root; the other file, in another root, is named in full.
      const sameRoot = p.aRootId === p.bRootId
      const aOther = sameRoot ? p.aName : `${p.aRoot}/${p.aName}`
      const bOther = sameRoot ? p.bName : `${p.bRoot}/${p.bName}`
      for (const [x, xName, xRoot, xRootId, y, yName] of [
        [p.a, p.aName, p.aRoot, p.aRootId, p.b, bOther],
        [p.b, p.bName, p.bRoot, p.bRootId, p.a, aOther],
      ] as const) {
        const rows = missing.all(x, p.loS, p.hiS, y) as Array<{ offset: number; length: number }>
        if (rows.length === 0) continue
        pending.push({
          refs: rows.map((r) => ({ root: xRoot, name: xName, offset: r.offset, length: r.length })),
          problem: (aacids) => {
            const ids = aacids.filter((a): a is string => a !== null).sort()
            const example = ids[0] ?? null
            return [
              {
                rootId: xRootId,
                code: 'overlap-mismatch',
                path: xName,
                line: null,
                aacid: example,
                message: `ranges of ${xName} and ${yName} overlap (${p.lo}–${p.hi}) but ${rows.length > 100 ? 'more than 100' : rows.length} AACID(s) in the overlap are only in ${xName}${example ? `, e.g. ${example}` : ''}`,
              },
            ]
          },
        })
      }
      for (const d of differing.all(p.b, p.a, p.loS, p.hiS) as Array<{
        line: number
        offset: number
        length: number
        otherLine: number
        otherOffset: number
        otherLength: number
      }>) {
        pending.push({
          refs: [
            { root: p.aRoot, name: p.aName, offset: d.offset, length: d.length },
            { root: p.bRoot, name: p.bName, offset: d.otherOffset, length: d.otherLength },
          ],
          // Two different AACIDs that share a tag are not a conflict.
          problem: ([aacid, other]) =>
            aacid !== other
              ? []
              : [
                  {
                    rootId: p.aRootId,
                    code: 'immutable-conflict',
                    path: p.aName,
                    line: d.line,
                    aacid: aacid ?? null,
                    message: `record ${aacid} differs between ${p.aName} line ${d.line} and ${bOther} line ${d.otherLine}: AACs are immutable`,
                  },
                ],
        })
      }
    }
  }

  /**
   * Records against the blobs of the folders they name, by key: the data files' keys of the
   * collection go into a temporary table first (a folder's files are stored by name). A file
   * missing from a folder could hide behind another file of the same second and tag there
   * (record-key.ts): about one chance in 10^14 for each record.
   */
  private dataFileProblems(
    collection: string,
    found: Array<CrossProblem & { rootId: number }>,
    pending: PendingCrossProblem[],
  ): void {
    this.db.exec(
      'CREATE TEMP TABLE IF NOT EXISTS data_file_keys (data_folder_id INTEGER NOT NULL, seconds INTEGER NOT NULL, tag INTEGER NOT NULL, name TEXT NOT NULL, PRIMARY KEY (data_folder_id, seconds, tag, name)) WITHOUT ROWID',
    )
    this.db.exec('DELETE FROM temp.data_file_keys')
    const insertKey = this.db.prepare('INSERT INTO temp.data_file_keys VALUES (?, ?, ?, ?)')
    const folders = this.db
      .prepare("SELECT id FROM data_folders WHERE collection = ? AND state = 'complete'")
      .pluck()
      .all(collection) as number[]
    const names = this.db.prepare('SELECT name FROM data_files WHERE data_folder_id = ?').pluck()
    // A folder at a time: the connection cannot insert while it is still reading.
    for (const folderId of folders)
      for (const name of names.all(folderId) as string[])
        insertKey.run(folderId, aacidSeconds(name), aacidTag(name), name)
    const missing = this.db
      .prepare(
        `SELECT m.root_id AS rootId, ro.path AS root, m.name AS metaName, r.line, r.offset, r.length, mf.data_folder AS folder
         FROM meta_files m
         JOIN roots ro ON ro.id = m.root_id
         JOIN meta_file_folders mf ON mf.meta_file_id = m.id
         JOIN data_folders f ON f.root_id = m.root_id AND f.name = mf.data_folder AND f.state = 'complete'
         JOIN record_folders rf ON rf.name = mf.data_folder
         JOIN records r ON r.meta_file_id = m.id AND r.folder_id = rf.id
         WHERE m.collection = ? AND m.state = 'complete'
           AND NOT EXISTS (SELECT 1 FROM temp.data_file_keys k WHERE k.data_folder_id = f.id AND k.seconds = r.seconds AND k.tag = r.tag)
         ORDER BY m.name, r.line LIMIT 10000`,
      )
      .all(collection) as Array<{
      rootId: number
      root: string
      metaName: string
      line: number
      offset: number
      length: number
      folder: string
    }>
    const stray = this.db
      .prepare(
        `SELECT f.root_id AS rootId, f.name AS folder, k.name AS file
         FROM data_folders f JOIN temp.data_file_keys k ON k.data_folder_id = f.id
         WHERE f.collection = ? AND f.state = 'complete'
           AND EXISTS (SELECT 1 FROM meta_file_folders mf JOIN meta_files m ON m.id = mf.meta_file_id
                       WHERE mf.data_folder = f.name AND m.root_id = f.root_id AND m.state = 'complete')
           AND NOT EXISTS (SELECT 1 FROM meta_file_folders mf JOIN meta_files m ON m.id = mf.meta_file_id
                           JOIN records r ON r.meta_file_id = m.id AND r.seconds = k.seconds AND r.tag = k.tag
                           WHERE mf.data_folder = f.name AND m.root_id = f.root_id AND m.state = 'complete'
                             AND r.folder_id = (SELECT rf.id FROM record_folders rf WHERE rf.name = f.name))
         ORDER BY f.name, k.name LIMIT 10000`,
      )
      .all(collection) as Array<{ rootId: number; folder: string; file: string }>
    this.db.exec('DELETE FROM temp.data_file_keys')
    for (const m of missing) {
      pending.push({
        refs: [{ root: m.root, name: m.metaName, offset: m.offset, length: m.length }],
        problem: ([aacid]) => [
          {
            rootId: m.rootId,
            code: 'missing-data-file',
            path: m.metaName,
            line: m.line,
            aacid: aacid ?? null,
            message: `record ${aacid ?? `on line ${m.line}`} names data folder ${m.folder}, which has no file of that name`,
          },
        ],
      })
    }
    for (const s of stray) {
      found.push({
        rootId: s.rootId,
        code: 'stray-data-file',
        path: `${s.folder}/${s.file}`,
        line: null,
        aacid: s.file,
        message: `${s.file} in ${s.folder} is not referenced by any record of the metadata files that reference this folder`,
      })
    }
  }
  totals(rootIds: number[]): CatalogTotals {
    const ids = JSON.stringify(rootIds)
    return this.db
      .prepare(
        `SELECT
          (SELECT count(*) FROM meta_files WHERE state = 'complete' AND root_id IN (SELECT value FROM json_each(@ids))) AS meta_files,
          (SELECT count(*) FROM data_folders WHERE state = 'complete' AND root_id IN (SELECT value FROM json_each(@ids))) AS data_folders,
          (SELECT coalesce(sum(records), 0) FROM meta_files WHERE state = 'complete' AND root_id IN (SELECT value FROM json_each(@ids))) AS records,
          (SELECT coalesce(sum(files), 0) FROM data_folders WHERE state = 'complete' AND root_id IN (SELECT value FROM json_each(@ids))) AS data_files`,
      )
      .get({ ids }) as CatalogTotals
  }

  problems(rootIds: number[], limit = 100_000): StoredProblem[] {
    return this.db
      .prepare(
        `SELECT r.path AS root, p.scope, p.path, p.line, p.aacid, p.code, p.message FROM problems p JOIN roots r ON r.id = p.root_id
         WHERE p.root_id IN (SELECT value FROM json_each(?)) ORDER BY r.path, p.path, p.line, p.id LIMIT ?`,
      )
      .all(JSON.stringify(rootIds), limit) as StoredProblem[]
  }

  /**
   * Whether the latest scan was killed or failed: it may have completed entries whose checks
   * between entries it never derived, and those entries now look unchanged to the next scan.
   */
  lastScanUnfinished(): boolean {
    const outcome = this.db.prepare('SELECT outcome FROM scan_runs ORDER BY id DESC LIMIT 1').pluck().get()
    return outcome === 'running' || outcome === 'interrupted' || outcome === 'failed'
  }

  collectionNames(): string[] {
    return this.db.prepare('SELECT name FROM collections ORDER BY name').pluck().all() as string[]
  }

  startScanRun(roots: string[]): number {
    this.db.prepare("UPDATE scan_runs SET outcome = 'interrupted' WHERE outcome = 'running'").run()
    return Number(
      this.db
        .prepare("INSERT INTO scan_runs (started_at, outcome, roots) VALUES (?, 'running', ?)")
        .run(now(), JSON.stringify(roots)).lastInsertRowid,
    )
  }

  finishScanRun(
    id: number,
    r: {
      outcome: 'ok' | 'problems' | 'failed'
      entriesRead: number
      entriesUnchanged: number
      entriesRemoved: number
      records: number
      bytesRead: number
      problems: number
      error?: string
    },
  ): void {
    this.db
      .prepare(
        'UPDATE scan_runs SET finished_at = ?, outcome = ?, entries_read = ?, entries_unchanged = ?, entries_removed = ?, records = ?, bytes_read = ?, problems = ?, error = ? WHERE id = ?',
      )
      .run(
        now(),
        r.outcome,
        r.entriesRead,
        r.entriesUnchanged,
        r.entriesRemoved,
        r.records,
        r.bytesRead,
        r.problems,
        r.error ?? null,
        id,
      )
  }

  /**
   * Every complete release (metadata file or data folder) with the identity its data had when
   * cataloged and how many problems name it (its own, and root or cross problems on its path).
   * The first root wins when the same release sits in several. With `limit`, only the first
   * `limit` rows in that order (before that de-duplication): the root and cross problems are
   * counted for those alone, which is most of the query's time at tens of thousands of releases.
   */
  releases(limit = -1): CatalogRelease[] {
    const rows = this.db
      .prepare(
        `WITH named AS (SELECT root_id, path FROM problems WHERE scope IN ('root', 'cross')),
         rel AS (
           SELECT 'meta' AS kind, m.id, m.name, m.root_id AS rootId, r.path AS root, m.collection, m.range_from AS rangeFrom, m.range_to AS rangeTo,
                  m.range_from_s AS fromS, m.range_to_s AS toS, m.size AS bytes, 1 AS files, m.records,
                  m.size || ':' || m.mtime_ns || ':' || m.inode AS identity, m.problems AS own
           FROM meta_files m JOIN roots r ON r.id = m.root_id WHERE m.state = 'complete' AND m.size >= 0
           UNION ALL
           SELECT 'data', d.id, d.name, d.root_id, r.path, d.collection, d.range_from, d.range_to, d.range_from_s, d.range_to_s, d.bytes, d.files, 0,
                  d.mtime_ns || ':' || d.inode || ':' || d.files || ':' || d.bytes || ':' || d.max_file_mtime_ns, d.problems
           FROM data_folders d JOIN roots r ON r.id = d.root_id WHERE d.state = 'complete'
           ORDER BY 1, 3, 4
           LIMIT ?)
         SELECT kind, id, name, rootId, root, collection, rangeFrom, rangeTo, fromS, toS, bytes, files, records, identity,
                own + (SELECT count(*) FROM named p WHERE p.root_id = rel.rootId AND (p.path = rel.name OR substr(p.path, 1, length(rel.name) + 1) = rel.name || '/')) AS problems
         FROM rel ORDER BY kind, name, rootId`,
      )
      .all(limit) as CatalogRelease[]
    const seen = new Set<string>()
    return rows.filter((r) => !seen.has(r.name) && seen.add(r.name) !== undefined)
  }

  /**
   * The cross-release problems coverage reports as overlaps: a mismatch on shared ranges, an immutable file
   * changed.
   */
  storedOverlapProblems(
    limit = 100_000,
  ): Array<{ collection: string | null; code: string; path: string; message: string }> {
    return this.db
      .prepare(
        "SELECT collection, code, path, message FROM problems WHERE scope = 'cross' AND code IN ('overlap-mismatch', 'immutable-conflict') LIMIT ?",
      )
      .all(limit) as Array<{ collection: string | null; code: string; path: string; message: string }>
  }

  /**
   * Moves on every write that changes a release or a problem: rows are replaced (new ids) or
   * updated (a new `scanned_at`, size), so counts, largest ids, latest times and sums together
   * move. Readers that cache `releases()` re-read when it does.
   */
  signature(): string {
    return this.db
      .prepare(
        `SELECT
          (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(scanned_at), '') || ':' || total(size) || ':' || total(records) FROM meta_files) || '|' ||
          (SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(scanned_at), '') || ':' || total(bytes) || ':' || total(files) FROM data_folders) || '|' ||
          (SELECT count(*) || ':' || coalesce(max(id), 0) FROM problems) || '|' ||
          (SELECT count(*) FROM roots)`,
      )
      .pluck()
      .get() as string
  }

  /** A data folder's files in the byte order of their names (SQLite's BINARY collation is memcmp). */
  dataFiles(folderId: number): Array<{ name: string; size: number; mtimeNs: bigint }> {
    return this.db
      .prepare(
        'SELECT name, size, mtime_ns AS mtimeNs FROM data_files WHERE data_folder_id = ? ORDER BY name',
      )
      .safeIntegers(true)
      .all(folderId)
      .map((r) => {
        const row = r as { name: string; size: bigint; mtimeNs: bigint }
        return { name: row.name, size: Number(row.size), mtimeNs: row.mtimeNs }
      })
  }

  /**
   * Where a record may live, for `aacseed get`: the records of the AACID's collection, second
   * and tag in complete files whose range holds it. More than one when files overlap, or (rarely)
   * when another AACID shares the tag: the caller reads each and compares the AACID.
   */
  locateRecord(aacid: string): Array<{
    root: string
    name: string
    line: number
    offset: number
    length: number
    frame: number
    compressedOffset: number
    frameOffset: number
  }> {
    let id
    try {
      id = parseAacId(aacid)
    } catch {
      return []
    }
    const seconds = id.timestamp.seconds
    // A record starts in the last frame that starts at or before it.
    return this.db
      .prepare(
        `SELECT ro.path AS root, m.name, r.line, r.offset, r.length, f.frame, f.compressed_offset AS compressedOffset, f.decompressed_offset AS frameOffset
         FROM meta_files m JOIN records r ON r.meta_file_id = m.id AND r.seconds = @seconds AND r.tag = @tag
         JOIN roots ro ON ro.id = m.root_id
         JOIN meta_frames f ON f.meta_file_id = m.id
           AND f.frame = (SELECT max(g.frame) FROM meta_frames g WHERE g.meta_file_id = m.id AND g.decompressed_offset <= r.offset)
         WHERE m.collection = @collection AND m.range_from_s <= @seconds AND m.range_to_s >= @seconds AND m.state = 'complete'
         ORDER BY m.id, r.line`,
      )
      .all({ collection: id.collection, seconds, tag: aacidTag(aacid) }) as Array<{
      root: string
      name: string
      line: number
      offset: number
      length: number
      frame: number
      compressedOffset: number
      frameOffset: number
    }>
  }
}

/** The records of one chunk, as columns, in file order. */
export interface RecordColumns {
  /** Records in the columns (they may be longer: a reader reuses them). */
  count: number
  /** Each AACID's timestamp and tag (record-key.ts). */
  seconds: ArrayLike<number>
  tags: ArrayLike<number>
  lines: ArrayLike<number>
  offsets: ArrayLike<number>
  lengths: ArrayLike<number>
  /** '' for none. */
  folders: ArrayLike<string>
}

/**
 * Inserts records from a reader thread, on its own connection: binding values is most of an
 * insert's cost, and on a worker thread it runs beside the other workers instead of queueing
 * on the main thread; SQLite's write lock serializes only the B-tree work.
 */
export class RecordWriter {
  private readonly db: Database.Database
  private insertOne: Database.Statement
  private insertBatch: { fileId: number; stmt: Database.Statement } | null = null
  private readonly args: unknown[] = new Array(ROWS_PER_INSERT * 6)
  private readonly folderIds = new Map<string, number>()
  private readonly insertFolder: Database.Statement
  private readonly folderIdOf: Database.Statement

  readonly path: string

  /** On a database path: a connection of its own (a worker thread's); or on an open connection. */
  constructor(target: string | Database.Database) {
    if (typeof target === 'string') {
      this.db = new SqliteDatabase(target, { fileMustExist: true })
      this.db.pragma('busy_timeout = 60000')
      this.db.pragma('synchronous = NORMAL')
      this.db.pragma('cache_size = -8192')
      // Checkpoints (copying the WAL back, with fsyncs) are not run inside a chunk's
      // transaction, where they would hold up the other writers: see checkpointer.ts.
      this.db.pragma('wal_autocheckpoint = 0')
    } else {
      this.db = target
    }
    this.path = this.db.name
    this.insertOne = this.db.prepare(
      'INSERT INTO records (meta_file_id, seconds, tag, line, offset, length, folder_id) VALUES (?, ?, ?, ?, ?, ?, ?)',
    )
    this.insertFolder = this.db.prepare('INSERT OR IGNORE INTO record_folders (name) VALUES (?)')
    this.folderIdOf = this.db.prepare('SELECT id FROM record_folders WHERE name = ?').pluck()
  }

  /**
   * The id of a data folder name in record_folders, added on first use. Ids are never reused,
   * so a cached one stays right across transactions and the other scan threads' connections;
   * only a rolled-back transaction can take one back (write() clears the cache then).
   */
  private folderId(name: string): number | null {
    if (name === '') return null
    let id = this.folderIds.get(name)
    if (id === undefined) {
      this.insertFolder.run(name)
      id = this.folderIdOf.get(name) as number
      this.folderIds.set(name, id)
    }
    return id
  }

  /**
   * One transaction per chunk; IMMEDIATE takes the write lock up front rather than upgrading into a busy
   * wait.
   */
  write(fileId: number, c: RecordColumns): void {
    const insertBatch = this.batchInsertFor(fileId)
    const args = this.args
    const tx = this.db.transaction(() => {
      let i = 0
      // One call for many rows, the file id in the SQL: binding dominates an insert's cost.
      // The values go as separate arguments, not one array: better-sqlite3 reads an array's
      // elements through V8's generic property lookup, a fifth of a record's insert cost.
      for (; i + ROWS_PER_INSERT <= c.count; i += ROWS_PER_INSERT) {
        for (let k = 0, a = 0; k < ROWS_PER_INSERT; k++) {
          const folder = this.folderId(c.folders[i + k]!)
          args[a++] = c.seconds[i + k]
          args[a++] = c.tags[i + k]
          args[a++] = c.lines[i + k]
          args[a++] = c.offsets[i + k]
          args[a++] = c.lengths[i + k]
          args[a++] = folder
        }
        insertBatch.run(...args)
      }
      for (; i < c.count; i++) {
        const folder = this.folderId(c.folders[i]!)
        this.insertOne.run(fileId, c.seconds[i], c.tags[i], c.lines[i], c.offsets[i], c.lengths[i], folder)
      }
    })
    try {
      tx.immediate()
    } catch (err) {
      this.folderIds.clear()
      throw err
    }
  }

  private batchInsertFor(fileId: number): Database.Statement {
    if (this.insertBatch?.fileId !== fileId) {
      const row = `(${Math.trunc(fileId)}, ?, ?, ?, ?, ?, ?)`
      this.insertBatch = {
        fileId,
        stmt: this.db.prepare(
          `INSERT INTO records (meta_file_id, seconds, tag, line, offset, length, folder_id) VALUES ${Array(ROWS_PER_INSERT).fill(row).join(', ')}`,
        ),
      }
    }
    return this.insertBatch.stmt
  }

  /** Closes a connection of its own. */
  close(): void {
    this.db.close()
  }
}
