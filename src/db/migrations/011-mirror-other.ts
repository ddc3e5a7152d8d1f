import type { Migration } from '../migration.js'

/**
 * Mirror downloads of opaque torrents (owned and documented by src/mirror/store.ts): kind
 * `other`, the groups whose folder they go into, and the identity of their data when placed
 * (so seeding after a restart verifies only data that changed).
 */
export const migration011: Migration = {
  version: 11,
  name: 'mirror-other',
  up(db) {
    db.exec(`
      CREATE TABLE mirror_downloads_011 (
        btih TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('meta', 'data', 'other')),
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
        done_at TEXT,
        top_group TEXT NOT NULL DEFAULT '',
        group_name TEXT NOT NULL DEFAULT '',
        data_identity TEXT
      );
      INSERT INTO mirror_downloads_011 (btih, name, kind, collection, source, wanted_by, state, root, torrent, total_size, piece_length, private,
          info_source, announce, attempts, next_attempt_at, error_code, error, created_at, updated_at, done_at)
        SELECT btih, name, kind, collection, source, wanted_by, state, root, torrent, total_size, piece_length, private,
          info_source, announce, attempts, next_attempt_at, error_code, error, created_at, updated_at, done_at FROM mirror_downloads;
      DROP TABLE mirror_downloads;
      ALTER TABLE mirror_downloads_011 RENAME TO mirror_downloads;
      CREATE INDEX mirror_downloads_state ON mirror_downloads(state);
      CREATE INDEX mirror_downloads_name ON mirror_downloads(name);
    `)
  },
}
