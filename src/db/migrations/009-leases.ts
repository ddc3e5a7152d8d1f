import type { Migration } from '../migration.js'

/**
 * Leases: which process may write what, across processes sharing one database (`serve` and
 * the CLI). Owned by src/jobs/leases.ts, which holds every query on the table and documents
 * each column; this file only creates it (and stays as written once shipped).
 */
export const migration009: Migration = {
  version: 9,
  name: 'leases',
  up(db) {
    db.exec(`
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        job TEXT NOT NULL,
        holder TEXT NOT NULL,
        pid INTEGER NOT NULL,
        host TEXT NOT NULL,
        token TEXT NOT NULL,
        acquired_at TEXT NOT NULL,
        heartbeat_at TEXT NOT NULL,
        http_url TEXT
      );
    `)
  },
}
