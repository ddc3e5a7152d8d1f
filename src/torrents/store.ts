/**
 * SQL for the `torrents` table (migration 002) and the `torrent` problems.
 *
 * torrents  one row per .torrent aacseed made or adopted: the release's name (the .torrent is
 *           `<name>.torrent`), kind, collection and range, the root it was hashed from, the v1
 *           infohash, piece length and count, total size, file count, where the .torrent is and
 *           its size, `data_identity` (the catalog's identity of the data when it was hashed:
 *           while the catalog still shows it, engines may skip verification), when it was made,
 *           and `added_at`, the first day it entered the published list.
 */
import type { Db } from '../db/index.js'
import type { Problem } from '../problems.js'

export interface TorrentRow {
  id: number
  name: string
  kind: 'meta' | 'data'
  collection: string
  rangeFrom: string
  rangeTo: string
  rootId: number
  root: string
  infohash: string
  pieceLength: number
  pieceCount: number
  totalSize: number
  fileCount: number
  torrentPath: string
  torrentSize: number
  dataIdentity: string
  madeAt: string
  addedAt: string
}

export type NewTorrentRow = Omit<TorrentRow, 'id' | 'root' | 'addedAt'> & { fromS: number; toS: number }

const SELECT = `SELECT t.id, t.name, t.kind, t.collection, t.range_from AS rangeFrom, t.range_to AS rangeTo, t.root_id AS rootId, r.path AS root,
  t.infohash, t.piece_length AS pieceLength, t.piece_count AS pieceCount, t.total_size AS totalSize, t.file_count AS fileCount,
  t.torrent_path AS torrentPath, t.torrent_size AS torrentSize, t.data_identity AS dataIdentity, t.made_at AS madeAt, t.added_at AS addedAt
  FROM torrents t JOIN roots r ON r.id = t.root_id`

export class TorrentStore {
  constructor(readonly db: Db) {}

  all(): TorrentRow[] {
    return this.db
      .prepare(`${SELECT} ORDER BY t.collection, t.range_from_s, t.kind DESC, t.name`)
      .all() as TorrentRow[]
  }

  /** Moves on every write: a torrent made, re-made (a new `made_at`) or forgotten. */
  signature(): string {
    return this.db
      .prepare(
        "SELECT count(*) || ':' || coalesce(max(id), 0) || ':' || coalesce(max(made_at), '') || ':' || total(total_size) FROM torrents",
      )
      .pluck()
      .get() as string
  }

  byName(name: string): TorrentRow | undefined {
    return this.db.prepare(`${SELECT} WHERE t.name = ?`).get(name) as TorrentRow | undefined
  }

  /**
   * Whether the torrent of release `name` was made into `path` from the data the catalog now
   * shows (`identity`), with upstream's infohash when one is given. Its file is not checked here.
   */
  madeFrom(name: string, identity: string, path: string, upstreamInfohash?: string): boolean {
    const existing = this.byName(name)
    return (
      existing !== undefined &&
      existing.dataIdentity === identity &&
      (upstreamInfohash === undefined || existing.infohash === upstreamInfohash) &&
      existing.torrentPath === path
    )
  }

  /** Forgets a torrent (its release was set aside); returns the row it was. */
  removeByName(name: string): TorrentRow | undefined {
    const row = this.byName(name)
    if (row) this.db.prepare('DELETE FROM torrents WHERE id = ?').run(row.id)
    return row
  }

  /** Inserts or refreshes a torrent; `added_at` keeps the day it first appeared. */
  upsert(row: NewTorrentRow): void {
    this.db
      .prepare(
        `INSERT INTO torrents (name, kind, collection, range_from, range_to, range_from_s, range_to_s, root_id, infohash, piece_length, piece_count, total_size, file_count, torrent_path, torrent_size, data_identity, made_at, added_at)
         VALUES (@name, @kind, @collection, @rangeFrom, @rangeTo, @fromS, @toS, @rootId, @infohash, @pieceLength, @pieceCount, @totalSize, @fileCount, @torrentPath, @torrentSize, @dataIdentity, @madeAt, substr(@madeAt, 1, 10))
         ON CONFLICT (name) DO UPDATE SET root_id = excluded.root_id, infohash = excluded.infohash, piece_length = excluded.piece_length, piece_count = excluded.piece_count,
           total_size = excluded.total_size, file_count = excluded.file_count, torrent_path = excluded.torrent_path, torrent_size = excluded.torrent_size,
           data_identity = excluded.data_identity, made_at = excluded.made_at`,
      )
      .run(row)
  }

  /** Replaces the `torrent` problems of the given releases (in their roots) with `problems`. */
  replaceProblems(
    entries: Array<{ rootId: number; name: string }>,
    problems: Array<Problem & { rootId: number }>,
  ): void {
    const del = this.db.prepare("DELETE FROM problems WHERE scope = 'torrent' AND root_id = ? AND path = ?")
    const ins = this.db.prepare(
      "INSERT INTO problems (root_id, scope, collection, path, line, aacid, code, message, found_at) VALUES (@rootId, 'torrent', NULL, @path, @line, @aacid, @code, @message, @at)",
    )
    const at = new Date().toISOString()
    this.db.transaction(() => {
      for (const e of entries) del.run(e.rootId, e.name)
      for (const p of problems) ins.run({ ...p, at })
    })()
  }
}
