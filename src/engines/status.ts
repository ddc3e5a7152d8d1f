/**
 * SQL for `engine_torrents` (migration 004): the seeding engine's latest report per torrent.
 *
 * engine_torrents  infohash, which engine, name, state (`CopyState`, src/engines/engine.ts), bytes present
 * and
 *                  total, uploaded, peers, the engine's error text, when it was first and last
 *                  seen seeding (for the list's `aa_currently_seeding`: seen within 7 days),
 *                  and when this row was written. Torrents the engine no longer reports go.
 */
import type { Db } from '../db/index.js'
import type { CopyState, EngineTorrentStatus } from './engine.js'

export interface StoredEngineStatus extends EngineTorrentStatus {
  engine: string
  firstSeedingAt: string | null
  lastSeedingAt: string | null
  updatedAt: string
}

export class EngineStatusStore {
  constructor(readonly db: Db) {}

  /** Replaces the engine's report in one transaction. */
  record(engine: string, statuses: readonly EngineTorrentStatus[], at = new Date().toISOString()): void {
    const upsert = this.db.prepare(
      `INSERT INTO engine_torrents (infohash, engine, name, state, bytes_present, total_bytes, uploaded, peers, error, first_seeding_at, last_seeding_at, updated_at)
       VALUES (@infoHash, @engine, @name, @state, @bytesPresent, @totalBytes, @uploaded, @peers, @error, @seedingAt, @seedingAt, @at)
       ON CONFLICT (infohash) DO UPDATE SET engine = excluded.engine, name = excluded.name, state = excluded.state, bytes_present = excluded.bytes_present,
         total_bytes = excluded.total_bytes, uploaded = excluded.uploaded, peers = excluded.peers, error = excluded.error,
         first_seeding_at = coalesce(engine_torrents.first_seeding_at, excluded.first_seeding_at),
         last_seeding_at = coalesce(excluded.last_seeding_at, engine_torrents.last_seeding_at), updated_at = excluded.updated_at`,
    )
    this.db.transaction(() => {
      for (const s of statuses) upsert.run({ ...s, engine, seedingAt: s.state === 'seeding' ? at : null, at })
      this.db.prepare('DELETE FROM engine_torrents WHERE engine = ? AND updated_at <> ?').run(engine, at)
    })()
  }

  /** Each torrent's state as the health model reads it. */
  copies(): Array<{
    infohash: string
    state: CopyState
    error: string | null
    lastSeedingAt: string | null
  }> {
    return this.db
      .prepare('SELECT infohash, state, error, last_seeding_at AS lastSeedingAt FROM engine_torrents')
      .all() as Array<{
      infohash: string
      state: CopyState
      error: string | null
      lastSeedingAt: string | null
    }>
  }

  /** Moves whenever the engine's report changes (coverage re-reads it then). */
  signature(): string {
    return this.db
      .prepare(
        "SELECT count(*) || ':' || coalesce(max(updated_at), '') || ':' || coalesce(max(last_seeding_at), '') FROM engine_torrents",
      )
      .pluck()
      .get() as string
  }

  all(): StoredEngineStatus[] {
    return this.db
      .prepare(
        `SELECT infohash AS infoHash, engine, name, state, bytes_present AS bytesPresent, total_bytes AS totalBytes, uploaded, peers, error,
                first_seeding_at AS firstSeedingAt, last_seeding_at AS lastSeedingAt, updated_at AS updatedAt FROM engine_torrents ORDER BY name`,
      )
      .all() as StoredEngineStatus[]
  }
}
