import type { Migration } from '../migration.js'

/**
 * The fleet's polls, placements and push log, and the swarm scrapes; owned and documented by
 * src/fleet/store.ts.
 */
export const migration005: Migration = {
  version: 5,
  name: 'fleet',
  up(db) {
    db.exec(`
      CREATE TABLE fleet_seedboxes (
        name TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        last_polled_at TEXT,
        last_seen_at TEXT,
        failing_since TEXT,
        error_code TEXT,
        error TEXT,
        latency_ms REAL,
        free_bytes INTEGER,
        free_space_error TEXT,
        version TEXT,
        rpc_version INTEGER,
        torrents INTEGER NOT NULL DEFAULT 0,
        errors INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE fleet_seedbox_history (
        at TEXT NOT NULL,
        seedbox TEXT NOT NULL,
        ok INTEGER NOT NULL,
        latency_ms REAL,
        free_bytes INTEGER,
        torrents INTEGER,
        errors INTEGER,
        error_code TEXT,
        PRIMARY KEY (seedbox, at)
      ) WITHOUT ROWID;
      CREATE INDEX fleet_seedbox_history_at ON fleet_seedbox_history(at);
      CREATE TABLE fleet_copies (
        seedbox TEXT NOT NULL,
        infohash TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        status INTEGER NOT NULL,
        percent_done REAL NOT NULL,
        error INTEGER NOT NULL,
        error_string TEXT NOT NULL,
        peers INTEGER NOT NULL,
        rate_upload INTEGER NOT NULL,
        uploaded INTEGER NOT NULL,
        stalled INTEGER NOT NULL,
        seeders INTEGER,
        leechers INTEGER,
        downloads INTEGER,
        first_seen_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_complete_at TEXT,
        last_seeding_at TEXT,
        PRIMARY KEY (seedbox, infohash)
      ) WITHOUT ROWID;
      CREATE TABLE fleet_copy_history (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        seedbox TEXT NOT NULL,
        infohash TEXT NOT NULL,
        state TEXT NOT NULL,
        percent_done REAL NOT NULL,
        error_string TEXT NOT NULL
      );
      CREATE INDEX fleet_copy_history_at ON fleet_copy_history(at);
      CREATE INDEX fleet_copy_history_torrent ON fleet_copy_history(infohash, at);
      CREATE TABLE fleet_placements (
        infohash TEXT NOT NULL,
        seedbox TEXT NOT NULL,
        rank INTEGER NOT NULL,
        planned_at TEXT NOT NULL,
        PRIMARY KEY (infohash, seedbox)
      ) WITHOUT ROWID;
      CREATE TABLE fleet_actions (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        seedbox TEXT NOT NULL,
        infohash TEXT NOT NULL,
        action TEXT NOT NULL CHECK (action IN ('add', 'start', 'remove')),
        outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'duplicate', 'failed')),
        error_code TEXT,
        error TEXT
      );
      CREATE INDEX fleet_actions_at ON fleet_actions(at);
      CREATE TABLE swarm_scrapes (
        infohash TEXT NOT NULL,
        tracker TEXT NOT NULL,
        scraped_at TEXT NOT NULL,
        seeders INTEGER NOT NULL,
        leechers INTEGER NOT NULL,
        completed INTEGER NOT NULL,
        PRIMARY KEY (infohash, tracker, scraped_at)
      ) WITHOUT ROWID;
      CREATE INDEX swarm_scrapes_at ON swarm_scrapes(scraped_at);
      CREATE TABLE swarm_trackers (
        tracker TEXT PRIMARY KEY,
        last_scraped_at TEXT NOT NULL,
        last_ok_at TEXT,
        torrents INTEGER NOT NULL,
        error TEXT
      );
    `)
  },
}
