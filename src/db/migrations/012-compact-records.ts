import type { Migration } from '../migration.js'
import { aacidSeconds, aacidTag } from '../../catalog/record-key.js'

/**
 * Records keyed by (meta_file_id, seconds, tag, line) instead of by the AACID text, and the
 * frame column dropped (it follows from the offset and meta_frames): about 32 bytes a record
 * instead of 96 (src/catalog/record-key.ts says why a tag is enough). store.ts owns the table.
 *
 * The file's records now sit together under its id, so a file's records, its overlap with
 * another and its deletion are prefix scans of the one B-tree; a lookup by AACID goes through
 * the files of its collection whose range holds it (meta_files_collection).
 *
 * Existing rows are converted in place, tags computed here by the same function a scan uses.
 * The pages the old table held are reused by later scans; `VACUUM` gives them back to the
 * file system at once.
 */
export const migration012: Migration = {
  version: 12,
  name: 'compact-records',
  up(db) {
    db.function('aacseed_aacid_seconds', { deterministic: true }, (a) => aacidSeconds(String(a)))
    db.function('aacseed_aacid_tag', { deterministic: true }, (a) => aacidTag(String(a)))
    db.exec(`
      CREATE TABLE records_compact (
        meta_file_id INTEGER NOT NULL,
        seconds INTEGER NOT NULL,
        tag INTEGER NOT NULL,
        line INTEGER NOT NULL,
        offset INTEGER NOT NULL,
        length INTEGER NOT NULL,
        data_folder TEXT,
        hash TEXT,
        PRIMARY KEY (meta_file_id, seconds, tag, line)
      ) WITHOUT ROWID;
      INSERT INTO records_compact (meta_file_id, seconds, tag, line, offset, length, data_folder, hash)
        SELECT meta_file_id, aacseed_aacid_seconds(aacid), aacseed_aacid_tag(aacid), line, offset, length, data_folder, hash
        FROM records ORDER BY 1, 2, 3, 4;
      DROP TABLE records;
      ALTER TABLE records_compact RENAME TO records;
    `)
  },
}
