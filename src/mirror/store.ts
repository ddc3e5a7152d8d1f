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
    w.finish(others.duplicates)
  }

  /**
   * Stores a source's list as it is read, batch by batch, each batch one short transaction (a
   * list of a million entries must not hold the database, or the event loop, for long). Rows
   * of this read carry `last_seen_at = at`; `finish` then, in one transaction, un-lists what the
   * list no longer holds, rejects every release name listed with two btih (`conflicting-entry`)
   * and records the source. `abandon` (a refused or failed read) removes what only this read
   * added, so a list refused half-way leaves the last good one in place.
   *
   * The whole-list rules, over stored rows, are `ListDedup`'s: the same torrent twice is kept
   * once (a duplicate); a btih under a second name is rejected; a release name with two btih is
   * rejected in all its entries.
   */
  listWriter(
    name: string,
    location: string,
    at: string,
  ): {
    add(verdicts: readonly EntryVerdict[]): void
    /** `extraDuplicates`: repeats already folded before the writer saw them. */
    finish(extraDuplicates?: number): { offered: number; rejected: number }
    abandon(): void
  } {
    const db = this.db
    const upsert = db.prepare(
      `INSERT INTO upstream_torrents (source, btih, name, kind, collection, range_from, range_to, range_from_s, range_to_s, torrent_url, magnet, data_size, num_files,
         seeders, leechers, completed, scraped_at, obsolete, embargo, partially_broken, upstream_added_at, top_group, group_name, first_seen_at, last_seen_at, listed)
       VALUES (@source, @btih, @name, @kind, @collection, @from, @to, @fromS, @toS, @torrentUrl, @magnet, @dataSize, @numFiles,
         @seeders, @leechers, @completed, @scrapedAt, @obsolete, @embargo, @partiallyBroken, @addedAt, @topGroup, @group, @at, @at, 1)
       ON CONFLICT (source, btih) DO UPDATE SET name = excluded.name, kind = excluded.kind, collection = excluded.collection, range_from = excluded.range_from,
         range_to = excluded.range_to, range_from_s = excluded.range_from_s, range_to_s = excluded.range_to_s, torrent_url = excluded.torrent_url, magnet = excluded.magnet,
         data_size = excluded.data_size, num_files = excluded.num_files, seeders = excluded.seeders, leechers = excluded.leechers, completed = excluded.completed,
         scraped_at = excluded.scraped_at, obsolete = excluded.obsolete, embargo = excluded.embargo, partially_broken = excluded.partially_broken,
         upstream_added_at = excluded.upstream_added_at, top_group = excluded.top_group, group_name = excluded.group_name,
         last_seen_at = excluded.last_seen_at, listed = 1
       WHERE upstream_torrents.last_seen_at <> excluded.last_seen_at`,
    )
    const upsertOpaque = db.prepare(
      `INSERT INTO upstream_opaque (source, btih, display_name, top_group, group_name, torrent_url, magnet, torrent_size, data_size, num_files, seeders, leechers, completed,
         scraped_at, upstream_added_at, obsolete, embargo, partially_broken, is_metadata, entry, first_seen_at, last_seen_at, listed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (source, btih) DO UPDATE SET display_name = excluded.display_name, top_group = excluded.top_group, group_name = excluded.group_name,
         torrent_url = excluded.torrent_url, magnet = excluded.magnet, torrent_size = excluded.torrent_size, data_size = excluded.data_size, num_files = excluded.num_files,
         seeders = excluded.seeders, leechers = excluded.leechers, completed = excluded.completed, scraped_at = excluded.scraped_at,
         upstream_added_at = excluded.upstream_added_at, obsolete = excluded.obsolete, embargo = excluded.embargo, partially_broken = excluded.partially_broken,
         is_metadata = excluded.is_metadata, entry = excluded.entry, last_seen_at = excluded.last_seen_at, listed = 1
       WHERE upstream_opaque.last_seen_at <> excluded.last_seen_at`,
    )
    const aacNow = db
      .prepare('SELECT name FROM upstream_torrents WHERE source = ? AND btih = ? AND last_seen_at = ?')
      .pluck()
    const opaqueNow = db
      .prepare('SELECT 1 FROM upstream_opaque WHERE source = ? AND btih = ? AND last_seen_at = ?')
      .pluck()
    const sameName = db
      .prepare(
        'SELECT 1 FROM upstream_torrents WHERE source = ? AND name = ? AND last_seen_at = ? AND btih <> ?',
      )
      .pluck()
    const addRejection = db.prepare(
      'INSERT INTO mirror_rejections (source, entry, code, message, seen_at) VALUES (?, ?, ?, ?, ?)',
    )
    /** Release names this read lists with more than one btih: few, so kept in memory. */
    const conflicting = new Set<string>()
    let rejectedCount = 0
    let duplicates = 0
    const reject = (entry: string, code: string, message: string): void => {
      addRejection.run(name, entry, code, message, at)
      rejectedCount++
    }
    /**
     * The name this read already gave a btih: a release name, null for an opaque torrent, undefined if none.
     */
    const seenAs = (btih: string): string | null | undefined => {
      const n = aacNow.get(name, btih, at) as string | undefined
      if (n !== undefined) return n
      return opaqueNow.get(name, btih, at) !== undefined ? null : undefined
    }
    const repeat = (btih: string, as: string | null, label: string): boolean => {
      const other = seenAs(btih)
      if (other === undefined) return false
      if (other === as) duplicates++
      else
        reject(
          label,
          'entry-invalid',
          `btih ${btih} is also listed for ${other === null ? 'a torrent that is not an AAC release' : other}`,
        )
      return true
    }
    const add = db.transaction((verdicts: readonly EntryVerdict[]) => {
      for (const v of verdicts) {
        if ('rejection' in v) reject(v.rejection.entry, v.rejection.code, v.rejection.message)
        else if ('torrent' in v) {
          const t = v.torrent
          if (repeat(t.btih, t.name, v.label)) continue
          upsert.run({
            ...t,
            source: name,
            obsolete: t.obsolete ? 1 : 0,
            embargo: t.embargo ? 1 : 0,
            partiallyBroken: t.partiallyBroken ? 1 : 0,
            at,
          })
          if (sameName.get(name, t.name, at, t.btih) !== undefined) conflicting.add(t.name)
        } else {
          const t = v.opaque
          if (repeat(t.btih, null, v.label)) continue
          upsertOpaque.run(
            name,
            t.btih,
            t.displayName,
            t.topGroup,
            t.group,
            t.torrentUrl,
            t.magnet,
            t.torrentSize,
            t.dataSize,
            t.numFiles,
            t.seeders,
            t.leechers,
            t.completed,
            t.scrapedAt,
            t.addedAt,
            t.obsolete ? 1 : 0,
            t.embargo ? 1 : 0,
            t.partiallyBroken ? 1 : 0,
            t.isMetadata ? 1 : 0,
            t.entry,
            at,
            at,
          )
        }
      }
    })
    return {
      add: (verdicts) => add(verdicts),
      finish: (extraDuplicates = 0) =>
        db.transaction(() => {
          const btihsOf = db
            .prepare(
              'SELECT btih FROM upstream_torrents WHERE source = ? AND name = ? AND last_seen_at = ? ORDER BY btih',
            )
            .pluck()
          const unlist = db.prepare('UPDATE upstream_torrents SET listed = 0 WHERE source = ? AND name = ?')
          for (const c of [...conflicting].sort()) {
            const btihs = btihsOf.all(name, c, at) as string[]
            for (const b of btihs) {
              const r = conflictRejection(name, c, b, btihs)
              reject(r.entry, r.code, r.message)
            }
            unlist.run(name, c)
          }
          db.prepare(
            'UPDATE upstream_torrents SET listed = 0 WHERE source = ? AND listed = 1 AND last_seen_at <> ?',
          ).run(name, at)
          db.prepare(
            'UPDATE upstream_opaque SET listed = 0 WHERE source = ? AND listed = 1 AND last_seen_at <> ?',
          ).run(name, at)
          db.prepare('DELETE FROM mirror_rejections WHERE source = ? AND seen_at <> ?').run(name, at)
          const count = (table: string): number =>
            db
              .prepare(`SELECT COUNT(*) FROM ${table} WHERE source = ? AND listed = 1`)
              .pluck()
              .get(name) as number
          const offered = count('upstream_torrents')
          db.prepare(
            `INSERT INTO mirror_sources (name, location, fetched_at, ok_at, error, offered, others, duplicates, rejected) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)
             ON CONFLICT (name) DO UPDATE SET location = excluded.location, fetched_at = excluded.fetched_at, ok_at = excluded.ok_at, error = NULL,
               offered = excluded.offered, others = excluded.others, duplicates = excluded.duplicates, rejected = excluded.rejected`,
          ).run(
            name,
            location,
            at,
            at,
            offered,
            count('upstream_opaque'),
            duplicates + extraDuplicates,
            rejectedCount,
          )
          return { offered, rejected: rejectedCount }
        })(),
      abandon: () =>
        db.transaction(() => {
          db.prepare('DELETE FROM upstream_torrents WHERE source = ? AND first_seen_at = ?').run(name, at)
          db.prepare('DELETE FROM upstream_opaque WHERE source = ? AND first_seen_at = ?').run(name, at)
          db.prepare('DELETE FROM mirror_rejections WHERE source = ? AND seen_at = ?').run(name, at)
        })(),
    }
  }

  /**
   * Visits the torrents a source lists now, a page at a time in btih order, giving the event
   * loop a turn between pages: a source may list a million.
   */
  async eachUpstream(source: string, fn: (t: StoredUpstream) => void, pageSize = 5000): Promise<void> {
    const page = this.db.prepare(
      `${UPSTREAM} WHERE source = ? AND listed = 1 AND btih > ? ORDER BY btih LIMIT ?`,
    )
    let after = ''
    for (;;) {
      const rows = page.all(source, after, pageSize) as Record<string, unknown>[]
      for (const r of rows) fn(upstreamRow(r))
      if (rows.length < pageSize) return
      after = rows[rows.length - 1]!.btih as string
      await new Promise((r) => setImmediate(r))
    }
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
