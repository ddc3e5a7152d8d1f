import { join } from 'node:path'
import { AacseedError } from '../errors.js'
import type { Db } from '../db/index.js'
import { forEachRecordBytes } from './record-bytes.js'
import { sameKey } from './record-key.js'
import { checkRecordLine } from './record-line.js'
import { CatalogStore } from './store.js'

/**
 * Reads one record by its AACID: from the catalog's offsets, decompressing from the start of
 * the frame it lies in (for a seekable file, a small slice; for a single-frame file, up to it),
 * and compares the AACID on that line with the one asked for.
 */
export async function getRecord(
  db: Db,
  aacid: string,
): Promise<{ bytes: Buffer; file: string; line: number }> {
  // Candidates share the AACID's second and tag; the line itself says which holds the AACID.
  for (const loc of new CatalogStore(db).locateRecord(aacid)) {
    const path = join(loc.root, loc.name)
    let bytes: Buffer | undefined
    try {
      await forEachRecordBytes(
        path,
        { compressedOffset: loc.compressedOffset, decompressedOffset: loc.frameOffset },
        [loc],
        (_, b) => (bytes = b),
      )
    } catch (e) {
      // A file removed, unreadable or damaged since the scan is the user's to fix, not a crash.
      const code = (e as NodeJS.ErrnoException).code
      if (typeof code === 'string')
        throw new AacseedError('unreadable', `cannot read ${path}: ${code}; rescan`, { path })
      throw new AacseedError(
        'file-changed',
        `${path} no longer decodes where ${aacid} was cataloged (zstd: ${(e as Error).message}); rescan`,
        { path },
      )
    }
    const check = bytes ? checkRecordLine(bytes, 0, bytes.length) : null
    if (check?.ok && check.aacid === aacid) return { bytes: bytes!, file: loc.name, line: loc.line }
    // Another AACID of the same second and tag, where the catalog has it: not this one.
    if (check?.ok && sameKey(check.aacid, aacid)) continue
    throw new AacseedError(
      'file-changed',
      `${path} no longer holds ${aacid} where it was cataloged; rescan`,
      {
        path,
      },
    )
  }
  throw new AacseedError('not-found', `${aacid} is not in the catalog`)
}
