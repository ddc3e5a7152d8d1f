/**
 * SQL for the fleet's tables (migration 005). Every query on them is here; the rest of
 * src/fleet holds the policy. Times are ISO 8601 UTC with milliseconds, which sort as text.
 *
 * fleet_seedboxes        one row per seedbox ever polled: its URL (no credentials), the last
 *                        poll, the last poll that answered (`last_seen_at`), `failing_since`
 *                        (the first failed poll since the last answer; NULL while it answers),
 *                        the last error's code and message, `session-get` round trip, free bytes
 *                        at its path (or why unknown), daemon version, torrents held and in a
 *                        local error.
 * fleet_seedbox_history  one row per poll of each seedbox (ok, latency, free bytes, counts).
 * fleet_copies           the latest state of every torrent on every seedbox, as its last answered
 * poll saw it: `state` (src/engines/engine.ts `CopyState`, mapped by the client, the same
 *                        words for every kind), `native_state` (the daemon's own word: `6`,
 *                        `stalledUP`, `Seeding`, ...; migration 013), the raw
 *                        Transmission fields (status: -1 for other kinds, percentDone, error, errorString,
 *                        peersConnected, rateUpload, uploadedEver, isStalled), the best tracker
 *                        figures of its trackerStats, when it was first seen and last changed,
 *                        and when it was last written complete and seeding (a row is current as
 *                        of its seedbox's `last_seen_at`: unchanged copies are not rewritten).
 *                        A torrent the seedbox no longer has goes.
 * fleet_copy_history     one row per change of a copy's state or error text (and `gone`); a
 *                        seedbox's first answered poll is its inventory and writes none.
 * fleet_placements       the last plan: which seedboxes should hold each torrent (rank 0 = best).
 * fleet_actions          every push, start and removal, with its outcome and error.
 * swarm_scrapes          the swarm figures (seeders, leechers, completed) each tracker reported
 *                        for each torrent, per scrape: a time series.
 * swarm_trackers         per tracker: the last scrape, the last that answered, torrents asked, error.
 * fleet_external_torrents (migration 006) torrents the fleet keeps without a local copy (a seed
 *                        plan applied to the fleet): the seedboxes download them from the swarm.
 *                        Name, kind, collection, size and where the checked .torrent is kept.
 *
 * History tables are pruned by age (`fleet.history_days`, `scrape.keep_days`).
 */
import type { Statement } from 'better-sqlite3'
import type { Db } from '../db/index.js'
import { isFailedCopy } from '../engines/engine.js'
import type { SeedboxPoll, SeedboxTorrent } from './seedbox.js'

/** What the fleet needs of a torrent, whether aacseed made it or it came from a seed plan. */
export interface FleetTorrent {
  infohash: string
  name: string
  /** `other`: an opaque torrent (not an AAC release) a seed plan gave the fleet. */
  kind: 'meta' | 'data' | 'other'
  /** '' for an opaque torrent. */
  collection: string
  totalSize: number
  torrentPath: string
}

export interface SeedboxRow {
  name: string
  url: string
  lastPolledAt: string | null
  lastSeenAt: string | null
  failingSince: string | null
  errorCode: string | null
  error: string | null
  latencyMs: number | null
  freeBytes: number | null
  freeSpaceError: string | null
  version: string | null
  rpcVersion: number | null
  torrents: number
  errors: number
}

/** A stored copy: what the daemon reported (`SeedboxTorrent`), where, and when. */
export interface CopyRow extends SeedboxTorrent {
  seedbox: string
  firstSeenAt: string
  updatedAt: string
  lastCompleteAt: string | null
  lastSeedingAt: string | null
}

export interface ActionRow {
  at: string
  seedbox: string
  infohash: string
  action: 'add' | 'start' | 'remove'
  outcome: 'ok' | 'duplicate' | 'failed'
  errorCode: string | null
  error: string | null
}

export interface ScrapeFigures {
  infohash: string
  seeders: number
  leechers: number
  completed: number
}

export interface SwarmRow {
  seeders: number
  leechers: number
  completed: number
  /** ISO 8601 of the newest scrape the figures come from. */
  scrapedAt: string
}

export interface TrackerRow {
  tracker: string
  lastScrapedAt: string
  lastOkAt: string | null
  torrents: number
  error: string | null
}

/** What makes a stored copy differ from a polled one. */
function signature(...v: Array<string | number | null>): string {
  return v.join('\u0001')
}

const SEEDBOX_COLUMNS = `name, url, last_polled_at AS lastPolledAt, last_seen_at AS lastSeenAt, failing_since AS failingSince, error_code AS errorCode, error,
  latency_ms AS latencyMs, free_bytes AS freeBytes, free_space_error AS freeSpaceError, version, rpc_version AS rpcVersion, torrents, errors`

const COPY_COLUMNS = `seedbox, infohash, name, state, status, percent_done AS percentDone, error, error_string AS errorString, peers, rate_upload AS rateUpload,
  uploaded, stalled, seeders, leechers, downloads, native_state AS nativeState, first_seen_at AS firstSeenAt, updated_at AS updatedAt, last_complete_at AS lastCompleteAt, last_seeding_at AS lastSeedingAt`

/** Rows per upsert statement: fewer, larger statements write a first poll several times faster. */
const UPSERT_BATCH = 100

export class FleetStore {
  private readonly upserts = new Map<number, Statement>()

  constructor(readonly db: Db) {}

  /**
   * Stores an answered poll: the seedbox's figures, every copy's latest state, and the state
   * changes. Only copies whose fields changed are written (a seedbox's 2,000 idle torrents cost
   * a read, not 2,000 writes); a copy is current as of its seedbox's `last_seen_at`.
   */
  recordPoll(seedbox: string, url: string, poll: SeedboxPoll, at: string): void {
    const db = this.db
    const errors = poll.torrents.filter((t) => isFailedCopy(t.state)).length
    const before = new Map<string, { state: string; errorString: string; sig: string }>()
    const stored = db
      .prepare(
        `SELECT infohash, name, state, status, percent_done, error, error_string, peers, rate_upload, uploaded, stalled, seeders, leechers, downloads, native_state
         FROM fleet_copies WHERE seedbox = ?`,
      )
      .raw()
      .all(seedbox) as Array<
      [
        string,
        string,
        string,
        number,
        number,
        number,
        string,
        number,
        number,
        number,
        number,
        number | null,
        number | null,
        number | null,
        string,
      ]
    >
    for (const r of stored)
      before.set(r[0], {
        state: r[2],
        errorString: r[6],
        sig: signature(
          r[1],
          r[2],
          r[3],
          r[4],
          r[5],
          r[6],
          r[7],
          r[8],
          r[9],
          r[10],
          r[11],
          r[12],
          r[13],
          r[14],
        ),
      })
    // A seedbox's first answered poll is its inventory, not a change: no history rows for it.
    const firstPoll =
      db.prepare('SELECT 1 FROM fleet_seedboxes WHERE name = ? AND last_seen_at IS NOT NULL').get(seedbox) ===
      undefined
    const rows: unknown[][] = []
    const history = db.prepare(
      'INSERT INTO fleet_copy_history (at, seedbox, infohash, state, percent_done, error_string) VALUES (?, ?, ?, ?, ?, ?)',
    )
    const drop = db.prepare('DELETE FROM fleet_copies WHERE seedbox = ? AND infohash = ?')
    db.transaction(() => {
      db.prepare(
        `INSERT INTO fleet_seedboxes (name, url, last_polled_at, last_seen_at, failing_since, error_code, error, latency_ms, free_bytes, free_space_error, version, rpc_version, torrents, errors)
         VALUES (?, ?, ?, ?, NULL, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET url = excluded.url, last_polled_at = excluded.last_polled_at, last_seen_at = excluded.last_seen_at, failing_since = NULL,
           error_code = NULL, error = NULL, latency_ms = excluded.latency_ms, free_bytes = excluded.free_bytes, free_space_error = excluded.free_space_error,
           version = excluded.version, rpc_version = excluded.rpc_version, torrents = excluded.torrents, errors = excluded.errors`,
      ).run(
        seedbox,
        url,
        at,
        at,
        poll.latencyMs,
        poll.freeBytes,
        poll.freeSpaceError,
        poll.version,
        poll.rpcVersion,
        poll.torrents.length,
        errors,
      )
      db.prepare(
        'INSERT OR REPLACE INTO fleet_seedbox_history (at, seedbox, ok, latency_ms, free_bytes, torrents, errors, error_code) VALUES (?, ?, 1, ?, ?, ?, ?, NULL)',
      ).run(at, seedbox, poll.latencyMs, poll.freeBytes, poll.torrents.length, errors)
      for (const t of poll.torrents) {
        const state = t.state
        const stalled = t.stalled ? 1 : 0
        const old = before.get(t.infohash)
        before.delete(t.infohash)
        // What a copy's stored row holds of the poll, in column order; unchanged values are not written.
        const polled = [
          t.name,
          state,
          t.status,
          t.percentDone,
          t.error,
          t.errorString,
          t.peers,
          t.rateUpload,
          t.uploaded,
          stalled,
          t.seeders,
          t.leechers,
          t.downloads,
          t.nativeState ?? '',
        ]
        if (old && old.sig === signature(...polled)) continue
        const seedingAt = state === 'seeding' ? at : null
        rows.push([seedbox, t.infohash, ...polled, at, at, seedingAt, seedingAt])
        if (!firstPoll && (!old || old.state !== state || old.errorString !== t.errorString))
          history.run(at, seedbox, t.infohash, state, t.percentDone, t.errorString)
      }
      this.upsertCopies(rows)
      for (const gone of before.keys()) {
        drop.run(seedbox, gone)
        history.run(at, seedbox, gone, 'gone', 0, '')
      }
    })()
  }

  /** Writes copies, many rows per statement (a first poll writes thousands). */
  private upsertCopies(rows: readonly unknown[][]): void {
    for (let i = 0; i < rows.length; i += UPSERT_BATCH) {
      const chunk = rows.slice(i, i + UPSERT_BATCH)
      let stmt = this.upserts.get(chunk.length)
      if (!stmt) {
        stmt = this.db.prepare(
          `INSERT INTO fleet_copies (seedbox, infohash, name, state, status, percent_done, error, error_string, peers, rate_upload, uploaded, stalled, seeders, leechers, downloads, native_state, first_seen_at, updated_at, last_complete_at, last_seeding_at)
           VALUES ${Array.from({ length: chunk.length }, () => '(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}
           ON CONFLICT (seedbox, infohash) DO UPDATE SET name = excluded.name, state = excluded.state, status = excluded.status, percent_done = excluded.percent_done,
             error = excluded.error, error_string = excluded.error_string, peers = excluded.peers, rate_upload = excluded.rate_upload, uploaded = excluded.uploaded,
             stalled = excluded.stalled, seeders = excluded.seeders, leechers = excluded.leechers, downloads = excluded.downloads, native_state = excluded.native_state, updated_at = excluded.updated_at,
             last_complete_at = coalesce(excluded.last_complete_at, fleet_copies.last_complete_at), last_seeding_at = coalesce(excluded.last_seeding_at, fleet_copies.last_seeding_at)`,
        )
        this.upserts.set(chunk.length, stmt)
      }
      stmt.run(chunk.flat())
    }
  }

  /**
   * Stores a failed poll; `failing_since` keeps the first failure of the streak. The copies keep their last
   * known state.
   */
  recordFailure(seedbox: string, url: string, errorCode: string, error: string, at: string): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO fleet_seedboxes (name, url, last_polled_at, failing_since, error_code, error) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (name) DO UPDATE SET url = excluded.url, last_polled_at = excluded.last_polled_at,
             failing_since = coalesce(fleet_seedboxes.failing_since, excluded.failing_since), error_code = excluded.error_code, error = excluded.error`,
        )
        .run(seedbox, url, at, at, errorCode, error)
      this.db
        .prepare(
          'INSERT OR REPLACE INTO fleet_seedbox_history (at, seedbox, ok, error_code) VALUES (?, ?, 0, ?)',
        )
        .run(at, seedbox, errorCode)
    })()
  }

  seedboxes(): SeedboxRow[] {
    return this.db
      .prepare(`SELECT ${SEEDBOX_COLUMNS} FROM fleet_seedboxes ORDER BY name`)
      .all() as SeedboxRow[]
  }

  /** Every copy's latest state (all seedboxes, or one). */
  copies(seedbox?: string): CopyRow[] {
    const rows = (
      seedbox === undefined
        ? this.db.prepare(`SELECT ${COPY_COLUMNS} FROM fleet_copies ORDER BY seedbox, infohash`).all()
        : this.db
            .prepare(`SELECT ${COPY_COLUMNS} FROM fleet_copies WHERE seedbox = ? ORDER BY infohash`)
            .all(seedbox)
    ) as Array<Omit<CopyRow, 'stalled'> & { stalled: number }>
    return rows.map((r) => ({ ...r, stalled: r.stalled === 1 }))
  }

  /** A torrent's state changes, newest first. */
  copyHistory(
    infohash: string,
    limit = 100,
  ): Array<{ at: string; seedbox: string; state: string; percentDone: number; errorString: string }> {
    return this.db
      .prepare(
        'SELECT at, seedbox, state, percent_done AS percentDone, error_string AS errorString FROM fleet_copy_history WHERE infohash = ? ORDER BY at DESC, id DESC LIMIT ?',
      )
      .all(infohash, limit) as Array<{
      at: string
      seedbox: string
      state: string
      percentDone: number
      errorString: string
    }>
  }

  /** Replaces the stored plan. */
  savePlacement(holders: ReadonlyMap<string, readonly string[]>, at: string): void {
    const ins = this.db.prepare(
      'INSERT INTO fleet_placements (infohash, seedbox, rank, planned_at) VALUES (?, ?, ?, ?)',
    )
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM fleet_placements').run()
      for (const [hash, names] of holders) names.forEach((n, i) => ins.run(hash, n, i, at))
    })()
  }

  placements(): Map<string, string[]> {
    const out = new Map<string, string[]>()
    for (const r of this.db
      .prepare('SELECT infohash, seedbox FROM fleet_placements ORDER BY infohash, rank')
      .all() as Array<{ infohash: string; seedbox: string }>) {
      const list = out.get(r.infohash)
      if (list) list.push(r.seedbox)
      else out.set(r.infohash, [r.seedbox])
    }
    return out
  }

  recordAction(a: ActionRow): void {
    this.db
      .prepare(
        'INSERT INTO fleet_actions (at, seedbox, infohash, action, outcome, error_code, error) VALUES (@at, @seedbox, @infohash, @action, @outcome, @errorCode, @error)',
      )
      .run(a)
  }

  /** Newest first. */
  recentActions(limit = 50): ActionRow[] {
    return this.db
      .prepare(
        'SELECT at, seedbox, infohash, action, outcome, error_code AS errorCode, error FROM fleet_actions ORDER BY at DESC, id DESC LIMIT ?',
      )
      .all(limit) as ActionRow[]
  }

  /** Drops poll history and the action log older than `before`. */
  pruneHistory(before: string): number {
    let n = 0
    this.db.transaction(() => {
      n += this.db.prepare('DELETE FROM fleet_seedbox_history WHERE at < ?').run(before).changes
      n += this.db.prepare('DELETE FROM fleet_copy_history WHERE at < ?').run(before).changes
      n += this.db.prepare('DELETE FROM fleet_actions WHERE at < ?').run(before).changes
    })()
    return n
  }

  // ---- swarm ---------------------------------------------------------------------------------

  externalTorrents(): FleetTorrent[] {
    return this.db
      .prepare(
        'SELECT infohash, name, kind, collection, total_size AS totalSize, torrent_path AS torrentPath FROM fleet_external_torrents ORDER BY collection, name',
      )
      .all() as FleetTorrent[]
  }

  /** Returns whether it was new. */
  addExternalTorrent(t: FleetTorrent, at: string): boolean {
    return (
      this.db
        .prepare(
          'INSERT INTO fleet_external_torrents (infohash, name, kind, collection, total_size, torrent_path, added_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (infohash) DO NOTHING',
        )
        .run(t.infohash, t.name, t.kind, t.collection, t.totalSize, t.torrentPath, at).changes > 0
    )
  }

  recordScrape(
    tracker: string,
    figures: readonly ScrapeFigures[],
    asked: number,
    at: string,
    error: string | null,
  ): void {
    const ins = this.db.prepare(
      'INSERT OR REPLACE INTO swarm_scrapes (infohash, tracker, scraped_at, seeders, leechers, completed) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.db.transaction(() => {
      for (const f of figures) ins.run(f.infohash, tracker, at, f.seeders, f.leechers, f.completed)
      this.db
        .prepare(
          `INSERT INTO swarm_trackers (tracker, last_scraped_at, last_ok_at, torrents, error) VALUES (?, ?, ?, ?, ?)
           ON CONFLICT (tracker) DO UPDATE SET last_scraped_at = excluded.last_scraped_at, last_ok_at = coalesce(excluded.last_ok_at, swarm_trackers.last_ok_at),
             torrents = excluded.torrents, error = excluded.error`,
        )
        .run(tracker, at, figures.length > 0 || error === null ? at : null, asked, error)
    })()
  }

  /** Per torrent, the largest figures of each tracker's latest scrape. */
  latestSwarm(): Map<string, SwarmRow> {
    const rows = this.db
      .prepare(
        `SELECT s.infohash, MAX(s.seeders) AS seeders, MAX(s.leechers) AS leechers, MAX(s.completed) AS completed, MAX(s.scraped_at) AS scrapedAt
         FROM swarm_scrapes s
         WHERE s.scraped_at = (SELECT MAX(x.scraped_at) FROM swarm_scrapes x WHERE x.infohash = s.infohash AND x.tracker = s.tracker)
         GROUP BY s.infohash`,
      )
      .all() as Array<SwarmRow & { infohash: string }>
    return new Map(
      rows.map((r) => [
        r.infohash,
        { seeders: r.seeders, leechers: r.leechers, completed: r.completed, scrapedAt: r.scrapedAt },
      ]),
    )
  }

  /** One torrent's figures over time, oldest first. */
  swarmSeries(
    infohash: string,
  ): Array<{ tracker: string; scrapedAt: string; seeders: number; leechers: number; completed: number }> {
    return this.db
      .prepare(
        'SELECT tracker, scraped_at AS scrapedAt, seeders, leechers, completed FROM swarm_scrapes WHERE infohash = ? ORDER BY scraped_at, tracker',
      )
      .all(infohash) as Array<{
      tracker: string
      scrapedAt: string
      seeders: number
      leechers: number
      completed: number
    }>
  }

  trackers(): TrackerRow[] {
    return this.db
      .prepare(
        'SELECT tracker, last_scraped_at AS lastScrapedAt, last_ok_at AS lastOkAt, torrents, error FROM swarm_trackers ORDER BY tracker',
      )
      .all() as TrackerRow[]
  }

  pruneScrapes(before: string): number {
    return this.db.prepare('DELETE FROM swarm_scrapes WHERE scraped_at < ?').run(before).changes
  }
}
