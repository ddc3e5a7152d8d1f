/**
 * SQL for the mirror's tables (migration 006).
 *
 * mirror_sources     one row per configured source: where its list is, when it was last
 *                    fetched and last fetched fine, the last error, and how many entries it
 *                    offered and how many were rejected.
 * upstream_torrents  every torrent a source listed, keyed by (source, btih): the parsed
 *                    release (name, kind, collection, range), where its .torrent is, the
 *                    list's size and swarm figures, `first_seen_at` / `last_seen_at`, and
 *                    `listed` (still in the source's latest list).
 * upstream_opaque    (migration 008) every opaque torrent a source listed (an entry that is not an
 *                    AAC release), keyed by (source, btih): display name, groups, .torrent URL and
 *                    magnet, the list's sizes, swarm figures, dates and flags, and the entry as
 *                    upstream wrote it (`entry`, JSON), with `first_seen_at` / `last_seen_at` / `listed`.
 *                    upstream_torrents gained each AAC release's `top_group` and `group_name`.
 * mirror_rejections  the entries the latest fetch of each source rejected, with the reason.
 * mirror_downloads   one row per release being (or once) mirrored, keyed by btih, moving
 *                    queued → downloading → verifying → placed → done, or to rejected. It
 *                    keeps the checked .torrent, its piece length, private flag and source
 *                    tag (to make the same torrent again), retry bookkeeping and the error.
 *                    (migration 011) Opaque torrents too: kind `other`, no collection (''),
 *                    their groups (`top_group`, `group_name`: the folder they go into) and the
 *                    identity of their data once placed (`data_identity`).
 */
import type { Db } from '../db/index.js'
import type { TorrentShape } from '../torrents/index.js'
import {
  conflictRejection,
  type EntryVerdict,
  type OpaqueTorrent,
  type Rejection,
  type UpstreamTorrent,
} from './list.js'

export type DownloadState = 'queued' | 'downloading' | 'verifying' | 'placed' | 'done' | 'rejected'

export interface DownloadRow {
  btih: string
  name: string
  /** `other`: an opaque torrent (no collection: ''). */
  kind: 'meta' | 'data' | 'other'
  collection: string
  source: string
  wantedBy: 'sync' | 'plan'
  state: DownloadState
  root: string
  torrent: Buffer | null
  totalSize: number | null
  pieceLength: number | null
  private: number | null
  infoSource: string | null
  attempts: number
  nextAttemptAt: string | null
  errorCode: string | null
  error: string | null
  createdAt: string
  updatedAt: string
  doneAt: string | null
  /** An opaque torrent's groups (its folder); '' for AAC releases. */
  topGroup: string
  group: string
  dataIdentity: string | null
}

export interface SourceRow {
  name: string
  location: string
  fetchedAt: string | null
  okAt: string | null
  error: string | null
  /** AAC releases in the latest list. */
  offered: number
  /** Opaque torrents in the latest list. */
  others: number
  duplicates: number
  rejected: number
}

/** What storing a source's list found: AAC releases taken, entries rejected. */
export interface StoredList {
  offered: number
  rejected: number
}

export interface StoredUpstream extends UpstreamTorrent {
  source: string
  firstSeenAt: string
  lastSeenAt: string
}

/** An opaque torrent as stored, without the raw entry (`opaqueEntry` reads that, when publishing). */
export interface StoredOpaque extends Omit<OpaqueTorrent, 'entry'> {
  source: string
  firstSeenAt: string
  lastSeenAt: string
}

/** [name, kind, collection, range from, range to, range from (Unix s), range to (Unix s), data size]. */
export type UpstreamReleaseRow = [
  string,
  'meta' | 'data',
  string,
  string,
  string,
  number,
  number,
  number | null,
]

/**
 * [btih, name, kind, collection, range from, range to, range from (Unix s), range to (Unix s),
 * data size, top group, group, seeders, scraped at] of an AAC torrent listed now.
 */
export type UpstreamFoldRow = [
  string,
  string,
  'meta' | 'data',
  string,
  string,
  string,
  number,
  number,
  number | null,
  string,
  string,
  number | null,
  string | null,
]

/**
 * [btih, display name, top group, group, data size, seeders, scraped at, obsolete, embargo,
 * magnet, .torrent URL]; the flags as 0/1.
 */
export type OpaquePlanRow = [
  string,
  string,
  string,
  string,
  number | null,
  number | null,
  string | null,
  number,
  number,
  string | null,
  string | null,
]

const DOWNLOAD = `SELECT btih, name, kind, collection, source, wanted_by AS wantedBy, state, root, torrent, total_size AS totalSize, piece_length AS pieceLength,
  private, info_source AS infoSource, attempts, next_attempt_at AS nextAttemptAt, error_code AS errorCode, error, created_at AS createdAt, updated_at AS updatedAt, done_at AS doneAt,
  top_group AS topGroup, group_name AS "group", data_identity AS dataIdentity
  FROM mirror_downloads`

const UPSTREAM = `SELECT source, btih, name, kind, collection, range_from AS "from", range_to AS "to", range_from_s AS fromS, range_to_s AS toS, torrent_url AS torrentUrl, magnet,
  data_size AS dataSize, num_files AS numFiles, seeders, leechers, completed, scraped_at AS scrapedAt, obsolete, embargo, partially_broken AS partiallyBroken, upstream_added_at AS addedAt,
  top_group AS topGroup, group_name AS "group", first_seen_at AS firstSeenAt, last_seen_at AS lastSeenAt
  FROM upstream_torrents`

const OPAQUE = `SELECT source, btih, display_name AS displayName, top_group AS topGroup, group_name AS "group", torrent_url AS torrentUrl, magnet,
  torrent_size AS torrentSize, data_size AS dataSize, num_files AS numFiles, seeders, leechers, completed, scraped_at AS scrapedAt, upstream_added_at AS addedAt,
  obsolete, embargo, partially_broken AS partiallyBroken, is_metadata AS isMetadata, first_seen_at AS firstSeenAt, last_seen_at AS lastSeenAt
  FROM upstream_opaque`

function upstreamRow(r: Record<string, unknown>): StoredUpstream {
  return {
    ...(r as unknown as StoredUpstream),
    obsolete: r.obsolete === 1,
    embargo: r.embargo === 1,
    partiallyBroken: r.partiallyBroken === 1,
  }
}

/** In place: a real list has tens of thousands of these, and a copy of each doubles the garbage. */
function opaqueRow(r: Record<string, unknown>): StoredOpaque {
  r.obsolete = r.obsolete === 1
  r.embargo = r.embargo === 1
  r.partiallyBroken = r.partiallyBroken === 1
  r.isMetadata = r.isMetadata === 1
  return r as unknown as StoredOpaque
}

/** Staging tables are per connection; a counter keeps two writers on one connection apart. */
let stageCounter = 0
/**
 * Slices of a staged list, by the btih's first six bits (and by a hash of release names): a
 * million-entry list is merged 16,000 rows per transaction, short enough not to stall the API.
 */
const STAGE_SLICES = 64
/** Rejections copied, or old ones deleted, per transaction. */
const REJECTION_SLICE = 20_000

function btihSlice(btih: string): number {
  return parseInt(btih.slice(0, 2), 16) >> 2
}

/** The lowest btih of slice `k` (btih are lowercase hex). */
function sliceStart(k: number): string {
  return (k << 2).toString(16).padStart(2, '0')
}

function nameSlice(name: string): number {
  let h = 2166136261
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619)
  return (h >>> 0) % STAGE_SLICES
}

export class MirrorStore {
  constructor(readonly db: Db) {}

  sources(): SourceRow[] {
    return this.db
      .prepare(
        'SELECT name, location, fetched_at AS fetchedAt, ok_at AS okAt, error, offered, others, duplicates, rejected FROM mirror_sources ORDER BY name',
      )
      .all() as SourceRow[]
  }

  source(name: string): SourceRow | undefined {
    return this.sources().find((s) => s.name === name)
  }

  /** A fetch that failed: the source keeps its last good list. */
  recordSourceError(name: string, location: string, error: string, at: string): void {
    this.db
      .prepare(
        `INSERT INTO mirror_sources (name, location, fetched_at, error) VALUES (?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET location = excluded.location, fetched_at = excluded.fetched_at, error = excluded.error`,
      )
      .run(name, location, at, error)
  }

  /** Stores a source's fresh list held in memory (a folder of .torrent files, tests). */
  recordSourceList(
    name: string,
    location: string,
    torrents: readonly UpstreamTorrent[],
    rejected: readonly Rejection[],
    at: string,
    others: { opaque: readonly OpaqueTorrent[]; duplicates: number } = { opaque: [], duplicates: 0 },
  ): void {
    const w = this.listWriter(name, location, at)
    w.add([
      ...torrents.map((torrent) => ({ torrent, label: torrent.name })),
      ...others.opaque.map((opaque) => ({ opaque, label: opaque.displayName })),
      ...rejected.map((rejection) => ({ rejection })),
    ])
    w.finishNow(others.duplicates)
  }

  /**
   * Stores a source's list as it is read. A list may hold a million entries. Upserting them one
   * by one into `upstream_torrents` (random btih order into three indexes, two look-ups each,
   * a commit every batch) cost minutes of CPU and gigabytes of WAL. So a read is staged first,
   * in TEMP tables of this connection (never in the WAL, gone with the connection), appended to
   * without any index: one table per slice of the btih space (`STAGE_SLICES`), and one per
   * slice of a hash of release names. `finish` then works one slice per transaction, yielding to
   * the event loop between them: it sorts the slice (small), settles repeats of a btih, and
   * merges the slice into `upstream_torrents` / `upstream_opaque` in btih order (sequential in
   * their keys), un-listing what the list no longer holds in that slice; then it finds the
   * release names listed with more than one btih, a name slice at a time. A read that is
   * refused or fails (`abandon`) never touched the stored list (its rejections are staged too):
   * the last good one stays whole. Reading a list writes only TEMP tables, so it never holds the
   * database's write lock; only the merge does, a slice at a time. (Stored lists are written in
   * a worker thread, `list-store-worker.ts`, on a connection of its own.)
   * (A merge cut off half-way, by a crash, leaves some slices new and some old; the next good
   * read makes it whole. The staging tables live in SQLite's temp files, about 300 bytes an
   * entry while a list is read.)
   *
   * The whole-list rules are `ListDedup`'s: the same torrent twice is kept once (a duplicate,
   * the first entry wins); a btih under a second name is rejected; a release name with two
   * btih is rejected in all its entries (`conflicting-entry`).
   */
  listWriter(
    name: string,
    location: string,
    at: string,
  ): {
    add(verdicts: readonly EntryVerdict[]): void
    /** `extraDuplicates`: repeats already folded before the writer saw them. Yields between slices. */
    finish(extraDuplicates?: number): Promise<StoredList>
    /** `finish` in one go, for lists held in memory. */
    finishNow(extraDuplicates?: number): StoredList
    abandon(): void
  } {
    const db = this.db
    // The staging tables' rollback journal in memory, not in a temp file: what is staged is
    // thrown away on any failure anyway, and the file cost about 15% of staging's CPU (200,000 entries).
    db.pragma('temp.journal_mode = MEMORY')
    const prefix = `list_stage_${++stageCounter}`
    const slices = Array.from({ length: STAGE_SLICES }, (_, k) => `temp.${prefix}_b${k}`)
    const nameSlices = Array.from({ length: STAGE_SLICES }, (_, k) => `temp.${prefix}_n${k}`)
    const losers = `temp.${prefix}_losers`
    const rejections = `temp.${prefix}_rejected`
    db.exec(
      [
        ...slices.map(
          (
            t,
          ) => `CREATE TABLE ${t} (seq INTEGER PRIMARY KEY, btih TEXT NOT NULL, name TEXT, label TEXT NOT NULL,
            kind TEXT, collection TEXT, range_from TEXT, range_to TEXT, range_from_s INTEGER, range_to_s INTEGER, display_name TEXT,
            top_group TEXT, group_name TEXT, torrent_url TEXT, magnet TEXT, torrent_size INTEGER, data_size INTEGER, num_files INTEGER,
            seeders INTEGER, leechers INTEGER, completed INTEGER, scraped_at TEXT, upstream_added_at TEXT, obsolete INTEGER, embargo INTEGER,
            partially_broken INTEGER, is_metadata INTEGER, entry TEXT)`,
        ),
        ...nameSlices.map(
          (t) => `CREATE TABLE ${t} (seq INTEGER PRIMARY KEY, name TEXT NOT NULL, btih TEXT NOT NULL)`,
        ),
        `CREATE TABLE ${losers} (seq INTEGER PRIMARY KEY)`,
        `CREATE TABLE ${rejections} (id INTEGER PRIMARY KEY, entry TEXT NOT NULL, code TEXT NOT NULL, message TEXT NOT NULL)`,
      ].join(';\n'),
    )
    // One statement for both kinds of entry: the columns they share first, then the AAC
    // release's (null for an opaque torrent: `name IS NULL` is how a merge tells them apart),
    // then the opaque torrent's (null for an AAC release).
    const stage = slices.map((t) =>
      db.prepare(
        `INSERT INTO ${t} (seq, btih, label, top_group, group_name, torrent_url, magnet, data_size, num_files, seeders, leechers, completed,
           scraped_at, upstream_added_at, obsolete, embargo, partially_broken,
           name, kind, collection, range_from, range_to, range_from_s, range_to_s,
           display_name, torrent_size, is_metadata, entry)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
    )
    const stageName = nameSlices.map((t) => db.prepare(`INSERT INTO ${t} (seq, name, btih) VALUES (?, ?, ?)`))
    // Staged too, so that reading a list writes nothing but TEMP tables until it is merged: the
    // database's write lock stays free for the other connections while a list is read.
    const addRejection = db.prepare(`INSERT INTO ${rejections} (entry, code, message) VALUES (?, ?, ?)`)
    let seq = 0
    let rejectedCount = 0
    let duplicates = 0
    let aacKept = 0
    let opaqueKept = 0
    let closed = false
    const reject = (entry: string, code: string, message: string): void => {
      addRejection.run(entry, code, message)
      rejectedCount++
    }
    const flag = (b: boolean): number => (b ? 1 : 0)
    const add = db.transaction((verdicts: readonly EntryVerdict[]) => {
      for (const v of verdicts) {
        if ('rejection' in v) {
          reject(v.rejection.entry, v.rejection.code, v.rejection.message)
          continue
        }
        seq++
        const aac = 'torrent' in v ? v.torrent : null
        const opaque = 'opaque' in v ? v.opaque : null
        const t = aac ?? opaque!
        stage[btihSlice(t.btih)]!.run(
          seq,
          t.btih,
          v.label,
          t.topGroup,
          t.group,
          t.torrentUrl,
          t.magnet,
          t.dataSize,
          t.numFiles,
          t.seeders,
          t.leechers,
          t.completed,
          t.scrapedAt,
          t.addedAt,
          flag(t.obsolete),
          flag(t.embargo),
          flag(t.partiallyBroken),
          aac && aac.name,
          aac && aac.kind,
          aac && aac.collection,
          aac && aac.from,
          aac && aac.to,
          aac && aac.fromS,
          aac && aac.toS,
          opaque && opaque.displayName,
          opaque && opaque.torrentSize,
          opaque && flag(opaque.isMetadata),
          opaque && opaque.entry,
        )
        if (aac !== null) {
          stageName[nameSlice(aac.name)]!.run(seq, aac.name, aac.btih)
          aacKept++
        } else opaqueKept++
      }
    })
    const mergeAac = (t: string) =>
      db.prepare(
        `INSERT INTO upstream_torrents (source, btih, name, kind, collection, range_from, range_to, range_from_s, range_to_s, torrent_url, magnet, data_size, num_files,
           seeders, leechers, completed, scraped_at, obsolete, embargo, partially_broken, upstream_added_at, top_group, group_name, first_seen_at, last_seen_at, listed)
         SELECT @source, btih, name, kind, collection, range_from, range_to, range_from_s, range_to_s, torrent_url, magnet, data_size, num_files,
           seeders, leechers, completed, scraped_at, obsolete, embargo, partially_broken, upstream_added_at, top_group, group_name, @at, @at, 1
         FROM ${t} WHERE name IS NOT NULL ORDER BY btih
         ON CONFLICT (source, btih) DO UPDATE SET name = excluded.name, kind = excluded.kind, collection = excluded.collection, range_from = excluded.range_from,
           range_to = excluded.range_to, range_from_s = excluded.range_from_s, range_to_s = excluded.range_to_s, torrent_url = excluded.torrent_url, magnet = excluded.magnet,
           data_size = excluded.data_size, num_files = excluded.num_files, seeders = excluded.seeders, leechers = excluded.leechers, completed = excluded.completed,
           scraped_at = excluded.scraped_at, obsolete = excluded.obsolete, embargo = excluded.embargo, partially_broken = excluded.partially_broken,
           upstream_added_at = excluded.upstream_added_at, top_group = excluded.top_group, group_name = excluded.group_name,
           last_seen_at = excluded.last_seen_at, listed = 1`,
      )
    const mergeOpaque = (t: string) =>
      db.prepare(
        `INSERT INTO upstream_opaque (source, btih, display_name, top_group, group_name, torrent_url, magnet, torrent_size, data_size, num_files, seeders, leechers, completed,
           scraped_at, upstream_added_at, obsolete, embargo, partially_broken, is_metadata, entry, first_seen_at, last_seen_at, listed)
         SELECT @source, btih, display_name, top_group, group_name, torrent_url, magnet, torrent_size, data_size, num_files, seeders, leechers, completed,
           scraped_at, upstream_added_at, obsolete, embargo, partially_broken, is_metadata, entry, @at, @at, 1
         FROM ${t} WHERE name IS NULL ORDER BY btih
         ON CONFLICT (source, btih) DO UPDATE SET display_name = excluded.display_name, top_group = excluded.top_group, group_name = excluded.group_name,
           torrent_url = excluded.torrent_url, magnet = excluded.magnet, torrent_size = excluded.torrent_size, data_size = excluded.data_size, num_files = excluded.num_files,
           seeders = excluded.seeders, leechers = excluded.leechers, completed = excluded.completed, scraped_at = excluded.scraped_at,
           upstream_added_at = excluded.upstream_added_at, obsolete = excluded.obsolete, embargo = excluded.embargo, partially_broken = excluded.partially_broken,
           is_metadata = excluded.is_metadata, entry = excluded.entry, last_seen_at = excluded.last_seen_at, listed = 1`,
      )
    const unlistRange = (table: string) =>
      db.prepare(
        `UPDATE ${table} SET listed = 0 WHERE source = @source AND btih >= @lo AND (@hi IS NULL OR btih < @hi) AND listed = 1 AND last_seen_at <> @at`,
      )
    const unlistAac = unlistRange('upstream_torrents')
    const unlistOpaque = unlistRange('upstream_opaque')
    const drop = (): void => {
      if (closed) return
      closed = true
      db.exec(
        [...slices, ...nameSlices, losers, rejections].map((t) => `DROP TABLE IF EXISTS ${t}`).join(';\n'),
      )
    }
    /** One btih slice: repeats settled (the first entry wins), then merged in btih order. */
    const mergeSlice = (k: number): void => {
      const t = slices[k]!
      const repeats = db
        .prepare(
          `SELECT seq, btih, name, label FROM ${t} WHERE btih IN (SELECT btih FROM ${t} GROUP BY btih HAVING COUNT(*) > 1) ORDER BY btih, seq`,
        )
        .raw()
        .all() as Array<[number, string, string | null, string]>
      const lose = db.prepare(`DELETE FROM ${t} WHERE seq = ?`)
      const lost = db.prepare(`INSERT INTO ${losers} (seq) VALUES (?)`)
      let first: [number, string, string | null, string] | null = null
      for (const r of repeats) {
        if (first === null || first[1] !== r[1]) {
          first = r
          continue
        }
        const other = first[2]
        if (other === r[2]) duplicates++
        else
          reject(
            r[3],
            'entry-invalid',
            `btih ${r[1]} is also listed for ${other === null ? 'a torrent that is not an AAC release' : other}`,
          )
        lose.run(r[0])
        lost.run(r[0])
        if (r[2] === null) opaqueKept--
        else aacKept--
      }
      const p = { source: name, at, lo: sliceStart(k), hi: k + 1 < STAGE_SLICES ? sliceStart(k + 1) : null }
      mergeAac(t).run(p)
      mergeOpaque(t).run(p)
      unlistAac.run(p)
      unlistOpaque.run(p)
    }
    /** Release names of one name slice listed with more than one btih (repeats already settled). */
    const conflictsIn = (k: number): Array<[string, string]> =>
      db
        .prepare(
          `SELECT name, btih FROM ${nameSlices[k]} WHERE seq NOT IN (SELECT seq FROM ${losers}) AND name IN (
             SELECT name FROM ${nameSlices[k]} WHERE seq NOT IN (SELECT seq FROM ${losers}) GROUP BY name HAVING COUNT(DISTINCT btih) > 1)
           ORDER BY name, btih`,
        )
        .raw()
        .all() as Array<[string, string]>
    function* merge(extraDuplicates: number): Generator<void, StoredList> {
      if (closed) throw new Error(`the list writer for ${name} is closed`)
      try {
        // Each staged table is dropped once read, a turn of the event loop apart: dropping all
        // of a million-entry list's at the end was one long block of freeing pages.
        for (let k = 0; k < STAGE_SLICES; k++) {
          db.transaction(mergeSlice)(k)
          db.exec(`DROP TABLE ${slices[k]}`)
          yield
        }
        const conflicting = new Map<string, string[]>()
        for (let k = 0; k < STAGE_SLICES; k++) {
          for (const [n, b] of conflictsIn(k)) {
            const list = conflicting.get(n)
            if (list) list.push(b)
            else conflicting.set(n, [b])
          }
          db.exec(`DROP TABLE ${nameSlices[k]}`)
          yield
        }
        const unlisted: string[] = []
        db.transaction(() => {
          for (const c of [...conflicting.keys()].sort()) {
            const btihs = conflicting.get(c)!
            for (const b of btihs) {
              const r = conflictRejection(name, c, b, btihs)
              reject(r.entry, r.code, r.message)
              unlisted.push(b)
            }
            aacKept -= btihs.length
          }
        })()
        // The rejections, in the order they were found, a bounded slice per transaction (a list
        // may reject every one of a million entries); the last list's go once these are in.
        const copy = db.prepare(
          `INSERT INTO mirror_rejections (source, entry, code, message, seen_at) SELECT ?, entry, code, message, ? FROM ${rejections} WHERE id > ? AND id <= ? ORDER BY id`,
        )
        for (let lo = 0; lo < rejectedCount; lo += REJECTION_SLICE) {
          db.transaction(() => copy.run(name, at, lo, lo + REJECTION_SLICE))()
          yield
        }
        const dropOld = db.prepare(
          'DELETE FROM mirror_rejections WHERE id IN (SELECT id FROM mirror_rejections WHERE source = ? AND seen_at <> ? LIMIT ?)',
        )
        while (db.transaction(() => dropOld.run(name, at, REJECTION_SLICE).changes)() === REJECTION_SLICE)
          yield
        return db.transaction(() => {
          const unlist = db.prepare('UPDATE upstream_torrents SET listed = 0 WHERE source = ? AND btih = ?')
          for (const b of unlisted) unlist.run(name, b)
          db.prepare(
            `INSERT INTO mirror_sources (name, location, fetched_at, ok_at, error, offered, others, duplicates, rejected) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET location = excluded.location, fetched_at = excluded.fetched_at, ok_at = excluded.ok_at, error = NULL,
               offered = excluded.offered, others = excluded.others, duplicates = excluded.duplicates, rejected = excluded.rejected`,
          ).run(name, location, at, at, aacKept, opaqueKept, duplicates + extraDuplicates, rejectedCount)
          return { offered: aacKept, rejected: rejectedCount }
        })()
      } finally {
        drop()
      }
    }
    return {
      add: (verdicts) => {
        if (closed) throw new Error(`the list writer for ${name} is closed`)
        add(verdicts)
      },
      finish: async (extraDuplicates = 0) => {
        const steps = merge(extraDuplicates)
        for (;;) {
          const r = steps.next()
          if (r.done) return r.value
          await new Promise((res) => setImmediate(res))
        }
      },
      finishNow: (extraDuplicates = 0) => {
        const steps = merge(extraDuplicates)
        for (;;) {
          const r = steps.next()
          if (r.done) return r.value
        }
      },
      abandon: drop,
    }
  }

  /**
   * Visits the torrents a source lists now, a page at a time in btih order, giving the event
   * loop a turn between pages: a source may list a million.
   */
  async eachUpstream(
    source: string,
    fn: (t: StoredUpstream) => void,
    opts: { collections?: readonly string[]; pageSize?: number } = {},
  ): Promise<void> {
    const pageSize = opts.pageSize ?? 5000
    const only = opts.collections !== undefined
    const page = this.db.prepare(
      `${UPSTREAM} WHERE source = ? AND listed = 1 AND btih > ?${only ? ' AND collection IN (SELECT value FROM json_each(?))' : ''} ORDER BY btih LIMIT ?`,
    )
    const collections = JSON.stringify(opts.collections ?? [])
    let after = ''
    for (;;) {
      const rows = (
        only ? page.all(source, after, collections, pageSize) : page.all(source, after, pageSize)
      ) as Record<string, unknown>[]
      for (const r of rows) fn(upstreamRow(r))
      if (rows.length < pageSize) return
      after = rows[rows.length - 1]!.btih as string
      await new Promise((r) => setImmediate(r))
    }
  }

  /**
   * How many AAC releases a source lists now, per collection: counted inside SQLite, so a
   * million-entry list costs no row objects when few of its collections are followed. One
   * slice of the btih space at a time, giving the event loop a turn between slices: the whole
   * count at once held it for over a second at a million entries.
   */
  async upstreamCollections(source: string): Promise<Map<string, number>> {
    const sql =
      'SELECT collection, COUNT(*) FROM upstream_torrents WHERE source = ? AND listed = 1 AND btih >= ?'
    // Two statements: an upper bound that may be NULL would keep SQLite from using it on the key.
    const slice = this.db.prepare(`${sql} AND btih < ? GROUP BY collection`).raw()
    const last = this.db.prepare(`${sql} GROUP BY collection`).raw()
    const counts = new Map<string, number>()
    for (let k = 0; k < STAGE_SLICES; k++) {
      const lo = k === 0 ? '' : sliceStart(k)
      const rows = (
        k + 1 < STAGE_SLICES ? slice.all(source, lo, sliceStart(k + 1)) : last.all(source, lo)
      ) as Array<[string, number]>
      for (const [c, n] of rows) counts.set(c, (counts.get(c) ?? 0) + n)
      await new Promise((r) => setImmediate(r))
    }
    return counts
  }

  /**
   * A source's AAC releases listed now, as raw rows ([collection, kind, data_size, name, btih]),
   * read one at a time: a summary of a million-entry list in constant memory.
   */
  eachUpstreamSummary(
    source: string,
    fn: (
      collection: string,
      kind: 'meta' | 'data',
      dataSize: number | null,
      name: string,
      btih: string,
    ) => void,
  ): number {
    let n = 0
    for (const r of this.db
      .prepare(
        'SELECT collection, kind, data_size, name, btih FROM upstream_torrents WHERE source = ? AND listed = 1',
      )
      .raw()
      .iterate(source) as IterableIterator<[string, 'meta' | 'data', number | null, string, string]>) {
      fn(r[0], r[1], r[2], r[3], r[4])
      n++
    }
    return n
  }

  /** The torrents sources list now (or, with `all`, ever listed), one row per (source, btih). */
  upstream(opts: { source?: string; all?: boolean } = {}): StoredUpstream[] {
    const where: string[] = []
    if (!opts.all) where.push('listed = 1')
    if (opts.source !== undefined) where.push('source = @source')
    const sql = `${UPSTREAM}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY source, collection, range_from_s, kind DESC, name`
    return (
      this.db.prepare(sql).all(opts.source !== undefined ? { source: opts.source } : {}) as Record<
        string,
        unknown
      >[]
    ).map(upstreamRow)
  }

  /** Whether any source lists an AAC torrent now. */
  hasListedUpstream(): boolean {
    return (
      this.db.prepare('SELECT EXISTS (SELECT 1 FROM upstream_torrents WHERE listed = 1)').pluck().get() === 1
    )
  }

  /**
   * Every AAC torrent listed now as a raw row (`UpstreamFoldRow`), streamed: what coverage and
   * the per-group figures fold, one row at a time. A million-entry list read whole as objects of
   * every column (`upstream()`) took 95 s and 2.7 GB of heap; these rows streamed, 3 to 7 s
   * and no heap to speak of. `btih`: a btih's rows together, its first source's first; one
   * source lists each btih once, so its rows come as stored (no sort). `release`: by
   * collection, then as coverage orders releases (start, meta first, end, name), then source: a
   * name's rows together, its first source's first; coverage over a million releases in this
   * order peaked at 251 MB against 384 MB in stored order (what it keeps of the first releases
   * stays short-lived). The connection is busy until the iteration ends: read anything else first.
   */
  iterateUpstream(order: 'btih'): IterableIterator<UpstreamFoldRow>
  iterateUpstream(order: 'release'): IterableIterator<UpstreamReleaseRow>
  iterateUpstream(order: 'btih' | 'release'): IterableIterator<UpstreamFoldRow | UpstreamReleaseRow> {
    if (order === 'release')
      // Only the columns coverage reads: each row's strings are garbage a moment later.
      return this.db
        .prepare(
          `SELECT name, kind, collection, range_from, range_to, range_from_s, range_to_s, data_size
           FROM upstream_torrents WHERE listed = 1 ORDER BY collection, range_from_s, kind DESC, range_to_s, name, source`,
        )
        .raw()
        .iterate() as IterableIterator<UpstreamReleaseRow>
    // MIN and MAX of the primary key's first column are two index look-ups.
    const oneSource =
      this.db.prepare('SELECT MIN(source) IS MAX(source) FROM upstream_torrents').pluck().get() === 1
    return this.db
      .prepare(
        `SELECT btih, name, kind, collection, range_from, range_to, range_from_s, range_to_s, data_size, top_group, group_name, seeders, scraped_at
         FROM upstream_torrents WHERE listed = 1${oneSource ? '' : ' ORDER BY btih, source'}`,
      )
      .raw()
      .iterate() as IterableIterator<UpstreamFoldRow>
  }

  /** The opaque torrents sources list now (or, with `all`, ever listed), one row per (source, btih). */
  opaque(opts: { source?: string; all?: boolean } = {}): StoredOpaque[] {
    const where: string[] = []
    if (!opts.all) where.push('listed = 1')
    if (opts.source !== undefined) where.push('source = @source')
    const sql = `${OPAQUE}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY source, top_group, group_name, display_name`
    return (
      this.db.prepare(sql).all(opts.source !== undefined ? { source: opts.source } : {}) as Record<
        string,
        unknown
      >[]
    ).map(opaqueRow)
  }

  /**
   * What the planner and coverage read of every opaque torrent listed now, one raw row each
   * (`OpaquePlanRow`), sources in name order: a real list holds tens of thousands, and rows as
   * objects of every column cost several times more (measured: 35 against 330 ms for 17,000).
   */
  opaqueForPlan(): OpaquePlanRow[] {
    return this.db
      .prepare(
        `SELECT btih, display_name, top_group, group_name, data_size, seeders, scraped_at, obsolete, embargo, magnet, torrent_url
         FROM upstream_opaque WHERE listed = 1 ORDER BY source`,
      )
      .raw()
      .all() as OpaquePlanRow[]
  }

  /**
   * Per group of a source's opaque torrents listed now: one raw row per torrent
   * ([btih, top_group, group_name, data_size]), cheap enough for summaries of a whole real list.
   */
  opaqueGroupsOf(source: string): Array<[string, string, string, number | null]> {
    return this.db
      .prepare(
        'SELECT btih, top_group, group_name, data_size FROM upstream_opaque WHERE source = ? AND listed = 1',
      )
      .raw()
      .all(source) as Array<[string, string, string, number | null]>
  }

  /**
   * The list entry of an opaque torrent as upstream wrote it (JSON text), from the source that lists it now
   * (or last).
   */
  opaqueEntry(btih: string): string | undefined {
    return this.db
      .prepare('SELECT entry FROM upstream_opaque WHERE btih = ? ORDER BY listed DESC, source LIMIT 1')
      .pluck()
      .get(btih) as string | undefined
  }

  /** Every source's entry for one opaque torrent, listed now or before; listed ones first. */
  opaqueByBtih(btih: string): StoredOpaque[] {
    return (
      this.db.prepare(`${OPAQUE} WHERE btih = ? ORDER BY listed DESC, source`).all(btih) as Record<
        string,
        unknown
      >[]
    ).map(opaqueRow)
  }

  /**
   * What upstream says of a torrent (obsolete, embargoed, partly broken), by btih: the entry of
   * the source that lists it now (the first by name), else of the last that did; undefined when
   * no source ever listed it. One statement for many look-ups (a published list).
   */
  upstreamFlags(): (
    btih: string,
  ) => { obsolete: boolean; embargo: boolean; partiallyBroken: boolean } | undefined {
    const one = this.db
      .prepare(
        'SELECT obsolete, embargo, partially_broken FROM upstream_torrents WHERE btih = ? ORDER BY listed DESC, last_seen_at DESC, source LIMIT 1',
      )
      .raw()
    return (btih) => {
      const r = one.get(btih) as [number, number, number] | undefined
      return r && { obsolete: r[0] === 1, embargo: r[1] === 1, partiallyBroken: r[2] === 1 }
    }
  }

  /** Every source's entry for one torrent, listed now or before; listed ones first. */
  upstreamByBtih(btih: string): StoredUpstream[] {
    return (
      this.db.prepare(`${UPSTREAM} WHERE btih = ? ORDER BY listed DESC, source`).all(btih) as Record<
        string,
        unknown
      >[]
    ).map(upstreamRow)
  }

  rejections(source?: string): Rejection[] {
    const sql = `SELECT source, entry, code, message FROM mirror_rejections${source !== undefined ? ' WHERE source = ?' : ''} ORDER BY source, id`
    return (
      source !== undefined ? this.db.prepare(sql).all(source) : this.db.prepare(sql).all()
    ) as Rejection[]
  }

  downloads(states?: readonly DownloadState[]): DownloadRow[] {
    const sql = `${DOWNLOAD}${states ? ` WHERE state IN (${states.map(() => '?').join(', ')})` : ''} ORDER BY kind DESC, collection, name`
    return this.db.prepare(sql).all(...(states ?? [])) as DownloadRow[]
  }

  download(btih: string): DownloadRow | undefined {
    return this.db.prepare(`${DOWNLOAD} WHERE btih = ?`).get(btih) as DownloadRow | undefined
  }

  /**
   * Queues a release, or an opaque torrent (kind `other`, collection '', with its groups); a btih
   * already known (in any state) is left as it is. Returns whether it was new.
   */
  queue(
    t: Pick<UpstreamTorrent, 'btih' | 'name' | 'dataSize'> & {
      kind: DownloadRow['kind']
      collection: string
      source: string
      wantedBy: 'sync' | 'plan'
      root: string
      topGroup?: string
      group?: string
    },
    at: string,
  ): boolean {
    const r = this.db
      .prepare(
        `INSERT INTO mirror_downloads (btih, name, kind, collection, source, wanted_by, state, root, total_size, created_at, updated_at, top_group, group_name)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?) ON CONFLICT (btih) DO NOTHING`,
      )
      .run(
        t.btih,
        t.name,
        t.kind,
        t.collection,
        t.source,
        t.wantedBy,
        t.root,
        t.dataSize,
        at,
        at,
        t.kind === 'other' ? (t.topGroup ?? '') : '',
        t.kind === 'other' ? (t.group ?? '') : '',
      )
    return r.changes > 0
  }

  /** An opaque torrent's data as placed (`dataIdentity` in src/mirror/other.ts). */
  setDataIdentity(btih: string, identity: string | null, at: string): void {
    this.db
      .prepare('UPDATE mirror_downloads SET data_identity = ?, updated_at = ? WHERE btih = ?')
      .run(identity, at, btih)
  }

  /** Bytes of the opaque torrents placed in a root (they are not in the catalog). */
  otherBytesIn(root: string): number {
    return this.db
      .prepare(
        "SELECT COALESCE(SUM(total_size), 0) FROM mirror_downloads WHERE kind = 'other' AND state IN ('placed', 'done') AND root = ?",
      )
      .pluck()
      .get(root) as number
  }

  /**
   * The opaque torrents mirror sync holds and publishes, each with its list entry as upstream
   * wrote it (JSON; from the source listing it now, or last), in btih order. `placed` ones too:
   * the list is published before they are marked `done` (done means published).
   */
  publishedOther(): Array<{ btih: string; entry: string }> {
    return this.db
      .prepare(
        `SELECT d.btih AS btih, (SELECT o.entry FROM upstream_opaque o WHERE o.btih = d.btih ORDER BY o.listed DESC, o.source LIMIT 1) AS entry
         FROM mirror_downloads d WHERE d.kind = 'other' AND d.state IN ('placed', 'done') ORDER BY d.btih`,
      )
      .all()
      .filter((r) => (r as { entry: string | null }).entry !== null) as Array<{ btih: string; entry: string }>
  }

  /** The checked .torrent and what remaking it needs. */
  setTorrent(
    btih: string,
    torrent: Buffer,
    info: {
      totalSize: number
      pieceLength: number
      private: boolean
      source: string | null
      announce: string[][]
    },
    at: string,
  ): void {
    this.db
      .prepare(
        `UPDATE mirror_downloads SET torrent = ?, total_size = ?, piece_length = ?, private = ?, info_source = ?, announce = ?, error_code = NULL, error = NULL, updated_at = ? WHERE btih = ?`,
      )
      .run(
        torrent,
        info.totalSize,
        info.pieceLength,
        info.private ? 1 : 0,
        info.source,
        JSON.stringify(info.announce),
        at,
        btih,
      )
  }

  setState(btih: string, state: DownloadState, at: string): void {
    this.db
      .prepare(
        `UPDATE mirror_downloads SET state = ?, updated_at = ?, done_at = CASE WHEN ? = 'done' THEN ? ELSE done_at END WHERE btih = ?`,
      )
      .run(state, at, state, at, btih)
  }

  /** A failure worth retrying: counted, and the next attempt put off. */
  recordFailure(btih: string, code: string, message: string, nextAttemptAt: string, at: string): void {
    this.db
      .prepare(
        'UPDATE mirror_downloads SET attempts = attempts + 1, next_attempt_at = ?, error_code = ?, error = ?, updated_at = ? WHERE btih = ?',
      )
      .run(nextAttemptAt, code, message, at, btih)
  }

  /** A verdict on the content: not retried unless the operator asks. */
  reject(btih: string, code: string, message: string, at: string): void {
    this.db
      .prepare(
        "UPDATE mirror_downloads SET state = 'rejected', error_code = ?, error = ?, updated_at = ? WHERE btih = ?",
      )
      .run(code, message, at, btih)
  }

  /**
   * The torrent shape of each mirrored release, by name: `torrents make` must reproduce upstream's
   * torrent. Upstream's trackers come along, so our .torrent joins its swarm, and so does its
   * info dictionary (read when needed), kept byte for byte. A `placed` release's bytes were just
   * verified piece by piece by the engine: they are not hashed again.
   */
  torrentShapes(): Map<string, TorrentShape> {
    const rows = this.db
      .prepare(
        "SELECT btih, name, state, piece_length AS pieceLength, private, info_source AS source, announce FROM mirror_downloads WHERE state IN ('placed', 'done') AND piece_length IS NOT NULL AND torrent IS NOT NULL AND kind <> 'other'",
      )
      .all() as Array<{
      btih: string
      name: string
      state: 'placed' | 'done'
      pieceLength: number
      private: number
      source: string | null
      announce: string | null
    }>
    const torrentOf = this.db.prepare('SELECT torrent FROM mirror_downloads WHERE btih = ?').pluck()
    return new Map(
      rows.map((r) => [
        r.name,
        {
          pieceLength: r.pieceLength,
          private: r.private === 1,
          source: r.source ?? '',
          announce: r.announce ? (JSON.parse(r.announce) as string[][]) : [],
          upstream: {
            infohash: r.btih,
            torrent: () => torrentOf.get(r.btih) as Buffer,
            verified: r.state === 'placed',
          },
        },
      ]),
    )
  }
}
