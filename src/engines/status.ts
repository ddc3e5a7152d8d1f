/**
 * SQL for `engine_torrents` (migration 004): the seeding engine's latest report per torrent.
 *
 * engine_torrents  infohash, which engine, name, state (`CopyState`, src/engines/engine.ts), bytes present
 * and
 *                  total, uploaded, peers, the engine's error text, when it was first and last
 *                  seen seeding (for the list's `aa_currently_seeding`: seen within 7 days),
 *                  and when this row was written. Torrents the engine no longer reports go.
 *                  A row that changed is written at once; the timestamps of unchanged rows
 *                  move at most once a minute (`TIMESTAMPS_EVERY_MS`), so polled every second
 *                  they lag by up to a minute, and polled every minute (the default) not at all.
 */
import type { Db } from '../db/index.js'
import type { CopyState, EngineTorrentStatus } from './engine.js'

export interface StoredEngineStatus extends EngineTorrentStatus {
  engine: string
  firstSeedingAt: string | null
  lastSeedingAt: string | null
  updatedAt: string
}

/**
 * What one connection last wrote for one engine: valid while no other connection has committed
 * since (`PRAGMA data_version` on this connection moves exactly then), so the table still holds
 * exactly these rows.
 */
interface Written {
  engine: string
  dataVersion: number
  /**
   * By infohash: the status last written, and the report that last listed it. Kept and updated
   * from one report to the next, not rebuilt: a map of 10,000 new statuses per poll outlived the
   * young generation (it is kept until the next poll) and was old-generation garbage at every
   * poll. An unchanged torrent keeps its entry and its old status; only changes allocate.
   */
  rows: Map<string, { status: EngineTorrentStatus; report: number }>
  /** Counts the reports written while valid; the entries' `report` is compared with it. */
  report: number
  /** When the timestamps of every row last moved (ms). */
  stampedAt: number
}

/**
 * Rewriting every row's timestamps is most of a report's cost once little changes (10,000 rows:
 * tens of milliseconds of the event loop, and the whole table into the WAL); against a 7-day
 * window a minute is precise enough.
 */
export const TIMESTAMPS_EVERY_MS = 60_000

const written = new WeakMap<Db, Written>()

const sameStatus = (a: EngineTorrentStatus, b: EngineTorrentStatus): boolean =>
  a.name === b.name &&
  a.state === b.state &&
  a.bytesPresent === b.bytesPresent &&
  a.totalBytes === b.totalBytes &&
  a.uploaded === b.uploaded &&
  a.peers === b.peers &&
  a.error === b.error

export class EngineStatusStore {
  constructor(readonly db: Db) {}

  /**
   * Replaces the engine's report in one transaction: every reported row that changed, and every
   * row when its timestamps are due (see `TIMESTAMPS_EVERY_MS`), ends up with `updated_at` = `at`
   * (and `last_seeding_at` = `at` when seeding); rows it no longer reports go.
   *
   * At 10,000 torrents an upsert per row cost 60–100 ms of the event loop on every poll, the
   * longest stall `serve` had while answering the API (its engine_status runs every second in
   * `bench:seed`). When this connection wrote the previous report and nobody else has written
   * since, only the rows that changed are upserted, and the timestamps of the rest move in one
   * set-based UPDATE when due. Otherwise (first report, another writer) every row is written.
   */
  record(engine: string, statuses: readonly EngineTorrentStatus[], at = new Date().toISOString()): void {
    const prev = written.get(this.db)
    const valid = prev !== undefined && prev.engine === engine && prev.dataVersion === this.#dataVersion()
    // Forgotten first: if the transaction fails, the next report is written in full (with a new map).
    written.delete(this.db)
    const rows = valid ? prev.rows : new Map<string, { status: EngineTorrentStatus; report: number }>()
    const report = valid ? prev.report + 1 : 0
    const now = Date.parse(at)
    const stamp = !valid || !(now - prev.stampedAt < TIMESTAMPS_EVERY_MS && now >= prev.stampedAt)
    this.db.transaction(() => {
      const upsert = this.#upsert()
      // Entries this report lists; fewer than the map holds: some torrents are gone.
      let listed = 0
      for (const s of statuses) {
        let row = rows.get(s.infoHash)
        if (row === undefined) {
          row = { status: s, report: -1 }
          rows.set(s.infoHash, row)
          upsert.run({ ...s, engine, seedingAt: s.state === 'seeding' ? at : null, at })
        } else if (!sameStatus(row.status, s)) {
          row.status = s
          upsert.run({ ...s, engine, seedingAt: s.state === 'seeding' ? at : null, at })
        }
        if (row.report !== report) {
          row.report = report
          listed++
        }
      }
      if (valid) {
        if (listed < rows.size) {
          const remove = this.db.prepare('DELETE FROM engine_torrents WHERE infohash = ? AND engine = ?')
          rows.forEach((row, infoHash) => {
            if (row.report === report) return
            remove.run(infoHash, engine)
            rows.delete(infoHash)
          })
        }
        // The rows left unchanged: the same timestamps the upsert gives them.
        if (stamp)
          this.db
            .prepare(
              `UPDATE engine_torrents SET updated_at = @at,
               first_seeding_at = CASE WHEN state = 'seeding' THEN coalesce(first_seeding_at, @at) ELSE first_seeding_at END,
               last_seeding_at = CASE WHEN state = 'seeding' THEN @at ELSE last_seeding_at END
             WHERE engine = @engine AND updated_at <> @at`,
            )
            .run({ engine, at })
      } else
        this.db.prepare('DELETE FROM engine_torrents WHERE engine = ? AND updated_at <> ?').run(engine, at)
    })()
    written.set(this.db, {
      engine,
      dataVersion: this.#dataVersion(),
      rows,
      report,
      stampedAt: !stamp && valid ? prev.stampedAt : now,
    })
  }

  #dataVersion(): number {
    return this.db.prepare('PRAGMA data_version').pluck().get() as number
  }

  #upsert() {
    return this.db.prepare(
      `INSERT INTO engine_torrents (infohash, engine, name, state, bytes_present, total_bytes, uploaded, peers, error, first_seeding_at, last_seeding_at, updated_at)
       VALUES (@infoHash, @engine, @name, @state, @bytesPresent, @totalBytes, @uploaded, @peers, @error, @seedingAt, @seedingAt, @at)
       ON CONFLICT (infohash) DO UPDATE SET engine = excluded.engine, name = excluded.name, state = excluded.state, bytes_present = excluded.bytes_present,
         total_bytes = excluded.total_bytes, uploaded = excluded.uploaded, peers = excluded.peers, error = excluded.error,
         first_seeding_at = coalesce(engine_torrents.first_seeding_at, excluded.first_seeding_at),
         last_seeding_at = coalesce(excluded.last_seeding_at, engine_torrents.last_seeding_at), updated_at = excluded.updated_at`,
    )
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
