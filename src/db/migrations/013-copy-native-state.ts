import type { Migration } from '../migration.js'

/**
 * `fleet_copies.native_state` (owned and documented by src/fleet/store.ts): the daemon's own word
 * for a copy's state, for every kind (`status` holds a number, Transmission's alone; -1 for the
 * others). Rows written before it say '' until their next change.
 */
export const migration013: Migration = {
  version: 13,
  name: 'copy-native-state',
  up(db) {
    db.exec(`ALTER TABLE fleet_copies ADD COLUMN native_state TEXT NOT NULL DEFAULT ''`)
  },
}
