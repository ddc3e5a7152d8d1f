/**
 * Mirror sync: follow the sources, download the releases not held here, and publish them only
 * once verified. One `run()` is one pass; every step is a state change in `mirror_downloads`,
 * so a pass killed anywhere is finished by the next one.
 *
 *   queued       the .torrent is fetched and checked (`checkUpstreamTorrent`), the disk budget
 *                and free-space reserve are checked, and the engine starts downloading into
 *                `<root>/.aacseed-mirror/partial/<btih>/`, which no scan ever reads;
 *   downloading  the engine reports every piece verified against upstream's hashes;
 *   verifying    the engine lets go of it. Its bytes are proven: the engine checked every
 *                piece against the hashes of a torrent whose infohash is upstream's, and that
 *                torrent's file list was checked against the AAC rules and the list entry before
 *                the download. What is on disk must be exactly that file list (names and sizes,
 *                from the directory, no byte read). Then it is renamed into the root (one rename
 *                on one filesystem: it appears whole or not at all);
 *   placed       the root is scanned (a metadata file's records decompressed and checked: the
 *                one read of its bytes), its torrent written around upstream's info dictionary
 *                (the same infohash; nothing is hashed again), the list published and the engine
 *                seeds it from the root;
 *   done.
 * A release that fails a check (here, or in the root's scan) is `rejected`: its data is moved to
 * `<root>/.aacseed-mirror/rejected/<btih>/` and kept for a human, never published. Network
 * failures are retried: a few times within the pass, then by later passes with growing delays.
 *
 * An opaque torrent a source follows (`kinds = ["other"]`, `groups`) takes the same steps, but
 * no AAC rule applies: its .torrent must be the one its entry names (`checkOpaqueTorrent`); the
 * engine's piece checks against the infohash are its verification; once every piece is in, it
 * is renamed into `<root>/other-torrents/<top group>/<group>/` (src/mirror/other.ts) and, in
 * `placed`, its .torrent is written byte for byte beside ours, the list published with its
 * upstream entry (`publishedOther`) and it is seeded. No catalog, no torrent made again.
 */
import { lstat, mkdir, open, opendir, rename, rm, statfs } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { CatalogStore, MIRROR_WORK_DIR, scan, scanSettings } from '../catalog/index.js'
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { silentLogger, type Engine, type EngineLogger, type EngineTorrentStatus } from '../engines/index.js'
import { AacseedError, ConfigError, errorMessage } from '../errors.js'
import { pathExists } from '../fs.js'
import { backoffDelay } from '../retry.js'
import {
  makeTorrents,
  parseTorrent,
  TorrentStore,
  writeFileAtomic,
  type ParsedTorrent,
  type TorrentFile,
} from '../torrents/index.js'
import { checkEngineView, checkOpaqueTorrent, checkUpstreamTorrent } from './check.js'
import { MirrorError } from './errors.js'
import { displayLocation, fetchBytes, type HostPolicy } from './fetch.js'
import type { OpaqueTorrent, Rejection, UpstreamTorrent } from './list.js'
import { dataIdentity, otherFolder, otherTorrentFileName } from './other.js'
import { globMatcher } from './plan.js'
import {
  fetchOptions,
  hostPolicyFor,
  memorySink,
  readSource,
  readSourceIntoStore,
  sourceLocation,
  torrentLimits,
  type SourceConfig,
} from './sources.js'
import { MirrorStore, type DownloadRow } from './store.js'

/** Under the root, never scanned, on the root's filesystem (so renames are atomic). */

export interface MirrorDeps {
  db: Db
  config: Config
  /** Null for a dry run. */
  engine: Engine | null
  logger?: EngineLogger
  now?: () => Date
  /** Free bytes on the filesystem of `path` (tests replace it). */
  freeBytes?: (path: string) => Promise<number>
  /** Runs `fn` while no other scan or torrent making runs (`serve` shares one lock among its jobs). */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>
  /** After placing releases: publishes the list and hands new torrents to the engine. */
  afterPlace?: () => Promise<void>
  /** The resolver and address rule of the host policy (tests replace them; see `hostPolicyFor`). */
  hosts?: Omit<HostPolicy, 'allowPrivate'>
}

export interface SyncOptions {
  dryRun?: boolean
  /**
   * `always` fetches every source; `due` only those older than `mirror.refresh_minutes`; `never` uses the
   * stored lists.
   */
  refresh?: 'always' | 'due' | 'never'
  signal?: AbortSignal
  /**
   * The engine's start, when it is still under way: awaited only once the lists are read, so a
   * command's start-up and its first list fetch overlap.
   */
  engineReady?: Promise<void>
}

export interface SourceReport {
  name: string
  location: string
  fetched: boolean
  offered: number
  rejected: number
  error: string | null
}

export type DeferReason = 'budget' | 'reserve' | 'max-active' | 'retry-later'

export interface SyncReport {
  dryRun: boolean
  sources: SourceReport[]
  /** Entries of this pass's lists that were rejected. */
  rejectedEntries: Rejection[]
  queued: string[]
  started: string[]
  downloading: Array<{ name: string; bytesPresent: number; totalBytes: number }>
  placed: string[]
  done: string[]
  rejected: Array<{ name: string; code: string; message: string }>
  deferred: Array<{ name: string; reason: DeferReason; detail: string }>
  failed: Array<{ name: string; code: string; message: string }>
  /** Downloads still queued, downloading or waiting to be placed after the pass. */
  pending: number
  inFlight: number
}

/**
 * The root downloads go to: `mirror.root`, else the first catalog root; it must be a catalog root so scans
 * include it.
 */
export function mirrorRoot(config: Config): string {
  const root = config.mirror.root || config.catalog.roots[0]
  if (!root)
    throw new ConfigError(
      'config: mirror.root: no release root to download into: set mirror.root or catalog.roots',
    )
  if (!config.catalog.roots.includes(root))
    throw new ConfigError(
      `config: mirror.root: ${root} is not one of catalog.roots, so it would never be scanned`,
      { field: 'mirror.root' },
    )
  return root
}

export function followedBy(s: SourceConfig): (t: UpstreamTorrent) => boolean {
  const collections = globMatcher(s.collections)
  return (t) =>
    collections(t.collection) &&
    (s.kinds.includes('aac') || s.kinds.includes(t.kind)) &&
    !(s.skip_obsolete && t.obsolete) &&
    !(s.skip_embargo && t.embargo) &&
    !(s.min_bytes > 0 && t.dataSize !== null && t.dataSize < s.min_bytes) &&
    !(s.max_bytes > 0 && (t.dataSize === null || t.dataSize > s.max_bytes))
}

/** An opaque torrent a source follows, as `queueNew` needs it. */
export type FollowedOther = Pick<
  OpaqueTorrent,
  'btih' | 'displayName' | 'topGroup' | 'group' | 'dataSize' | 'obsolete' | 'embargo'
> & { source: string }

/** Whether a source follows an opaque torrent: `other` in its kinds, and its group in `groups`. */
export function followsOther(
  s: SourceConfig,
): (o: Pick<OpaqueTorrent, 'topGroup' | 'group' | 'dataSize' | 'obsolete' | 'embargo'>) => boolean {
  if (!s.kinds.includes('other')) return () => false
  const groups = globMatcher(s.groups)
  return (o) =>
    (groups(o.group) || groups(`${o.topGroup}/${o.group}`)) &&
    !(s.skip_obsolete && o.obsolete) &&
    !(s.skip_embargo && o.embargo) &&
    !(s.min_bytes > 0 && o.dataSize !== null && o.dataSize < s.min_bytes) &&
    !(s.max_bytes > 0 && (o.dataSize === null || o.dataSize > s.max_bytes))
}

async function statfsFree(path: string): Promise<number> {
  const s = await statfs(path)
  return s.bavail * s.bsize
}

const MAX_RETRY_DELAY_MS = 6 * 3600_000
/** Attempts of one download's steps before it is rejected (with backoff: about a day in all). */
export const MAX_DOWNLOAD_ATTEMPTS = 10

interface PassState {
  /** Bytes of the releases in the mirror root at the start of the pass. */
  heldBytes: number
  /** .torrent fetches that failed in this pass. */
  fetchFailures: number
}

export class MirrorSync {
  readonly store: MirrorStore
  private readonly log: EngineLogger
  private readonly now: () => Date
  private readonly freeBytes: (path: string) => Promise<number>
  private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>
  /** .torrent bytes fetched while the engine starts, by btih (see `prefetchTorrents`). */
  private readonly prefetched = new Map<string, { url: string; bytes: Promise<Buffer> }>()

  constructor(private readonly deps: MirrorDeps) {
    this.store = new MirrorStore(deps.db)
    this.log = deps.logger ?? silentLogger
    this.now = deps.now ?? (() => new Date())
    this.freeBytes = deps.freeBytes ?? statfsFree
    this.exclusive = deps.exclusive ?? ((fn) => fn())
  }

  private get settings(): Config['mirror'] {
    return this.deps.config.mirror
  }

  private stamp(): string {
    return this.now().toISOString()
  }

  async run(opts: SyncOptions = {}): Promise<SyncReport> {
    const root = mirrorRoot(this.deps.config)
    const dryRun = opts.dryRun === true
    const report: SyncReport = {
      dryRun,
      sources: [],
      rejectedEntries: [],
      queued: [],
      started: [],
      downloading: [],
      placed: [],
      done: [],
      rejected: [],
      deferred: [],
      failed: [],
      pending: 0,
      inFlight: 0,
    }
    const fetched = await this.refreshSources(opts.refresh ?? 'always', dryRun, opts.signal)
    if (fetched.sources.some((s) => s.fetched))
      this.log.debug?.({ sources: fetched.sources.length }, 'mirror: lists read')
    report.sources = fetched.sources
    report.rejectedEntries = fetched.rejected
    const offered = fetched.followed
    this.queueNew(offered, fetched.followedOther, root, report, dryRun)
    if (dryRun) {
      await this.simulateStarts(report, root, [
        ...offered,
        ...fetched.followedOther.map((o) => ({ name: otherName(o), dataSize: o.dataSize })),
      ])
      return report
    }
    const engine = this.deps.engine
    if (!engine) throw new Error('MirrorSync.run needs an engine unless it is a dry run')
    if (opts.engineReady) {
      this.prefetchTorrents(opts.signal)
    }
    try {
      await this.runWithEngine(engine, root, report, opts)
    } finally {
      // A .torrent not taken (its download held back) is fetched again when that download is due.
      this.prefetched.clear()
    }
    return report
  }

  /**
   * The .torrent files the first downloads of this pass will fetch, fetched while the engine
   * still starts (`engineReady`: the command's first pass, beside loading webtorrent, most of
   * `mirror sync`'s start-up, #14 §1), rather than one after another once it listens. Only the
   * bytes: `fetchTorrent` takes them in its turn and checks them as it checks any, so a failure
   * is reported there, as before. The downloads that may start are the first `max_active` of
   * the queue less those in flight; the budget is not asked yet (it needs the engine), so a
   * download it then holds back cost one small fetch of its .torrent, no state.
   */
  private prefetchTorrents(signal?: AbortSignal): void {
    const room = this.settings.max_active - this.store.downloads(['downloading', 'verifying']).length
    if (room <= 0) return
    const now = this.stamp()
    for (const row of this.store.downloads(['queued']).slice(0, room)) {
      if (row.torrent !== null || row.kind === 'other') continue
      if (row.nextAttemptAt !== null && row.nextAttemptAt > now) continue
      const up = this.store.upstreamByBtih(row.btih).find((u) => u.torrentUrl !== null)
      if (!up) continue
      const bytes = this.hostsOf(up.source).then((hosts) =>
        fetchBytes(up.torrentUrl!, {
          ...fetchOptions(this.settings, this.settings.max_torrent_bytes, signal),
          ...hosts,
        }),
      )
      bytes.catch(() => undefined)
      this.prefetched.set(row.btih, { url: up.torrentUrl!, bytes })
    }
  }

  private async runWithEngine(
    engine: Engine,
    root: string,
    report: SyncReport,
    opts: SyncOptions,
  ): Promise<void> {
    await opts.engineReady
    const statuses = new Map((await engine.list()).map((s) => [s.infoHash, s]))
    for (const row of this.store.downloads(['downloading'])) {
      if (opts.signal?.aborted) break
      await this.advance(row, statuses.get(row.btih), report, opts.signal)
    }
    for (const row of this.store.downloads(['verifying'])) {
      // A verification that failed waits for its next attempt like every other step.
      if (row.nextAttemptAt !== null && row.nextAttemptAt > this.stamp()) continue
      if (opts.signal?.aborted) break
      await this.verify(row, report, opts.signal)
    }
    // What the root holds now: read once per pass, not once per queued download.
    const pass: PassState = { heldBytes: this.rootBytes(root), fetchFailures: 0 }
    for (const row of this.store.downloads(['queued'])) {
      if (opts.signal?.aborted) break
      await this.start(row, pass, statuses, report, opts.signal)
    }
    const placed = this.store.downloads(['placed'])
    if (placed.length > 0 && !opts.signal?.aborted) {
      try {
        await this.finish(placed, root, report, opts.signal)
      } catch (e) {
        // Stopped mid-scan or mid-make: the rows stay `placed`, and the next pass finishes them.
        if (!(opts.signal?.aborted && isAbort(e))) throw e
        this.log.info({ releases: placed.length }, 'mirror: stopped before placed releases were published')
      }
    }
    report.pending = this.store.downloads(['queued']).length
    report.inFlight = this.store.downloads(['downloading', 'verifying', 'placed']).length
  }

  // ---- sources ----------------------------------------------------------------------------

  /**
   * Fetches the sources that are due and stores what they list (not in a dry run). Returns each
   * source's report, the entries rejected now, and the torrents the sources' filters follow
   * (from the stored list when a source was not fetched or failed). `follow: false` (a caller
   * that only wants the lists stored) skips finding those, and reports what each source offers
   * from its stored row: at a million entries, counting them again costs seconds.
   */
  async refreshSources(
    refresh: 'always' | 'due' | 'never',
    dryRun = false,
    signal?: AbortSignal,
    follow = true,
  ): Promise<{
    sources: SourceReport[]
    rejected: Rejection[]
    followed: Array<UpstreamTorrent & { source: string }>
    followedOther: FollowedOther[]
  }> {
    const followed: Array<UpstreamTorrent & { source: string }> = []
    const followedOther: FollowedOther[] = []
    const sources: SourceReport[] = []
    const rejected: Rejection[] = []
    const stored = new Map(this.store.sources().map((s) => [s.name, s]))
    for (const s of this.settings.sources) {
      const location = sourceLocation(s)
      const last = stored.get(s.name)
      const due =
        refresh === 'always' ||
        (refresh === 'due' &&
          (!last?.fetchedAt ||
            this.now().getTime() - Date.parse(last.fetchedAt) >= this.settings.refresh_minutes * 60_000 ||
            last.location !== location))
      const entry: SourceReport = {
        name: s.name,
        location: displayLocation(location),
        fetched: false,
        offered: 0,
        rejected: 0,
        error: null,
      }
      let fresh: UpstreamTorrent[] | null = null
      let freshOther: OpaqueTorrent[] | null = null
      if (due) {
        try {
          let sourceRejections: Rejection[]
          if (dryRun) {
            const parsed = await readSource(s, this.settings, () => memorySink(s.name), signal)
            fresh = parsed.torrents
            freshOther = parsed.opaque
            sourceRejections = parsed.rejected
          } else {
            await readSourceIntoStore(s, this.settings, this.store, this.stamp(), signal)
            sourceRejections = this.store.rejections(s.name)
          }
          entry.fetched = true
          entry.rejected = sourceRejections.length
          rejected.push(...sourceRejections)
          // One line per source: a real list may reject thousands of entries on every fetch.
          if (sourceRejections.length > 0) {
            const byCode: Record<string, number> = {}
            for (const r of sourceRejections) byCode[r.code] = (byCode[r.code] ?? 0) + 1
            this.log.warn(
              {
                source: s.name,
                rejected: byCode,
                first: `${sourceRejections[0]!.entry}: ${sourceRejections[0]!.message}`,
              },
              `mirror: ${sourceRejections.length} list entries rejected (aacseed mirror sources lists them)`,
            )
          }
        } catch (e) {
          entry.error = errorMessage(e)
          if (!dryRun) this.store.recordSourceError(s.name, location, entry.error, this.stamp())
          this.log.warn(
            { source: s.name, err: entry.error },
            'mirror: cannot read the source; using its last list',
          )
        }
      }
      if (!follow) {
        entry.offered = fresh?.length ?? this.store.source(s.name)?.offered ?? 0
        sources.push(entry)
        continue
      }
      const follows = followedBy(s)
      let offered = 0
      const visit = (t: UpstreamTorrent): void => {
        offered++
        if (follows(t)) followed.push({ ...t, source: s.name })
      }
      if (fresh) fresh.forEach(visit)
      else {
        // Counted in SQLite; row objects only for the collections the source follows (building
        // one for each of a million entries cost seconds).
        const counts = await this.store.upstreamCollections(s.name)
        const wanted = [...counts.keys()].filter(globMatcher(s.collections))
        for (const n of counts.values()) offered += n
        if (wanted.length > 0)
          await this.store.eachUpstream(
            s.name,
            (t) => {
              if (follows(t)) followed.push({ ...t, source: s.name })
            },
            { collections: wanted },
          )
      }
      const other = followsOther(s)
      // Only for a source that follows opaque torrents: a real list holds tens of thousands.
      if (s.kinds.includes('other'))
        for (const o of freshOther ?? this.store.opaque({ source: s.name }))
          if (other(o)) followedOther.push({ ...o, source: s.name })
      entry.offered = offered
      sources.push(entry)
    }
    return { sources, rejected, followed, followedOther }
  }

  /** Names of releases this machine holds or is getting: cataloged anywhere, torrented, or downloading. */
  private heldNames(): Set<string> {
    const names = new Set<string>()
    for (const r of new CatalogStore(this.deps.db).releases()) names.add(r.name)
    for (const t of new TorrentStore(this.deps.db).all()) names.add(t.name)
    for (const d of this.store.downloads()) names.add(d.name)
    return names
  }

  private queueNew(
    offered: Array<UpstreamTorrent & { source: string }>,
    others: readonly FollowedOther[],
    root: string,
    report: SyncReport,
    dryRun: boolean,
  ): void {
    const held = this.heldNames()
    // An opaque torrent is known by its btih (display names repeat across groups).
    const heldBtih = new Set<string>(new TorrentStore(this.deps.db).all().map((t) => t.infohash))
    for (const d of this.store.downloads()) heldBtih.add(d.btih)
    // Metadata first: it is small, and it says what the data is.
    const order = [...offered].sort(
      (a, b) =>
        Number(a.kind === 'data') - Number(b.kind === 'data') ||
        cmp(a.collection, b.collection) ||
        a.fromS - b.fromS ||
        cmp(a.name, b.name),
    )
    const at = this.stamp()
    // One transaction: a first sync of a large list queues thousands.
    this.deps.db.transaction(() => {
      for (const t of order) {
        if (held.has(t.name)) continue
        held.add(t.name)
        if (dryRun || this.store.queue({ ...t, wantedBy: 'sync', root }, at)) report.queued.push(t.name)
      }
      // After the AAC releases: what the archive's own standard describes comes first.
      for (const o of others) {
        if (heldBtih.has(o.btih)) continue
        heldBtih.add(o.btih)
        const name = otherName(o)
        if (
          dryRun ||
          this.store.queue(
            {
              btih: o.btih,
              name,
              kind: 'other',
              collection: '',
              dataSize: o.dataSize,
              source: o.source,
              wantedBy: 'sync',
              root,
              topGroup: o.topGroup,
              group: o.group,
            },
            at,
          )
        )
          report.queued.push(name)
      }
    })()
  }

  // ---- downloads --------------------------------------------------------------------------

  private staging(row: Pick<DownloadRow, 'root' | 'btih'>, what: 'partial' | 'rejected'): string {
    return join(row.root, MIRROR_WORK_DIR, what, row.btih)
  }

  /** Hands a download to the engine; adding it again resumes it (what is on disk is verified and kept). */
  private async download(row: DownloadRow, torrent: Buffer): Promise<void> {
    const dataDir = this.staging(row, 'partial')
    const parsed = parseTorrent(torrent, torrentLimits(this.settings))
    await this.deps.engine!.add({
      torrent,
      infoHash: row.btih,
      // An opaque torrent's report name is its display name; the engine needs the one it writes.
      name: row.kind === 'other' ? parsed.name : row.name,
      dataDir,
      verify: true,
      download: true,
      // Nothing staged yet. Told so, webtorrent does not try to read every piece of the missing
      // files before it requests the first one (2,048 failed reads for the 2 GiB benchmark
      // release, #14 §1).
      ...((await pathExists(dataDir)) ? {} : { absent: { pieceCount: parsed.pieceCount } }),
      labels: ['aacseed-mirror'],
    })
  }

  private retryAt(attempts: number): string {
    const delay = backoffDelay(attempts + 1, {
      baseMs: Math.max(60_000, this.settings.retry_base_ms),
      maxMs: MAX_RETRY_DELAY_MS,
    })
    return new Date(this.now().getTime() + delay).toISOString()
  }

  /**
   * A failure of one step, retried later with backoff (`retryAt`) within a bound: a failure
   * that is not a network one and repeats exactly (the same code and message twice) is
   * deterministic, and after `MAX_DOWNLOAD_ATTEMPTS` any failure is final. Both end in
   * `rejected` with the reason, so no row waits for ever in a state that cannot move.
   */
  private fail(row: DownloadRow, e: unknown, report: SyncReport): void {
    const code = e instanceof AacseedError ? e.code : 'download-failed'
    const message = errorMessage(e)
    const transient = e instanceof MirrorError && e.transient
    const repeated = !transient && row.errorCode === code && row.error === message
    if (repeated || row.attempts + 1 >= MAX_DOWNLOAD_ATTEMPTS) {
      const why = repeated
        ? `${message} (the same failure twice: retrying cannot help)`
        : `${message} (failed ${row.attempts + 1} times; the limit is ${MAX_DOWNLOAD_ATTEMPTS})`
      this.store.reject(row.btih, code, why, this.stamp())
      report.rejected.push({ name: row.name, code, message: why })
      this.log.error({ release: row.name, code, err: why }, 'mirror: rejected; not published')
      return
    }
    this.store.recordFailure(row.btih, code, message, this.retryAt(row.attempts), this.stamp())
    report.failed.push({ name: row.name, code, message })
    this.log.warn({ release: row.name, code, err: message }, 'mirror: will retry')
  }

  private async rejectRow(
    row: DownloadRow,
    code: string,
    message: string,
    report: SyncReport,
    keepAside: string | null,
  ): Promise<void> {
    if (keepAside !== null) await this.moveAside(row, keepAside)
    this.store.reject(row.btih, code, message, this.stamp())
    report.rejected.push({ name: row.name, code, message })
    this.log.error({ release: row.name, code, err: message }, 'mirror: rejected; not published')
  }

  /** Moves data to `rejected/<btih>/`, kept for a human to look at. */
  private async moveAside(row: DownloadRow, path: string): Promise<void> {
    const dest = join(this.staging(row, 'rejected'), row.name)
    await mkdir(dirname(dest), { recursive: true })
    await rm(dest, { recursive: true, force: true })
    await rename(path, dest).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e
    })
  }

  private rootBytes(root: string): number {
    return (
      new CatalogStore(this.deps.db)
        .releases()
        .filter((r) => r.root === root)
        .reduce((s, r) => s + r.bytes, 0) + this.store.otherBytesIn(root)
    )
  }

  private async start(
    row: DownloadRow,
    pass: PassState,
    statuses: Map<string, EngineTorrentStatus>,
    report: SyncReport,
    signal?: AbortSignal,
  ): Promise<void> {
    if (row.nextAttemptAt !== null && row.nextAttemptAt > this.stamp()) {
      report.deferred.push({
        name: row.name,
        reason: 'retry-later',
        detail: `after ${row.nextAttemptAt}: ${row.error ?? ''}`,
      })
      return
    }
    const active = this.store.downloads(['downloading', 'verifying'])
    if (active.length >= this.settings.max_active) {
      report.deferred.push({
        name: row.name,
        reason: 'max-active',
        detail: `${active.length} downloads in flight (mirror.max_active)`,
      })
      return
    }
    // The list's size first: a download that cannot fit is not worth fetching its .torrent for.
    if (row.totalSize !== null) {
      const refusal = await this.budgetRefusal(row.totalSize, row.root, pass.heldBytes, active, statuses)
      if (refusal) {
        report.deferred.push({ name: row.name, ...refusal })
        return
      }
    }
    let torrent = row.torrent
    if (torrent === null) {
      // A dead upstream must not cost every queued download its retries in one pass.
      if (pass.fetchFailures >= this.settings.max_active) {
        report.deferred.push({
          name: row.name,
          reason: 'retry-later',
          detail: `${pass.fetchFailures} .torrent fetches failed in this pass`,
        })
        return
      }
      const failedBefore = report.failed.length
      const got = await this.fetchTorrent(row, report, signal)
      if (got === null) {
        // Only failures count (a rejected .torrent says nothing about the upstream's health).
        if (report.failed.length > failedBefore) pass.fetchFailures++
        return
      }
      torrent = got
      this.log.debug?.({ release: row.name }, 'mirror: .torrent fetched and checked')
    }
    const size = parseTorrent(torrent, torrentLimits(this.settings)).totalSize
    const refusal = await this.budgetRefusal(size, row.root, pass.heldBytes, active, statuses)
    if (refusal) {
      report.deferred.push({ name: row.name, ...refusal })
      return
    }
    try {
      await this.download(row, torrent)
    } catch (e) {
      this.fail(row, e, report)
      return
    }
    this.store.setState(row.btih, 'downloading', this.stamp())
    report.started.push(row.name)
    this.log.info({ release: row.name, bytes: size }, 'mirror: download started')
  }

  /** A .torrent's bytes: the prefetched ones if this URL was prefetched (`prefetchTorrents`), else fetched now. */
  private async torrentBytes(
    btih: string,
    url: string,
    source: string,
    signal?: AbortSignal,
  ): Promise<Buffer> {
    const early = this.prefetched.get(btih)
    this.prefetched.delete(btih)
    if (early?.url === url) return await early.bytes
    return await fetchBytes(url, {
      ...fetchOptions(this.settings, this.settings.max_torrent_bytes, signal),
      ...(await this.hostsOf(source)),
    })
  }

  /** The host policy for URLs `source` lists, as `FetchOptions` (none: any host). */
  private async hostsOf(source: string): Promise<{ hosts?: HostPolicy }> {
    const s = this.settings.sources.find((x) => x.name === source)
    const hosts = await hostPolicyFor(s, this.settings, this.deps.hosts)
    return hosts ? { hosts } : {}
  }

  /** Fetches and checks the .torrent; null when it failed (recorded as a failure or a rejection). */
  private async fetchTorrent(
    row: DownloadRow,
    report: SyncReport,
    signal?: AbortSignal,
  ): Promise<Buffer | null> {
    const other = row.kind === 'other'
    const candidates: ReadonlyArray<{ source: string; torrentUrl: string | null; magnet: string | null }> =
      other ? this.store.opaqueByBtih(row.btih) : this.store.upstreamByBtih(row.btih)
    const up =
      candidates.find((u) => u.torrentUrl !== null) ??
      candidates.find((u) => u.magnet !== null) ??
      candidates[0]
    const engine = this.deps.engine!
    const fromMagnet =
      up !== undefined && up.torrentUrl === null && up.magnet !== null && engine.fetchMetadata !== undefined
    if (!up || (up.torrentUrl === null && !fromMagnet)) {
      await this.rejectRow(
        row,
        'no-torrent-source',
        `no source lists a .torrent URL for ${row.name}${up?.magnet ? ` (only a magnet link, and the ${engine.kind} engine cannot resolve one)` : ''}`,
        report,
        null,
      )
      return null
    }
    let bytes: Buffer
    try {
      bytes = fromMagnet
        ? await engine.fetchMetadata!(up.magnet!, row.btih, {
            timeoutMs: this.settings.timeout_ms,
            dataDir: this.staging(row, 'partial'),
          })
        : await this.torrentBytes(row.btih, up.torrentUrl!, up.source, signal)
    } catch (e) {
      if (e instanceof MirrorError && !e.transient)
        await this.rejectRow(row, e.code, `${up.source}: ${e.message}`, report, null)
      else this.fail(row, e, report)
      return null
    }
    try {
      const t = other
        ? checkOpaqueTorrent(
            bytes,
            { btih: row.btih, dataSize: row.totalSize, label: row.name },
            torrentLimits(this.settings),
          )
        : checkUpstreamTorrent(
            bytes,
            {
              btih: row.btih,
              name: row.name,
              kind: row.kind === 'meta' ? 'meta' : 'data',
              dataSize: row.totalSize,
            },
            torrentLimits(this.settings),
          )
      await checkEngineView(bytes, t, { remade: !other })
      this.store.setTorrent(
        row.btih,
        bytes,
        {
          totalSize: t.totalSize,
          pieceLength: t.pieceLength,
          private: t.private,
          source: t.source,
          announce: t.announce,
        },
        this.stamp(),
      )
      return bytes
    } catch (e) {
      await this.rejectRow(
        row,
        e instanceof AacseedError ? e.code : 'torrent-mismatch',
        `${up.source}: ${up.torrentUrl ? displayLocation(up.torrentUrl) : 'magnet'}: ${errorMessage(e)}`,
        report,
        null,
      )
      return null
    }
  }

  /** Why a download of `size` bytes may not start now, or null. */
  private async budgetRefusal(
    size: number,
    root: string,
    held: number,
    active: DownloadRow[],
    statuses: Map<string, EngineTorrentStatus>,
  ): Promise<{ reason: DeferReason; detail: string } | null> {
    const inFlight = this.store.downloads(['downloading', 'verifying', 'placed'])
    if (this.settings.budget_bytes > 0) {
      const reserved = inFlight.reduce((s, d) => s + (d.totalSize ?? 0), 0)
      if (held + reserved + size > this.settings.budget_bytes) {
        return {
          reason: 'budget',
          detail: `${held} bytes held + ${reserved} downloading + ${size} > mirror.budget_bytes ${this.settings.budget_bytes}`,
        }
      }
    }
    const free = await this.freeBytes(root)
    const toCome = active.reduce(
      (s, d) => s + Math.max(0, (d.totalSize ?? 0) - (statuses.get(d.btih)?.bytesPresent ?? 0)),
      0,
    )
    if (free - toCome - size < this.settings.reserve_bytes) {
      return {
        reason: 'reserve',
        detail: `${free} bytes free − ${toCome} still to download − ${size} < mirror.reserve_bytes ${this.settings.reserve_bytes}`,
      }
    }
    return null
  }

  private async simulateStarts(
    report: SyncReport,
    root: string,
    offered: ReadonlyArray<Pick<UpstreamTorrent, 'name' | 'dataSize'>>,
  ): Promise<void> {
    // A dry run shows what a real pass would start, by the sizes the lists give.
    const sizes = new Map(offered.map((t) => [t.name, t.dataSize]))
    let committed = 0
    const held = this.rootBytes(root)
    const free = await this.freeBytes(root).catch(() => Number.POSITIVE_INFINITY)
    for (const name of report.queued) {
      const size = sizes.get(name) ?? 0
      if (this.settings.budget_bytes > 0 && held + committed + size > this.settings.budget_bytes)
        report.deferred.push({
          name,
          reason: 'budget',
          detail: `would exceed mirror.budget_bytes ${this.settings.budget_bytes}`,
        })
      else if (free - committed - size < this.settings.reserve_bytes)
        report.deferred.push({
          name,
          reason: 'reserve',
          detail: `would leave less than mirror.reserve_bytes ${this.settings.reserve_bytes} free`,
        })
      else {
        committed += size
        report.started.push(name)
      }
    }
  }

  private async advance(
    row: DownloadRow,
    status: EngineTorrentStatus | undefined,
    report: SyncReport,
    signal?: AbortSignal,
  ): Promise<void> {
    const engine = this.deps.engine!
    if (status === undefined || status.state === 'error') {
      if (status?.state === 'error') {
        await engine.remove(row.btih).catch(() => {})
        this.fail(
          row,
          new MirrorError(
            'download-failed',
            `the engine reports ${row.name} in error: ${status.error ?? 'unknown'}`,
          ),
          report,
        )
        return
      }
      if (row.nextAttemptAt !== null && row.nextAttemptAt > this.stamp()) return
      // The engine restarted (or lost it): add it again; what is on disk is verified and kept.
      try {
        await this.download(row, row.torrent!)
        this.log.info({ release: row.name }, 'mirror: download resumed')
      } catch (e) {
        this.fail(row, e, report)
      }
      return
    }
    if (status.totalBytes > 0 && status.bytesPresent === status.totalBytes && status.state !== 'checking') {
      this.store.setState(row.btih, 'verifying', this.stamp())
      this.log.debug?.(
        { release: row.name, bytes: status.totalBytes, io: processIo() },
        'mirror: downloaded and verified by the engine; checking its files',
      )
      await this.verify({ ...row, state: 'verifying' }, report, signal)
      return
    }
    report.downloading.push({
      name: row.name,
      bytesPresent: status.bytesPresent,
      totalBytes: status.totalBytes,
    })
  }

  /**
   * The staged download is gone: either a previous pass renamed it into place before it could
   * record that (then it is placed), or something removed it (then it is downloaded again).
   * Returns false when it is still there.
   */
  private async stagedVanished(
    row: DownloadRow,
    staged: string,
    target: string,
    before: 'verified' | 'placed',
    report: SyncReport,
  ): Promise<boolean> {
    if (await pathExists(staged)) return false
    if (await pathExists(target)) {
      this.store.setState(row.btih, 'placed', this.stamp())
      return true
    }
    this.store.setState(row.btih, 'downloading', this.stamp())
    this.fail(
      row,
      new MirrorError('download-failed', `${staged} vanished before it was ${before}; downloading again`),
      report,
    )
    return true
  }

  private async verify(row: DownloadRow, report: SyncReport, signal?: AbortSignal): Promise<void> {
    if (row.kind === 'other') return this.placeOther(row, report)
    const staged = join(this.staging(row, 'partial'), row.name)
    const target = join(row.root, row.name)
    if (await this.stagedVanished(row, staged, target, 'verified', report)) return
    await this.deps.engine!.remove(row.btih).catch(() => {})
    const parsed = parseTorrent(row.torrent!, torrentLimits(this.settings))
    try {
      await createEmptyFiles(staged, parsed.kind === 'folder' ? parsed.files : [])
      // The bytes are proven (every piece verified against upstream's hashes); what is on disk
      // must be exactly the files the torrent lists, and nothing else.
      const stray = await unlistedOnDisk(staged, parsed, signal)
      if (stray !== null) {
        await this.rejectRow(
          row,
          'release-invalid',
          `${row.name}: ${stray}; the release is exactly the files of its torrent`,
          report,
          staged,
        )
        return
      }
      if (await pathExists(target)) {
        await this.rejectRow(
          row,
          'name-taken',
          `${target} already exists; the download is kept aside`,
          report,
          staged,
        )
        return
      }
      await rename(staged, target)
    } catch (e) {
      // Stopped: the row stays `verifying` and the next pass checks it again.
      if (signal?.aborted && isAbort(e)) return
      // Our own I/O failing (disk full, permissions) is not a verdict on the release: retry.
      this.fail(row, e, report)
      return
    }
    await rm(this.staging(row, 'partial'), { recursive: true, force: true })
    this.store.setState(row.btih, 'placed', this.stamp())
    report.placed.push(row.name)
    this.log.info({ release: row.name }, 'mirror: verified and placed in the release root')
  }

  /**
   * An opaque torrent the engine holds whole, every piece checked against its infohash (its only
   * verification): renamed from staging into its group's folder, in one step.
   */
  private async placeOther(row: DownloadRow, report: SyncReport): Promise<void> {
    const parsed = parseTorrent(row.torrent!, torrentLimits(this.settings))
    const staged = join(this.staging(row, 'partial'), parsed.name)
    let target: string
    try {
      target = join(otherFolder(row.root, row.topGroup, row.group), parsed.name)
    } catch (e) {
      await this.rejectRow(row, 'entry-invalid', errorMessage(e), report, staged)
      return
    }
    if (await this.stagedVanished(row, staged, target, 'placed', report)) return
    await this.deps.engine!.remove(row.btih).catch(() => {})
    try {
      await createEmptyFiles(staged, parsed.kind === 'folder' ? parsed.files : [])
      if (await pathExists(target)) {
        await this.rejectRow(
          row,
          'name-taken',
          `${target} already exists (another torrent of the group by the same name); the download is kept aside`,
          report,
          staged,
        )
        await rm(this.staging(row, 'partial'), { recursive: true, force: true })
        return
      }
      await mkdir(dirname(target), { recursive: true })
      await rename(staged, target)
    } catch (e) {
      this.fail(row, e, report)
      return
    }
    await rm(this.staging(row, 'partial'), { recursive: true, force: true })
    this.store.setDataIdentity(row.btih, await dataIdentity(target), this.stamp())
    this.store.setState(row.btih, 'placed', this.stamp())
    report.placed.push(row.name)
    this.log.info(
      { torrent: row.name, path: target },
      'mirror: complete (pieces checked by the engine) and placed',
    )
  }

  /**
   * Scans the root, makes the torrents (upstream's shape), and checks each placed release came out as
   * upstream's torrent.
   */
  private async finish(
    placed: DownloadRow[],
    root: string,
    report: SyncReport,
    signal?: AbortSignal,
  ): Promise<void> {
    const { db, config } = this.deps
    // Opaque torrents are not cataloged or torrented again: upstream's .torrent is published as it is.
    const others = placed.filter((r) => r.kind === 'other')
    placed = placed.filter((r) => r.kind !== 'other')
    for (const row of others) {
      const file = join(config.torrents.out_dir, otherTorrentFileName(row.btih))
      await mkdir(config.torrents.out_dir, { recursive: true })
      await writeFileAtomic(file, row.torrent!, 0o644, 'an upstream .torrent')
    }
    const good: DownloadRow[] = [...others]
    if (placed.length === 0) {
      await this.deps.afterPlace?.()
      for (const row of good) {
        this.store.setState(row.btih, 'done', this.stamp())
        report.done.push(row.name)
      }
      return
    }
    const shapes = this.store.torrentShapes()
    // One scan of the root reads each placed release once (a metadata file's records; a data
    // folder's names and sizes); the torrents are written around upstream's info dictionaries.
    const { scanned, made } = await this.exclusive(async () => {
      const scanned = await scan({
        db,
        roots: [root],
        ...scanSettings(config.catalog),
        ...(signal ? { signal } : {}),
      })
      const made = await makeTorrents({
        db,
        torrents: config.torrents,
        shapeOf: (name) => shapes.get(name),
        ...(signal ? { signal } : {}),
      })
      return { scanned, made }
    })
    const torrents = new TorrentStore(db)
    let movedAside = false
    for (const row of placed) {
      const t = torrents.byName(row.name)
      if (t && t.infohash === row.btih) {
        good.push(row)
        continue
      }
      // The release's own records, and checks between releases (an overlap with other records, a
      // conflict), show in the root's scan; a file list unlike upstream's, in the torrent making.
      const problems = [...scanned.problems, ...made.problems].filter(
        (p) => p.path === row.name || p.path.startsWith(row.name + '/'),
      )
      const why = t
        ? `its torrent has infohash ${t.infohash}, not upstream's ${row.btih}`
        : problems.length > 0
          ? `the catalog found: ${problems
              .slice(0, 3)
              .map((p) => `${p.code}: ${p.message}`)
              .join('; ')}`
          : 'no torrent was made for it'
      await this.rejectRow(
        row,
        t ? 'infohash-mismatch' : 'release-invalid',
        `${row.name} in ${root}: ${why}`,
        report,
        join(root, row.name),
      )
      movedAside = true
    }
    if (movedAside) {
      await this.exclusive(async () => {
        // Names and sizes only: what was read stays cataloged, the releases set aside are forgotten.
        await scan({ db, roots: [root], ...scanSettings(config.catalog), ...(signal ? { signal } : {}) })
        // A torrent made for a release now set aside must not stay in the list.
        for (const r of report.rejected) {
          const gone = torrents.removeByName(r.name)
          if (gone) await rm(gone.torrentPath, { force: true })
        }
      })
    }
    // `done` means published: the list is written first, so a reader that sees `done` finds the
    // release in the list, and a pass killed in between finishes it on the next pass.
    await this.deps.afterPlace?.()
    for (const row of good) {
      this.store.setState(row.btih, 'done', this.stamp())
      report.done.push(row.name)
    }
    if (good.length > 0)
      this.log.debug?.({ releases: good.map((r) => r.name), io: processIo() }, 'mirror: published')
  }
}

/** An opaque torrent's name in reports: its display name without `.torrent`. */
function otherName(o: Pick<OpaqueTorrent, 'displayName'>): string {
  return o.displayName.replace(/\.torrent$/, '')
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * Engines never write a zero-length file (there is no piece to write): make them, or the folder is not the
 * release.
 */
async function createEmptyFiles(folder: string, files: readonly TorrentFile[]): Promise<void> {
  for (const f of files) {
    if (f.length !== 0) continue
    const path = join(folder, ...f.path.split('/'))
    await mkdir(dirname(path), { recursive: true })
    await (await open(path, 'a')).close()
  }
}

function isAbort(e: unknown): boolean {
  return (
    (e instanceof AacseedError && e.code === 'aborted') || (e instanceof Error && e.name === 'AbortError')
  )
}

/**
 * What is on disk beyond or unlike the torrent's files, or null: its names and sizes only,
 * from the directory (no byte is read). A stray file would be published as part of the release.
 */
async function unlistedOnDisk(
  path: string,
  parsed: ParsedTorrent,
  signal?: AbortSignal,
): Promise<string | null> {
  const describe = (st: { isFile(): boolean; isDirectory(): boolean }): string =>
    st.isDirectory() ? 'a folder' : 'not a regular file'
  if (parsed.kind === 'file') {
    const st = await lstat(path)
    if (!st.isFile()) return `${parsed.name} is ${describe(st)}`
    if (st.size !== parsed.totalSize) return `${parsed.name} holds ${st.size} bytes, not ${parsed.totalSize}`
    return null
  }
  const listed = new Map(parsed.files.map((f) => [f.path, f.length]))
  let seen = 0
  // A data folder may hold hundreds of thousands of files: streamed, and the stop signal heard.
  for await (const ent of await opendir(path, { bufferSize: 256 })) {
    if (++seen % 4096 === 0) signal?.throwIfAborted()
    const st = await lstat(join(path, ent.name))
    const length = listed.get(ent.name)
    if (length === undefined) return `it holds ${ent.name}, which its torrent does not list`
    if (!st.isFile()) return `${ent.name} is ${describe(st)}`
    if (st.size !== length) return `${ent.name} holds ${st.size} bytes, not ${length}`
  }
  if (seen !== listed.size) return `${listed.size - seen} of its files are missing`
  return null
}

/**
 * This process's I/O counters from /proc/self/io (Linux; null elsewhere): `rchar` counts every
 * byte read by a system call (page cache hits too), `read_bytes` only what came from the disk.
 * Logged with the steps of a mirrored release, so the cost of each can be read off a log.
 */
function processIo(): { rchar: number; read_bytes: number } | null {
  try {
    const text = readFileSync('/proc/self/io', 'utf8')
    const field = (k: string): number => Number(new RegExp(`^${k}: (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)
    return { rchar: field('rchar'), read_bytes: field('read_bytes') }
  } catch {
    return null
  }
}
