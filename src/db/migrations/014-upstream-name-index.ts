import type { Migration } from '../migration.js'

/**
 * Drops the index on `upstream_torrents(name)` (owned by src/mirror/store.ts). Storing a
 * staged list merges it in btih order, sequential in every other key; this index alone took
 * its rows in random order and cost two thirds of the merge (a million-entry list). Nothing
 * reads the table by name any more: a release name listed with two btih is found in the
 * staged list, and its rows are un-listed by btih.
 */
export const migration014: Migration = {
  version: 14,
  name: 'upstream-name-index',
  up(db) {
    db.exec('DROP INDEX IF EXISTS upstream_torrents_name')
  },
}
