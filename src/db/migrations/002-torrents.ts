import type { Migration } from '../migration.js'

/** The torrents aacseed made; owned and documented by src/torrents/store.ts. */
export const migration002: Migration = {
  version: 2,
  name: 'torrents',
  up(db) {
    db.exec(`
      CREATE TABLE torrents (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL CHECK (kind IN ('meta', 'data')),
        collection TEXT NOT NULL,
        range_from TEXT NOT NULL,
        range_to TEXT NOT NULL,
        range_from_s INTEGER NOT NULL,
        range_to_s INTEGER NOT NULL,
        root_id INTEGER NOT NULL REFERENCES roots(id),
        infohash TEXT NOT NULL,
        piece_length INTEGER NOT NULL,
        piece_count INTEGER NOT NULL,
        total_size INTEGER NOT NULL,
        file_count INTEGER NOT NULL,
        torrent_path TEXT NOT NULL,
        torrent_size INTEGER NOT NULL,
        data_identity TEXT NOT NULL,
        made_at TEXT NOT NULL,
        added_at TEXT NOT NULL
      );
      CREATE INDEX torrents_collection ON torrents(collection, range_from_s);
      CREATE UNIQUE INDEX torrents_infohash ON torrents(infohash);
    `)
  },
}
