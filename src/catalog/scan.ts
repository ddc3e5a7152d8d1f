/**
 * Catalogs release roots: every name checked, every metadata file streamed through the
 * record checks, every data folder listed, then the checks between them, per collection.
 *
 * Incremental: an entry whose (size, mtime, inode) — for a data folder, the folder's own
 * (mtime, inode), which change whenever a file is added, removed or renamed — match the
 * catalog is not read again; `full` forces a re-read. A removed entry is dropped.
 * Crash-safe: see migration 001; an entry is replaced in one transaction after it was read.
 */
import { createHash } from 'node:crypto'
import { lstatSync, type BigIntStats } from 'node:fs'
import { lstat, opendir, readdir } from 'node:fs/promises'
import { setImmediate as yieldToLoop } from 'node:timers/promises'
import { join, resolve } from 'node:path'
import {
  AacError,
  parseAacId,
  parseDataFolderName,
  parseMetaFileName,
  type DataFolder,
  type MetaFile,
} from '../aac/index.js'
import { globToRegExp } from '../glob.js'
import { AacseedError } from '../errors.js'
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { problem, type Problem } from '../problems.js'
import { LinePool } from './line-pool.js'
import { readMetaFile } from './meta-reader.js'
import { forEachRecordBytes } from './record-bytes.js'
import { readAacids } from './record-aacids.js'
import { CatalogStore, type CatalogTotals, type RecordAt, type StoredEntry } from './store.js'

export interface ScanOptions {
  db: Db
  roots: string[]
  parseWorkers?: number
  chunkBytes?: number
  maxLineBytes?: number
  /** Names in a root that are not releases and not problems (simple `*` globs). */
  ignore?: string[]
  /** Per resolved root, the only entry names to look at (for `validate FILE`); others are left alone. */
  only?: Map<string, Set<string>>
  /** Re-read entries even when they look unchanged. */
  full?: boolean
  /**
   * Reader threads the caller started ahead (and closes); without them the scan starts its own
   * when it finds a metadata file to read. Their size wins over `parseWorkers`.
   */
  readers?: LinePool
  onProgress?: (p: ScanProgress) => void
  signal?: AbortSignal
}

/** The `[catalog]` settings that shape a scan, as scan options. */
export function scanSettings(
  c: Config['catalog'],
): Pick<ScanOptions, 'parseWorkers' | 'chunkBytes' | 'maxLineBytes' | 'ignore'> {
  return {
    parseWorkers: c.parse_workers,
    chunkBytes: c.chunk_bytes,
    maxLineBytes: c.max_line_bytes,
    ignore: c.ignore,
  }
}

export interface ScanProgress {
  entry: string
  bytesDone: number
  bytesTotal: number
  records: number
}

export interface ScanStats {
  entriesRead: number
  entriesUnchanged: number
  entriesRemoved: number
  recordsRead: number
  bytesRead: number
  seconds: number
}

export interface ScanReport extends CatalogTotals {
  problems: Problem[]
  stats: ScanStats
}

type Planned = { root: string; rootId: number; path: string; previous: StoredEntry | undefined } & (
  | { kind: 'meta'; release: MetaFile; size: bigint; mtimeNs: bigint; inode: bigint }
  | { kind: 'data'; release: DataFolder; mtimeNs: bigint; inode: bigint }
)

export async function scan(opts: ScanOptions): Promise<ScanReport> {
  const started = Date.now()
  const store = new CatalogStore(opts.db)
  const roots = opts.roots.map((r) => resolve(r))
  store.deleteUnfinished()
  // After a killed or failed scan every collection's cross checks are derived again.
  const recover = store.lastScanUnfinished()
  const runId = store.startScanRun(roots)
  const stats: ScanStats = {
    entriesRead: 0,
    entriesUnchanged: 0,
    entriesRemoved: 0,
    recordsRead: 0,
    bytesRead: 0,
    seconds: 0,
  }
  const touched = new Set<string>()
  const rootIds: number[] = []
  let pool: LinePool | undefined
  let ownPool: LinePool | undefined
  try {
    const planned: Planned[] = []
    for (const root of roots) {
      const rootId = store.rootId(root)
      rootIds.push(rootId)
      planned.push(...(await planRoot(store, root, rootId, opts, stats, touched)))
    }
    if (recover) for (const c of store.collectionNames()) touched.add(c)
    const bytesTotal = planned.reduce((s, p) => s + (p.kind === 'meta' ? Number(p.size) : 0), 0)
    let bytesBefore = 0
    for (const p of planned) {
      throwIfAborted(opts.signal)
      touched.add(p.release.range.collection)
      stats.entriesRead++
      if (p.kind === 'meta') {
        pool ??= opts.readers ?? (ownPool = new LinePool(opts.parseWorkers ?? 0))
        const base = bytesBefore
        stats.recordsRead += await catalogMetaFile(store, pool, p, opts, (done, records) =>
          opts.onProgress?.({
            entry: p.release.name,
            bytesDone: base + done,
            bytesTotal,
            records: stats.recordsRead + records,
          }),
        )
        bytesBefore += Number(p.size)
        stats.bytesRead += Number(p.size)
      } else {
        await catalogDataFolder(store, p, opts.signal)
      }
    }
    for (const c of [...touched].sort()) {
      await hashOverlaps(store, c)
      store.replaceCrossProblems(c, await crossProblems(store, c))
    }
    stats.seconds = (Date.now() - started) / 1000
    const problems = store
      .problems(rootIds)
      .map(({ path, line, aacid, code, message }) => ({ path, line, aacid, code, message }))
    store.finishScanRun(runId, {
      outcome: problems.length > 0 ? 'problems' : 'ok',
      entriesRead: stats.entriesRead,
      entriesUnchanged: stats.entriesUnchanged,
      entriesRemoved: stats.entriesRemoved,
      records: stats.recordsRead,
      bytesRead: stats.bytesRead,
      problems: problems.length,
    })
    return { ...store.totals(rootIds), problems, stats }
  } catch (e) {
    store.finishScanRun(runId, {
      outcome: 'failed',
      ...stats,
      records: stats.recordsRead,
      problems: 0,
      error: (e as Error).message,
    })
    throw e
  } finally {
    await ownPool?.close()
  }
}

/** Hashes the records that overlapping files both claim, so immutability can be compared in SQL. */
async function hashOverlaps(store: CatalogStore, collection: string): Promise<void> {
  for (const f of store.recordsWithoutHash(collection)) {
    const hashes: Array<RecordAt & { hash: string }> = []
    await forEachRecordBytes(
      join(f.root, f.name),
      { compressedOffset: 0, decompressedOffset: 0 },
      f.records,
      (r, bytes) => {
        hashes.push({ ...r, hash: createHash('sha1').update(bytes).digest('base64') })
      },
    )
    store.setHashes(f.fileId, hashes)
  }
}

/** The problems between entries of one collection, with the AACIDs they name read from the files. */
async function crossProblems(store: CatalogStore, collection: string) {
  const { found, pending } = store.crossCandidates(collection)
  const aacids = await readAacids(pending.flatMap((p) => p.refs))
  let k = 0
  for (const p of pending) {
    found.push(...p.problem(aacids.slice(k, k + p.refs.length)))
    k += p.refs.length
  }
  return found
}

/**
 * AACIDs repeated in a file that is not in AACID order (the reader finds them in an ordered
 * one): the records sharing a key, read back and grouped by their AACID.
 */
async function repeatedAacids(
  store: CatalogStore,
  fileId: number,
  root: string,
  name: string,
): Promise<Array<{ aacid: string; first: number; last: number; n: number }>> {
  const same = store.sameKeyRecords(fileId)
  if (same.length === 0) return []
  const aacids = await readAacids(same.map((r) => ({ root, name, offset: r.offset, length: r.length })))
  const groups = new Map<string, { aacid: string; first: number; last: number; n: number }>()
  same.forEach((r, i) => {
    const aacid = aacids[i]
    if (aacid == null) return
    const g = groups.get(aacid)
    if (!g) groups.set(aacid, { aacid, first: r.line, last: r.line, n: 1 })
    else {
      g.n++
      g.first = Math.min(g.first, r.line)
      g.last = Math.max(g.last, r.line)
    }
  })
  return [...groups.values()]
    .filter((g) => g.n > 1)
    .sort((a, b) => a.first - b.first)
    .slice(0, 1000)
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new AacseedError('aborted', 'scan aborted')
}

export const DEFAULT_IGNORE = ['.*', 'lost+found']

import { MIRROR_WORK_DIR, OTHER_TORRENTS_DIR } from './reserved.js'

export { MIRROR_WORK_DIR, OTHER_TORRENTS_DIR }

async function planRoot(
  store: CatalogStore,
  root: string,
  rootId: number,
  opts: ScanOptions,
  stats: ScanStats,
  touched: Set<string>,
): Promise<Planned[]> {
  let entries
  try {
    entries = await readdir(root)
  } catch (e) {
    throw new AacseedError(
      'root-unreadable',
      `cannot read release root ${root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { path: root },
    )
  }
  const ignore = (opts.ignore ?? DEFAULT_IGNORE).map(globToRegExp)
  const rootProblems: Problem[] = []
  // An entry seen unchanged maps to null: it is neither parsed again nor read.
  const seenMeta = new Map<string, Planned | null>()
  const seenData = new Map<string, Planned | null>()
  const unchanged = (prev: StoredEntry | undefined, st: BigIntStats, isFile: boolean): boolean =>
    !opts.full &&
    prev !== undefined &&
    prev.state === 'complete' &&
    prev.mtimeNs === st.mtimeNs &&
    prev.inode === st.ino &&
    (!isFile || prev.size === st.size)
  const storedMeta = new Map(store.listMetaFiles(rootId).map((e) => [e.name, e]))
  const storedData = new Map(store.listDataFolders(rootId).map((e) => [e.name, e]))
  const only = opts.only?.get(root)
  let n = 0
  for (const name of entries.sort()) {
    if (
      only
        ? !only.has(name)
        : name === MIRROR_WORK_DIR || name === OTHER_TORRENTS_DIR || ignore.some((re) => re.test(name))
    )
      continue
    const path = join(root, name)
    let st
    try {
      // Synchronous: an async lstat costs several times more than the call itself, and a
      // rescan of an unchanged tree is nothing but these calls. Yield now and then instead.
      if (++n % 512 === 0) await yieldToLoop()
      st = lstatSync(path, { bigint: true })
    } catch (e) {
      rootProblems.push(
        problem(
          'unreadable',
          name,
          `cannot stat: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        ),
      )
      continue
    }
    try {
      if (st.isSymbolicLink()) {
        rootProblems.push(
          problem(
            'symlink-not-followed',
            name,
            'symbolic link in a release root: releases must be real files and folders; not followed',
          ),
        )
      } else if (st.isDirectory()) {
        const previous = storedData.get(name)
        if (unchanged(previous, st, false)) seenData.set(name, null)
        else
          seenData.set(name, {
            kind: 'data',
            root,
            rootId,
            path,
            release: parseDataFolderName(name),
            mtimeNs: st.mtimeNs,
            inode: st.ino,
            previous,
          })
      } else if (st.isFile()) {
        const previous = storedMeta.get(name)
        if (unchanged(previous, st, true)) seenMeta.set(name, null)
        else
          seenMeta.set(name, {
            kind: 'meta',
            root,
            rootId,
            path,
            release: parseMetaFileName(name),
            size: st.size,
            mtimeNs: st.mtimeNs,
            inode: st.ino,
            previous,
          })
      } else {
        rootProblems.push(problem('not-a-regular-file', name, 'neither a regular file nor a folder'))
      }
    } catch (e) {
      if (!(e instanceof AacError)) throw e
      rootProblems.push(problem(e.code, name, e.message))
    }
  }
  store.replaceRootProblems(rootId, rootProblems)
  for (const [stored, seen, drop] of [
    [storedMeta, seenMeta, (id: number) => store.deleteMetaFile(id)],
    [storedData, seenData, (id: number) => store.deleteDataFolder(id)],
  ] as const) {
    for (const [name, e] of stored) {
      if (seen.has(name) || (only && !only.has(name))) continue
      drop(e.id)
      stats.entriesRemoved++
      const release = name.includes('_meta__')
        ? tryParse(() => parseMetaFileName(name))
        : tryParse(() => parseDataFolderName(name))
      if (release) touched.add(release.range.collection)
    }
  }
  const out: Planned[] = []
  for (const p of [...seenMeta.values(), ...seenData.values()]) {
    if (p === null) stats.entriesUnchanged++
    else out.push(p)
  }
  return out
}

function tryParse<T>(fn: () => T): T | undefined {
  try {
    return fn()
  } catch {
    return undefined
  }
}

async function catalogMetaFile(
  store: CatalogStore,
  pool: LinePool,
  p: Planned & { kind: 'meta' },
  opts: ScanOptions,
  progress: (bytes: number, records: number) => void,
): Promise<number> {
  const fileId = store.beginMetaFile(p.rootId, p.release, {
    size: p.size,
    mtimeNs: p.mtimeNs,
    inode: p.inode,
  })
  const problems: Problem[] = []
  let records = 0
  const name = p.release.name
  // folders is null when the read broke off: the records written so far are counted in SQL.
  let res: Omit<Awaited<ReturnType<typeof readMetaFile>>, 'folders'> & { folders: Map<string, number> | null }
  try {
    res = await readMetaFile(
      p.path,
      {
        collection: p.release.range.collection,
        fromS: p.release.range.from.seconds,
        toS: p.release.range.to.seconds,
      },
      { database: store.db.name, fileId },
      pool,
      {
        records(count) {
          records += count
          throwIfAborted(opts.signal)
        },
        problem(rp) {
          const where = rp.line === null && rp.offset !== null ? ` (byte ${rp.offset})` : ''
          problems.push(problem(rp.code, name, rp.message + where, { line: rp.line, aacid: rp.aacid }))
        },
      },
      {
        ...(opts.maxLineBytes ? { maxLineBytes: opts.maxLineBytes } : {}),
        ...(opts.chunkBytes ? { chunkBytes: opts.chunkBytes } : {}),
        onProgress: (b) => progress(b, records),
      },
    )
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    if (typeof code !== 'string' || !/^E[A-Z]+$/.test(code) || e instanceof AacseedError) {
      // The half-written version goes; the previous complete one stays until a scan reads the file.
      store.deleteMetaFile(fileId)
      throw e
    }
    // An I/O error is this file's problem, not the scan's; forgetting its identity makes the next scan retry
    // it.
    problems.push(problem('unreadable', name, `cannot read: ${code}`))
    res = {
      ordered: false,
      repeats: [],
      lines: 0,
      records,
      folders: null,
      problems: 0,
      compressedBytes: 0,
      decompressedBytes: 0,
      frames: [{ frame: 0, compressedOffset: 0, decompressedOffset: 0 }],
    }
    store.forgetIdentity(fileId)
  }
  const repeats = res.ordered ? res.repeats : await repeatedAacids(store, fileId, p.root, name)
  for (const d of repeats) {
    problems.push(
      problem(
        'duplicate-aacid',
        name,
        `AACID appears ${d.n} times in the file (lines ${d.first} to ${d.last})`,
        { line: d.last, aacid: d.aacid },
      ),
    )
  }
  store.completeMetaFile(
    fileId,
    p.previous?.id ?? null,
    {
      records: res.records,
      decompressedBytes: res.decompressedBytes,
      frames: res.frames,
      folders: res.folders,
    },
    problems,
    p.rootId,
    p.release.range.collection,
  )
  return res.records
}

async function catalogDataFolder(
  store: CatalogStore,
  p: Planned & { kind: 'data' },
  signal: AbortSignal | undefined,
): Promise<void> {
  const folderId = store.beginDataFolder(p.rootId, p.release, { mtimeNs: p.mtimeNs, inode: p.inode })
  const range = p.release.range
  const problems: Problem[] = []
  let batch: Array<{ name: string; size: bigint; mtimeNs: bigint }> = []
  let files = 0
  let bytes = 0n
  let maxMtimeNs = 0n
  const folder = p.release.name
  try {
    const dir = await opendir(p.path, { bufferSize: 256 })
    for await (const ent of dir) {
      const name = ent.name
      const rel = `${folder}/${name}`
      // lstat, not the dirent type: some filesystems report DT_UNKNOWN, and links must never be followed.
      let st
      try {
        st = await lstat(join(p.path, name), { bigint: true })
      } catch (e) {
        if (!isIoError(e)) throw e
        problems.push(problem('unreadable', rel, `cannot stat: ${(e as NodeJS.ErrnoException).code}`))
        continue
      }
      if (st.isSymbolicLink()) {
        problems.push(problem('symlink-not-followed', rel, 'symbolic link in a data folder; not followed'))
        continue
      }
      if (st.isDirectory()) {
        problems.push(
          problem(
            'unexpected-subfolder',
            rel,
            'a data folder holds only files named by AACIDs, no sub-folders',
          ),
        )
        continue
      }
      if (!st.isFile()) {
        problems.push(problem('not-a-regular-file', rel, 'not a regular file'))
        continue
      }
      let id
      try {
        id = parseAacId(name)
      } catch (e) {
        problems.push(
          problem('invalid-data-file-name', rel, `file name is not an AACID: ${(e as Error).message}`),
        )
        continue
      }
      if (id.collection !== range.collection) {
        problems.push(
          problem(
            'data-file-wrong-collection',
            rel,
            `AACID belongs to collection ${id.collection}, not ${range.collection}`,
            { aacid: name },
          ),
        )
        continue
      }
      if (id.timestamp.seconds < range.from.seconds || id.timestamp.seconds > range.to.seconds) {
        problems.push(
          problem(
            'data-file-out-of-range',
            rel,
            `AACID timestamp ${id.timestamp.text} lies outside the folder's range`,
            { aacid: name },
          ),
        )
        continue
      }
      batch.push({ name, size: st.size, mtimeNs: st.mtimeNs })
      files++
      bytes += st.size
      if (st.mtimeNs > maxMtimeNs) maxMtimeNs = st.mtimeNs
      if (batch.length >= 10_000) {
        throwIfAborted(signal)
        store.insertDataFiles(folderId, batch)
        batch = []
      }
    }
    store.insertDataFiles(folderId, batch)
    store.completeDataFolder(
      folderId,
      p.previous?.id ?? null,
      { files, bytes, maxMtimeNs },
      problems,
      p.rootId,
      range.collection,
    )
  } catch (e) {
    if (!isIoError(e)) {
      store.deleteDataFolder(folderId)
      throw e
    }
    // As for a metadata file: an I/O error is this folder's problem, not the scan's. What was
    // listed is kept; forgetting the folder's identity makes the next scan list it again.
    problems.push(problem('unreadable', folder, `cannot list: ${(e as NodeJS.ErrnoException).code}`))
    store.insertDataFiles(folderId, batch)
    store.completeDataFolder(
      folderId,
      p.previous?.id ?? null,
      { files, bytes, maxMtimeNs },
      problems,
      p.rootId,
      range.collection,
    )
    store.forgetFolderIdentity(folderId)
  }
}

/** An operating-system error (ENOENT, EACCES, EIO…) rather than a bug or an abort. */
function isIoError(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) && !(e instanceof AacseedError)
}
