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
 */
import type { Db } from '../db/index.js'
import type { TorrentShape } from '../torrents/index.js'
import type { OpaqueTorrent, Rejection, UpstreamTorrent } from './list.js'

export type DownloadState = 'queued' | 'downloading' | 'verifying' | 'placed' | 'done' | 'rejected'

export interface DownloadRow {
  btih: string
  name: string
  kind: 'meta' | 'data'
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

const DOWNLOAD = `SELECT btih, name, kind, collection, source, wanted_by AS wantedBy, state, root, torrent, total_size AS totalSize, piece_length AS pieceLength,
  private, info_source AS infoSource, attempts, next_attempt_at AS nextAttemptAt, error_code AS errorCode, error, created_at AS createdAt, updated_at AS updatedAt, done_at AS doneAt
  FROM mirror_downloads`

const UPSTREAM = `SELECT source, btih, name, kind, collection, range_from AS "from", range_to AS "to", range_from_s AS fromS, range_to_s AS toS, torrent_url AS torrentUrl, magnet,
  data_size AS dataSize, num_files AS numFiles, seeders, leechers, completed, scraped_at AS scrapedAt, obsolete, embargo, upstream_added_at AS addedAt,
  top_group AS topGroup, group_name AS "group", first_seen_at AS firstSeenAt, last_seen_at AS lastSeenAt
  FROM upstream_torrents`

const OPAQUE = `SELECT source, btih, display_name AS displayName, top_group AS topGroup, group_name AS "group", torrent_url AS torrentUrl, magnet,
  torrent_size AS torrentSize, data_size AS dataSize, num_files AS numFiles, seeders, leechers, completed, scraped_at AS scrapedAt, upstream_added_at AS addedAt,
  obsolete, embargo, partially_broken AS partiallyBroken, is_metadata AS isMetadata, first_seen_at AS firstSeenAt, last_seen_at AS lastSeenAt
  FROM upstream_opaque`

function upstreamRow(r: Record<string, unknown>): StoredUpstream {
  return { ...(r as unknown as StoredUpstream), obsolete: r.obsolete === 1, embargo: r.embargo === 1 }
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

  /**
   * Stores a source's fresh list in one transaction: its AAC releases and opaque torrents, which
   * are no longer listed, and its rejections.
   */
  recordSourceList(
    name: string,
    location: string,
    torrents: readonly UpstreamTorrent[],
    rejected: readonly Rejection[],
    at: string,
    others: { opaque: readonly OpaqueTorrent[]; duplicates: number } = { opaque: [], duplicates: 0 },
  ): void {
    const upsert = this.db.prepare(
      `INSERT INTO upstream_torrents (source, btih, name, kind, collection, range_from, range_to, range_from_s, range_to_s, torrent_url, magnet, data_size, num_files,
         seeders, leechers, completed, scraped_at, obsolete, embargo, upstream_added_at, top_group, group_name, first_seen_at, last_seen_at, listed)
       VALUES (@source, @btih, @name, @kind, @collection, @from, @to, @fromS, @toS, @torrentUrl, @magnet, @dataSize, @numFiles,
         @seeders, @leechers, @completed, @scrapedAt, @obsolete, @embargo, @addedAt, @topGroup, @group, @at, @at, 1)
       ON CONFLICT (source, btih) DO UPDATE SET name = excluded.name, kind = excluded.kind, collection = excluded.collection, range_from = excluded.range_from,
         range_to = excluded.range_to, range_from_s = excluded.range_from_s, range_to_s = excluded.range_to_s, torrent_url = excluded.torrent_url, magnet = excluded.magnet,
         data_size = excluded.data_size, num_files = excluded.num_files, seeders = excluded.seeders, leechers = excluded.leechers, completed = excluded.completed,
         scraped_at = excluded.scraped_at, obsolete = excluded.obsolete, embargo = excluded.embargo, upstream_added_at = excluded.upstream_added_at,
         top_group = excluded.top_group, group_name = excluded.group_name, last_seen_at = excluded.last_seen_at, listed = 1`,
    )
    const upsertOpaque = this.db.prepare(
      `INSERT INTO upstream_opaque (source, btih, display_name, top_group, group_name, torrent_url, magnet, torrent_size, data_size, num_files, seeders, leechers, completed,
         scraped_at, upstream_added_at, obsolete, embargo, partially_broken, is_metadata, entry, first_seen_at, last_seen_at, listed)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)
       ON CONFLICT (source, btih) DO UPDATE SET display_name = excluded.display_name, top_group = excluded.top_group, group_name = excluded.group_name,
         torrent_url = excluded.torrent_url, magnet = excluded.magnet, torrent_size = excluded.torrent_size, data_size = excluded.data_size, num_files = excluded.num_files,
         seeders = excluded.seeders, leechers = excluded.leechers, completed = excluded.completed, scraped_at = excluded.scraped_at,
         upstream_added_at = excluded.upstream_added_at, obsolete = excluded.obsolete, embargo = excluded.embargo, partially_broken = excluded.partially_broken,
         is_metadata = excluded.is_metadata, entry = excluded.entry, last_seen_at = excluded.last_seen_at, listed = 1`,
    )
    const addRejection = this.db.prepare(
      'INSERT INTO mirror_rejections (source, entry, code, message, seen_at) VALUES (?, ?, ?, ?, ?)',
    )
    this.db.transaction(() => {
      this.db.prepare('UPDATE upstream_torrents SET listed = 0 WHERE source = ?').run(name)
      for (const t of torrents)
        upsert.run({ ...t, source: name, obsolete: t.obsolete ? 1 : 0, embargo: t.embargo ? 1 : 0, at })
      this.db.prepare('UPDATE upstream_opaque SET listed = 0 WHERE source = ?').run(name)
      for (const t of others.opaque)
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
      this.db.prepare('DELETE FROM mirror_rejections WHERE source = ?').run(name)
      for (const r of rejected) addRejection.run(name, r.entry, r.code, r.message, at)
      this.db
        .prepare(
          `INSERT INTO mirror_sources (name, location, fetched_at, ok_at, error, offered, others, duplicates, rejected) VALUES (?, ?, ?, ?, NULL, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET location = excluded.location, fetched_at = excluded.fetched_at, ok_at = excluded.ok_at, error = NULL,
             offered = excluded.offered, others = excluded.others, duplicates = excluded.duplicates, rejected = excluded.rejected`,
        )
        .run(
          name,
          location,
          at,
          at,
          torrents.length,
          others.opaque.length,
          others.duplicates,
          rejected.length,
        )
    })()
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

  /** The list entry of an opaque torrent as upstream wrote it (JSON text), from the source that lists it now (or last). */
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

  /** Queues a release; a btih already known (in any state) is left as it is. Returns whether it was new. */
  queue(
    t: Pick<UpstreamTorrent, 'btih' | 'name' | 'kind' | 'collection' | 'dataSize'> & {
      source: string
      wantedBy: 'sync' | 'plan'
      root: string
    },
    at: string,
  ): boolean {
    const r = this.db
      .prepare(
        `INSERT INTO mirror_downloads (btih, name, kind, collection, source, wanted_by, state, root, total_size, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?) ON CONFLICT (btih) DO NOTHING`,
      )
      .run(t.btih, t.name, t.kind, t.collection, t.source, t.wantedBy, t.root, t.dataSize, at, at)
    return r.changes > 0
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
   * Piece length, private flag and source tag of each mirrored release, by name: `torrents make`
   * must make upstream's torrent again. Upstream's trackers come along, so our .torrent joins its swarm.
   */
  torrentShapes(): Map<string, TorrentShape> {
    const rows = this.db
      .prepare(
        "SELECT name, piece_length AS pieceLength, private, info_source AS source, announce FROM mirror_downloads WHERE state IN ('placed', 'done') AND piece_length IS NOT NULL",
      )
      .all() as Array<{
      name: string
      pieceLength: number
      private: number
      source: string | null
      announce: string | null
    }>
    return new Map(
      rows.map((r) => [
        r.name,
        {
          pieceLength: r.pieceLength,
          private: r.private === 1,
          source: r.source ?? '',
          announce: r.announce ? (JSON.parse(r.announce) as string[][]) : [],
        },
      ]),
    )
  }
}
