import type { Migration } from '../migration.js'

/**
 * Upstream's `partially_broken` flag, kept so the list we publish for a mirrored release says what upstream
 * said.
 */
export const migration010: Migration = {
  version: 10,
  name: 'upstream-flags',
  up(db) {
    db.exec(`ALTER TABLE upstream_torrents ADD COLUMN partially_broken INTEGER NOT NULL DEFAULT 0;`)
  },
}
