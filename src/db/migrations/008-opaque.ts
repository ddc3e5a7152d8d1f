import type { Migration } from '../migration.js'

/**
 * Opaque torrents: list entries that are not AAC releases (owned and documented by
 * src/mirror/store.ts), the groups of every upstream torrent, and what the fleet keeps of them.
 */
export const migration008: Migration = {
  version: 8,
  name: 'opaque',
  up(db) {
    db.exec(`
      ALTER TABLE upstream_torrents ADD COLUMN top_group TEXT NOT NULL DEFAULT '';
      ALTER TABLE upstream_torrents ADD COLUMN group_name TEXT NOT NULL DEFAULT '';
      UPDATE upstream_torrents SET group_name = collection;
      ALTER TABLE mirror_sources ADD COLUMN others INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE mirror_sources ADD COLUMN duplicates INTEGER NOT NULL DEFAULT 0;
      CREATE TABLE upstream_opaque (
        source TEXT NOT NULL,
        btih TEXT NOT NULL,
        display_name TEXT NOT NULL,
        top_group TEXT NOT NULL,
        group_name TEXT NOT NULL,
        torrent_url TEXT,
        magnet TEXT,
        torrent_size INTEGER,
        data_size INTEGER,
        num_files INTEGER,
        seeders INTEGER,
        leechers INTEGER,
        completed INTEGER,
        scraped_at TEXT,
        upstream_added_at TEXT,
        obsolete INTEGER NOT NULL,
        embargo INTEGER NOT NULL,
        partially_broken INTEGER NOT NULL,
        is_metadata INTEGER NOT NULL,
        entry TEXT NOT NULL,
        first_seen_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL,
        listed INTEGER NOT NULL DEFAULT 1,
        PRIMARY KEY (source, btih)
      );
      CREATE INDEX upstream_opaque_btih ON upstream_opaque(btih);
      CREATE INDEX upstream_opaque_group ON upstream_opaque(group_name);
      -- The fleet keeps opaque torrents too (kind 'other', no collection: '').
      CREATE TABLE fleet_external_torrents_007 (
        infohash TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('meta', 'data', 'other')),
        collection TEXT NOT NULL,
        total_size INTEGER NOT NULL,
        torrent_path TEXT NOT NULL,
        added_at TEXT NOT NULL
      );
      INSERT INTO fleet_external_torrents_007 (infohash, name, kind, collection, total_size, torrent_path, added_at)
        SELECT infohash, name, kind, collection, total_size, torrent_path, added_at FROM fleet_external_torrents;
      DROP TABLE fleet_external_torrents;
      ALTER TABLE fleet_external_torrents_007 RENAME TO fleet_external_torrents;
    `)
  },
}
