import type { Migration } from '../migration.js'

/**
 * A record names its data folder by a small integer, the id of its name in `record_folders`,
 * instead of repeating the name (70–90 bytes) on every row: a data-bearing collection's
 * records cost that much again without it. src/catalog/store.ts owns both tables.
 *
 * The names table is per catalog, not the `data_folders` rows: a record may name a folder no
 * root holds (yet), and a folder's row is replaced whenever it is rescanned, while a record's
 * reference must stay. A name is kept once added (one row per folder ever named).
 *
 * Existing rows are converted in place, ordered by key like a fresh table.
 */
export const migration015: Migration = {
  version: 15,
  name: 'record-folder-ids',
  up(db) {
    db.exec(`
      CREATE TABLE record_folders (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE
      );
      INSERT INTO record_folders (name)
        SELECT DISTINCT data_folder FROM records WHERE data_folder IS NOT NULL ORDER BY 1;
      CREATE TABLE records_folder_ids (
        meta_file_id INTEGER NOT NULL,
        seconds INTEGER NOT NULL,
        tag INTEGER NOT NULL,
        line INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        folder_id INTEGER,
        hash TEXT,
        PRIMARY KEY (meta_file_id, seconds, tag, line)
      ) WITHOUT ROWID;
      INSERT INTO records_folder_ids (meta_file_id, seconds, tag, line, offset, length, folder_id, hash)
        SELECT r.meta_file_id, r.seconds, r.tag, r.line, r.offset, r.length, f.id, r.hash
        FROM records r LEFT JOIN record_folders f ON f.name = r.data_folder ORDER BY 1, 2, 3, 4;
      DROP TABLE records;
      ALTER TABLE records_folder_ids RENAME TO records;
    `)
  },
}
