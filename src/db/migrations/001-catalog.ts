import type { Migration } from '../migration.js'

/**
 * The release catalog. Every table is owned by src/catalog/store.ts, which documents the
 * meaning of each column; this file only creates them.
 *
 * `records` has one B-tree only, keyed by AACID: a file's records are exactly the keys in
 * `aacid__{collection}__{from}` … `aacid__{collection}__{to}__\uffff`, so lookups by AACID,
 * by overlap and by file are all range scans, and a million inserts cost one index, not two.
 * That is also why it has no foreign key: a cascade would need a second index.
 *
 * Rows of a metadata file or data folder are written under a row in state `scanning` and
 * switched to `complete` in the same transaction that drops the previous version, so a scan
 * killed at any moment leaves the last complete catalog intact plus leftovers the next scan
 * deletes.
 */
export const migration001: Migration = {
  version: 1,
  name: 'catalog',
  up(db) {
    db.exec(`
      CREATE TABLE roots (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE
      );

      CREATE TABLE collections (
        name TEXT PRIMARY KEY,
        first_seen_at TEXT NOT NULL
      );

      CREATE TABLE meta_files (
        id INTEGER PRIMARY KEY,
        root_id INTEGER NOT NULL REFERENCES roots(id),
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        collection TEXT NOT NULL REFERENCES collections(name),
        range_from TEXT NOT NULL,
        range_to TEXT NOT NULL,
        range_from_s INTEGER NOT NULL,
        range_to_s INTEGER NOT NULL,
        extension TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('scanning', 'complete')),
        records INTEGER NOT NULL DEFAULT 0,
        decompressed_bytes INTEGER NOT NULL DEFAULT 0,
        frames INTEGER NOT NULL DEFAULT 0,
        problems INTEGER NOT NULL DEFAULT 0,
        scanned_at TEXT NOT NULL
      );
      CREATE INDEX meta_files_root_name ON meta_files(root_id, name);
      CREATE INDEX meta_files_collection ON meta_files(collection, range_from_s);

      CREATE TABLE meta_frames (
        meta_file_id INTEGER NOT NULL REFERENCES meta_files(id) ON DELETE CASCADE,
        frame INTEGER NOT NULL,
        compressed_offset INTEGER NOT NULL,
        decompressed_offset INTEGER NOT NULL,
        PRIMARY KEY (meta_file_id, frame)
      ) WITHOUT ROWID;

      CREATE TABLE records (
        aacid TEXT NOT NULL,
        meta_file_id INTEGER NOT NULL,
        line INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        frame INTEGER NOT NULL,
        data_folder TEXT,
        hash TEXT,
        PRIMARY KEY (aacid, meta_file_id, line)
      ) WITHOUT ROWID;

      CREATE TABLE meta_file_folders (
        meta_file_id INTEGER NOT NULL REFERENCES meta_files(id) ON DELETE CASCADE,
        data_folder TEXT NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (meta_file_id, data_folder)
      ) WITHOUT ROWID;
      CREATE INDEX meta_file_folders_folder ON meta_file_folders(data_folder);

      CREATE TABLE data_folders (
        id INTEGER PRIMARY KEY,
        root_id INTEGER NOT NULL REFERENCES roots(id),
        name TEXT NOT NULL,
        prefix TEXT NOT NULL,
        collection TEXT NOT NULL REFERENCES collections(name),
        range_from TEXT NOT NULL,
        range_to TEXT NOT NULL,
        range_from_s INTEGER NOT NULL,
        range_to_s INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        inode INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('scanning', 'complete')),
        files INTEGER NOT NULL DEFAULT 0,
        bytes INTEGER NOT NULL DEFAULT 0,
        max_file_mtime_ns INTEGER NOT NULL DEFAULT 0,
        problems INTEGER NOT NULL DEFAULT 0,
        scanned_at TEXT NOT NULL
      );
      CREATE INDEX data_folders_root_name ON data_folders(root_id, name);
      CREATE INDEX data_folders_name ON data_folders(name);
      CREATE INDEX data_folders_collection ON data_folders(collection, range_from_s);

      CREATE TABLE data_files (
        data_folder_id INTEGER NOT NULL REFERENCES data_folders(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        PRIMARY KEY (data_folder_id, name)
      ) WITHOUT ROWID;

      CREATE TABLE problems (
        id INTEGER PRIMARY KEY,
        root_id INTEGER NOT NULL REFERENCES roots(id),
        scope TEXT NOT NULL CHECK (scope IN ('root', 'meta', 'data', 'cross', 'torrent')),
        meta_file_id INTEGER REFERENCES meta_files(id) ON DELETE CASCADE,
        data_folder_id INTEGER REFERENCES data_folders(id) ON DELETE CASCADE,
        collection TEXT,
        path TEXT NOT NULL,
        line INTEGER,
        aacid TEXT,
        code TEXT NOT NULL,
        message TEXT NOT NULL,
        found_at TEXT NOT NULL
      );
      CREATE INDEX problems_root_scope ON problems(root_id, scope);
      CREATE INDEX problems_meta ON problems(meta_file_id);
      CREATE INDEX problems_data ON problems(data_folder_id);
      CREATE INDEX problems_collection ON problems(scope, collection);

      CREATE TABLE scan_runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        outcome TEXT NOT NULL CHECK (outcome IN ('running', 'ok', 'problems', 'failed', 'interrupted')),
        roots TEXT NOT NULL,
        entries_read INTEGER NOT NULL DEFAULT 0,
        entries_unchanged INTEGER NOT NULL DEFAULT 0,
        entries_removed INTEGER NOT NULL DEFAULT 0,
        records INTEGER NOT NULL DEFAULT 0,
        bytes_read INTEGER NOT NULL DEFAULT 0,
        problems INTEGER NOT NULL DEFAULT 0,
        error TEXT
      );
    `)
  },
}
