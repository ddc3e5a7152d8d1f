/**
 * `aacseed torrents make`: a torrent for every cataloged, problem-free release that lacks one.
 *
 * Safety rules, each because AACs are immutable and mirrors compare infohashes:
 * - data that changed since it was cataloged is not hashed (it must be rescanned first);
 * - a .torrent is written atomically;
 * - an existing .torrent of the same name with another infohash is never overwritten
 *   (`torrent-conflict`); one with the same infohash is adopted (and refreshed if only its
 *   trackers, web seeds or comment differ).
 */
import { lstatSync, mkdirSync, readFileSync, type BigIntStats } from 'node:fs'
import { lstat, mkdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { torrentFileName } from '../aac/index.js'
import { CatalogStore, type CatalogRelease } from '../catalog/store.js'
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { AacseedError, EnvironmentError } from '../errors.js'
import { pathExists } from '../fs.js'
import { problem, type Problem } from '../problems.js'
import { TorrentError } from './errors.js'
import { discardHeadStart } from './hasher.js'
import {
  buildTorrent,
  firstBadPiece,
  parseTorrent,
  readForeignInfo,
  wrapForeignInfo,
  type BuiltTorrent,
  type TorrentFile,
  type TorrentOuter,
} from './metainfo.js'
import { releaseTorrentFiles } from './paths.js'
import { resolvePieceLength } from './piece-length.js'
import { TorrentStore, type NewTorrentRow, type TorrentRow } from './store.js'
import { writeFileAtomic, writeFileAtomicSync } from './write.js'

/** Fixed, without a version: a new aacseed must make the same bytes as the old one. */
export const CREATED_BY = 'aacseed'

export interface MakeOptions {
  db: Db
  torrents: Config['torrents']
  /** Overrides torrents.out_dir / torrents.piece_length for this run. */
  outDir?: string
  pieceLength?: number
  /**
   * The info-dictionary shape of releases that must reproduce a torrent made elsewhere (a
   * mirrored release keeps upstream's infohash, so one swarm serves both): wins over the
   * configured piece length, private flag and source tag.
   */
  shapeOf?: (name: string) => TorrentShape | undefined
  onProgress?: (p: { release: string; bytesDone: number; bytesTotal: number }) => void
  signal?: AbortSignal
  /** The calling thread hashes too, blocking its event loop a span at a time: for the CLI. */
  callerHashes?: boolean
  /**
   * A trial (another folder or piece length than configured): the .torrent files go to
   * `outDir` and the rows come back in the report, but the catalog's torrents and problems
   * are not touched, so what is published (and seeded) stays as it was.
   */
  trial?: boolean
}

export interface TorrentShape {
  pieceLength: number
  private: boolean
  source: string
  /** Trackers of the torrent being reproduced: announced to after the configured ones. */
  announce?: readonly (readonly string[])[]
  /**
   * The torrent being reproduced, when its bytes are at hand (a mirrored release): its info
   * dictionary is kept byte for byte rather than made again, so the infohash is its own even
   * when it was made by other rules. The cataloged files must be the ones it lists (names,
   * sizes, order), and the data must match its piece hashes.
   */
  upstream?: {
    infohash: string
    torrent: () => Buffer
    /**
     * The data was already checked against its piece hashes (an engine verified every piece of
     * the download, and the catalog shows the data as placed): nothing is hashed again.
     */
    verified: boolean
  }
}

export interface MadeTorrent {
  name: string
  infohash: string
  pieceLength: number
  pieceCount: number
  totalSize: number
  fileCount: number
  torrentPath: string
  outcome: 'made' | 'adopted'
}

export interface MakeReport {
  made: MadeTorrent[]
  /** Releases whose torrent was already made and is unchanged. */
  unchanged: number
  /** Releases not torrented because the catalog reports problems in them. */
  withProblems: number
  problems: Problem[]
  /** A trial's torrents as list rows (the catalog was not changed); empty otherwise. */
  trialRows: TorrentRow[]
}

export async function makeTorrents(opts: MakeOptions): Promise<MakeReport> {
  const catalog = new CatalogStore(opts.db)
  const store = new TorrentStore(opts.db)
  const outDir = opts.outDir ?? opts.torrents.out_dir
  // A CLI process (`callerHashes`) has nothing else to do: blocking calls spare it a round trip
  // through the thread pool each (~0.3 ms apiece on the 2-core bench machine).
  const blocking = opts.callerHashes ?? false
  if (blocking) mkdirSync(outDir, { recursive: true })
  else await mkdir(outDir, { recursive: true })
  const report: MakeReport = { made: [], unchanged: 0, withProblems: 0, problems: [], trialRows: [] }
  const todo: CatalogRelease[] = []
  for (const r of catalog.releases()) {
    if (r.problems > 0) {
      report.withProblems++
      continue
    }
    const path = join(outDir, torrentFileName(r.name))
    // A trial hashes everything again: the catalog knows only the published torrents.
    if (
      !opts.trial &&
      store.madeFrom(r.name, r.identity, path, opts.shapeOf?.(r.name)?.upstream?.infohash) &&
      (await pathExists(path))
    )
      report.unchanged++
    else todo.push(r)
  }
  const bytesTotal = todo.reduce((s, r) => s + r.bytes, 0)
  const problems: Array<Problem & { rootId: number }> = []
  let bytesBefore = 0
  try {
    for (const r of todo) {
      if (opts.signal?.aborted) throw new AacseedError('aborted', 'torrent making aborted')
      const base = bytesBefore
      try {
        const { made, row } = await makeOne(catalog, r, outDir, opts, (done) =>
          opts.onProgress?.({ release: r.name, bytesDone: base + done, bytesTotal }),
        )
        report.made.push(made)
        if (!opts.trial) store.upsert(row)
        else {
          const published = store.byName(r.name)
          report.trialRows.push({
            ...row,
            id: 0,
            root: r.root,
            addedAt: published?.addedAt ?? row.madeAt.slice(0, 10),
          })
        }
      } catch (e) {
        // A full disk is not this release's problem: every other release would fail the same way.
        if (!(e instanceof AacseedError) || e.code === 'aborted' || e instanceof EnvironmentError) throw e
        problems.push({ ...problem(e.code, r.name, e.message), rootId: r.rootId })
      }
      bytesBefore += r.bytes
    }
  } finally {
    // A head start that no job took (its release turned out unchanged, or was not hashed first).
    discardHeadStart()
  }
  if (!opts.trial) store.replaceProblems(todo, problems)
  report.problems = problems.map(({ rootId: _, ...p }) => p)
  return report
}

/** `extra`'s tiers after `base`'s, without announcing to one URL twice. */
function withTiers(base: readonly (readonly string[])[], extra: readonly (readonly string[])[]): string[][] {
  const seen = new Set(base.flat())
  const out = base.map((t) => [...t])
  for (const tier of extra) {
    const fresh = tier.filter((u) => !seen.has(u))
    for (const u of fresh) seen.add(u)
    if (fresh.length > 0) out.push(fresh)
  }
  return out
}

async function makeOne(
  catalog: CatalogStore,
  r: CatalogRelease,
  outDir: string,
  opts: MakeOptions,
  progress: (bytes: number) => void,
): Promise<{ made: MadeTorrent; row: NewTorrentRow }> {
  const dataPath = join(r.root, r.name)
  const { files, checked } = await unchangedFiles(catalog, r, dataPath, opts.callerHashes ?? false)
  // The files are stat'ed while the hashing starts (waiting for 350 lstats first cost ~15 ms of
  // a 2 GiB run). A file found changed stops the hashing, and its error wins over whatever the
  // hashing then failed with: the outcome is the one of checking first, and nothing is made.
  const stop = new AbortController()
  let changed: unknown = null
  const checking = checked.catch((e: unknown) => {
    changed = e
    stop.abort(e)
  })
  const signal = stop.signal
  const onAbort = (): void => stop.abort(opts.signal?.reason)
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  if (opts.signal?.aborted) onAbort()
  const totalSize = files.reduce((s, f) => s + f.length, 0)
  const cfg = opts.torrents
  const shape = opts.shapeOf?.(r.name)
  const outer = {
    announce: withTiers(cfg.announce, shape?.announce ?? []),
    webSeeds: cfg.web_seeds,
    comment: cfg.comment,
    createdBy: CREATED_BY,
    creationDate: cfg.creation_date === 'range-end' ? r.toS : null,
  }
  // A trial with another piece length asks what our own rules would make.
  const building =
    shape?.upstream && !(opts.trial && opts.pieceLength !== undefined)
      ? fromUpstream(r, dataPath, files, shape.upstream, outer, opts, signal, progress)
      : buildTorrent({
          name: r.name,
          kind: r.kind === 'meta' ? 'file' : 'folder',
          root: dataPath,
          files,
          pieceLength:
            shape?.pieceLength ?? resolvePieceLength(opts.pieceLength ?? cfg.piece_length, totalSize),
          ...outer,
          source: shape?.source ?? cfg.source,
          private: shape?.private ?? cfg.private,
          hashWorkers: cfg.hash_workers,
          callerHashes: opts.callerHashes ?? false,
          onProgress: progress,
          signal,
        })
  let built: BuiltTorrent
  try {
    built = await building
  } catch (e) {
    await checking
    throw changed ?? e
  } finally {
    opts.signal?.removeEventListener('abort', onAbort)
  }
  await checking
  if (changed !== null) throw changed
  const torrentPath = join(outDir, torrentFileName(r.name))
  let outcome: MadeTorrent['outcome'] = 'made'
  const blocking = opts.callerHashes ?? false
  const unreadable = (e: NodeJS.ErrnoException): null => {
    if (e.code === 'ENOENT') return null
    throw new AacseedError('torrent-unreadable', `cannot read existing ${torrentPath}: ${e.code}`, {
      path: torrentPath,
    })
  }
  let old: Buffer | null
  if (blocking) {
    try {
      old = readFileSync(torrentPath)
    } catch (e) {
      old = unreadable(e as NodeJS.ErrnoException)
    }
  } else old = await readFile(torrentPath).catch(unreadable)
  if (old !== null) {
    let oldHash: string
    try {
      oldHash = parseTorrent(old).infoHash
    } catch (e) {
      throw new AacseedError(
        'torrent-conflict',
        `${torrentPath} exists and is not a valid torrent (${(e as Error).message}); not overwritten`,
        { path: torrentPath },
      )
    }
    if (oldHash !== built.infoHash) {
      throw new AacseedError(
        'torrent-conflict',
        `${torrentPath} exists with infohash ${oldHash}, but the data hashes to ${built.infoHash}; AACs are immutable, so it is not overwritten`,
        {
          path: torrentPath,
        },
      )
    }
    outcome = 'adopted'
  }
  if (old === null || !old.equals(built.torrent)) {
    if (blocking) writeFileAtomicSync(torrentPath, built.torrent, 0o644, 'the torrent file')
    else await writeFileAtomic(torrentPath, built.torrent, 0o644, 'the torrent file')
  }
  const row: NewTorrentRow = {
    name: r.name,
    kind: r.kind,
    collection: r.collection,
    rangeFrom: r.rangeFrom,
    rangeTo: r.rangeTo,
    fromS: r.fromS,
    toS: r.toS,
    rootId: r.rootId,
    infohash: built.infoHash,
    pieceLength: built.pieceLength,
    pieceCount: built.pieceCount,
    totalSize: built.totalSize,
    fileCount: built.fileCount,
    torrentPath,
    torrentSize: built.torrent.length,
    dataIdentity: r.identity,
    madeAt: new Date().toISOString(),
  }
  const made: MadeTorrent = {
    name: r.name,
    infohash: built.infoHash,
    pieceLength: built.pieceLength,
    pieceCount: built.pieceCount,
    totalSize: built.totalSize,
    fileCount: built.fileCount,
    torrentPath,
    outcome,
  }
  return { made, row }
}

/**
 * The release's torrent around upstream's info dictionary. The cataloged files must be the ones
 * it lists, in its order; their bytes are hashed against its pieces only when they were not
 * already verified (the data changed since, or was placed by other means).
 */
async function fromUpstream(
  r: CatalogRelease,
  dataPath: string,
  files: TorrentFile[],
  upstream: NonNullable<TorrentShape['upstream']>,
  outer: TorrentOuter,
  opts: MakeOptions,
  signal: AbortSignal,
  progress: (bytes: number) => void,
): Promise<BuiltTorrent> {
  const foreign = readForeignInfo(upstream.torrent())
  const p = foreign.parsed
  const mismatch = (what: string): never => {
    throw new TorrentError(
      'upstream-mismatch',
      `${r.name}: ${what}, so it is not upstream's torrent ${upstream.infohash}`,
      { path: dataPath },
    )
  }
  if (p.infoHash !== upstream.infohash) mismatch(`the stored upstream .torrent has infohash ${p.infoHash}`)
  if (p.name !== r.name) mismatch(`upstream's torrent is named ${JSON.stringify(p.name)}`)
  if ((p.kind === 'file') !== (r.kind === 'meta')) mismatch(`upstream's torrent is a ${p.kind}`)
  if (p.files.length !== files.length)
    mismatch(`it holds ${files.length} files, upstream's torrent ${p.files.length}`)
  p.files.forEach((f, i) => {
    const ours = files[i]!
    if (f.path !== ours.path || f.length !== ours.length)
      mismatch(
        `file ${i + 1} is ${ours.path} (${ours.length} bytes), upstream's torrent lists ${f.path} (${f.length} bytes) there`,
      )
  })
  if (!upstream.verified) {
    const absolute = r.kind === 'meta' ? [dataPath] : files.map((f) => join(dataPath, ...f.path.split('/')))
    const bad = await firstBadPiece(
      foreign,
      files.map((f, i) => ({ path: absolute[i]!, length: f.length })),
      {
        hashWorkers: opts.torrents.hash_workers,
        callerHashes: opts.callerHashes ?? false,
        onProgress: progress,
        signal,
      },
    )
    if (bad >= 0) mismatch(`piece ${bad} of its data does not match upstream's piece hash`)
  }
  return wrapForeignInfo(foreign, outer)
}

const STAT_BATCH = 256

/**
 * The release's files as cataloged, once its folder (or metadata file) is seen unchanged, and
 * `checked`: settles when every file's size and mtime have been compared with the disk, and
 * rejects with `changed-since-scan` if one differs. `blocking` (a CLI process, whose event loop
 * has nothing else to do: MakeOptions.callerHashes) compares them before returning, one lstatSync
 * after another: 350 files took 11-16 ms of CPU so in a fresh process, against 32-38 ms through
 * the thread pool's lstat (a promise and a pool round trip each), on the 2-core bench machine.
 */
async function unchangedFiles(
  catalog: CatalogStore,
  r: CatalogRelease,
  dataPath: string,
  blocking: boolean,
): Promise<{ files: TorrentFile[]; checked: Promise<void> }> {
  const changed = (what: string): never => {
    throw new AacseedError(
      'changed-since-scan',
      `${what} changed since it was cataloged; run aacseed scan before making its torrent`,
      { path: dataPath },
    )
  }
  let st: BigIntStats
  if (blocking) {
    try {
      st = lstatSync(dataPath, { bigint: true })
    } catch {
      st = changed(r.name)
    }
  } else st = await lstat(dataPath, { bigint: true }).catch(() => changed(r.name))
  if (r.kind === 'meta') {
    if (!st.isFile() || `${st.size}:${st.mtimeNs}:${st.ino}` !== r.identity) changed(r.name)
    return { files: releaseTorrentFiles(r, () => catalog.dataFiles(r.id)), checked: Promise.resolve() }
  }
  // The folder's own mtime moves when a file is added, removed or renamed.
  if (!st.isDirectory() || !r.identity.startsWith(`${st.mtimeNs}:${st.ino}:`)) changed(r.name)
  const files = catalog.dataFiles(r.id)
  const compare = (f: (typeof files)[number], fst: BigIntStats | undefined): void => {
    if (fst === undefined || !fst.isFile() || Number(fst.size) !== f.size || fst.mtimeNs !== f.mtimeNs)
      changed(`${r.name}/${f.name}`)
  }
  if (blocking) {
    for (const f of files) {
      let fst: BigIntStats | undefined
      try {
        fst = lstatSync(join(dataPath, f.name), { bigint: true })
      } catch {
        fst = undefined
      }
      compare(f, fst)
    }
    return { files: releaseTorrentFiles(r, () => files), checked: Promise.resolve() }
  }
  // Many at a time: one lstat after another waits a thread-pool round trip each (40 ms for 350
  // files). Batches keep a huge folder from queueing them all.
  const checked = (async () => {
    for (let at = 0; at < files.length; at += STAT_BATCH) {
      await Promise.all(
        files.slice(at, at + STAT_BATCH).map(async (f) => {
          compare(f, await lstat(join(dataPath, f.name), { bigint: true }).catch(() => undefined))
        }),
      )
    }
  })()
  return { files: releaseTorrentFiles(r, () => files), checked }
}
