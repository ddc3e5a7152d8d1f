import type { Migration } from '../migration.js'

/**
 * Mirror sources, upstream torrents and downloads (owned and documented by src/mirror/store.ts),
 * and the torrents the fleet keeps without a local copy (src/fleet/store.ts).
 */
export const migration006: Migration = {
  version: 6,
  name: 'mirror',
  up(db) {
    db.exec(`
      CREATE TABLE mirror_sources (
        name TEXT PRIMARY KEY,
        location TEXT NOT NULL,
        fetched_at TEXT,
        ok_at TEXT,
        error TEXT,
        offered INTEGER NOT NULL DEFAULT 0,
        rejected INTEGER NOT NULL DEFAULT 0
      );
      CREATE TABLE upstream_torrents (
        source TEXT NOT NULL,
        btih TEXT NOT NULL,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('meta', 'data')),
        collection TEXT NOT NULL,
        range_from TEXT NOT NULL,
        range_to TEXT NOT NULL,
        range_from_s INTEGER NOT NULL,
        range_to_s INTEGER NOT NULL,
        torrent_url TEXT,
        magnet TEXT,
        data_size INTEGER,
        num_files INTEGER,
        seeders INTEGER,
        leechers INTEGER,
        completed INTEGER,
        scraped_at TEXT,
        obsolete INTEGER NOT NULL,
        embargo INTEGER NOT NULL,
        upstream_added_at TEXT,
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        listed INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (source, btih)
      );
      CREATE INDEX upstream_torrents_btih ON upstream_torrents(btih);
      CREATE INDEX upstream_torrents_name ON upstream_torrents(name);
      CREATE TABLE mirror_rejections (
        id INTEGER PRIMARY KEY,
        source TEXT NOT NULL,
        entry TEXT NOT NULL,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        seen_at TEXT NOT NULL
      );
      CREATE INDEX mirror_rejections_source ON mirror_rejections(source);
      CREATE TABLE mirror_downloads (
        btih TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('meta', 'data')),
        collection TEXT NOT NULL,
        source TEXT NOT NULL,
        wanted_by TEXT NOT NULL CHECK (wanted_by IN ('sync', 'plan')),
        state TEXT NOT NULL CHECK (state IN ('queued', 'downloading', 'verifying', 'placed', 'done', 'rejected')),
        root TEXT NOT NULL,
        torrent BLOB,
        total_size INTEGER,
        piece_length INTEGER,
        private INTEGER,
        info_source TEXT,
        announce TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT,
        error_code TEXT,
        error TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        done_at TEXT
      );
      CREATE INDEX mirror_downloads_state ON mirror_downloads(state);
      CREATE INDEX mirror_downloads_name ON mirror_downloads(name);
      CREATE TABLE fleet_external_torrents (
        infohash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('meta', 'data')),
        collection TEXT NOT NULL,
        total_size INTEGER NOT NULL,
        torrent_path TEXT NOT NULL,
        added_at TEXT NOT NULL
      );
    `)
  },
}
