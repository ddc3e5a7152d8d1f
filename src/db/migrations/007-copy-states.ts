import type { Migration } from '../migration.js'

/**
 * One copy-state vocabulary (src/engines/engine.ts `CopyState`) for the local engine and the
 * seedboxes: the fleet's `complete` is `seeding`; the engines' `paused` is `stopped`, and
 * `queued` (to verify, download or seed: the row does not say which) becomes `checking` until
 * the next `engine_status` run rewrites it.
 */
export const migration007: Migration = {
  version: 7,
  name: 'copy-states',
  up(db) {
    db.exec(`
      UPDATE fleet_copies SET state = 'seeding' WHERE state = 'complete';
      UPDATE fleet_copy_history SET state = 'seeding' WHERE state = 'complete';
      UPDATE engine_torrents SET state = 'stopped' WHERE state = 'paused';
      UPDATE engine_torrents SET state = 'checking' WHERE state = 'queued';
    `)
  },
}
