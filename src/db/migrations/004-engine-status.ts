import type { Migration } from '../migration.js'

/** What the seeding engine last reported per torrent; owned and documented by src/engines/status.ts. */
export const migration004: Migration = {
  version: 4,
  name: 'engine-status',
  up(db) {
    db.exec(`
      CREATE TABLE engine_torrents (
        infohash TEXT PRIMARY KEY,
        engine TEXT NOT NULL,
        name TEXT NOT NULL,
        state TEXT NOT NULL,
        bytes_present INTEGER NOT NULL,
        total_bytes INTEGER NOT NULL,
        uploaded INTEGER NOT NULL,
        peers INTEGER NOT NULL,
        error TEXT,
        first_seeding_at TEXT,
        last_seeding_at TEXT,
        updated_at TEXT NOT NULL
      );
    `)
  },
}
