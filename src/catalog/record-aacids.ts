/**
 * Reads records' AACIDs back from their metadata files: the catalog keeps a tag of each AACID,
 * not its text (record-key.ts), and a problem message names the AACID.
 */
import { join } from 'node:path'
import { forEachRecordBytes } from './record-bytes.js'
import type { RecordRef } from './store.js'

/**
 * The AACID of each record, in the order given; null where the file no longer holds a record
 * there (changed or unreadable since the scan). One pass over each file, from its start.
 */
export async function readAacids(refs: readonly RecordRef[]): Promise<Array<string | null>> {
  const out: Array<string | null> = refs.map(() => null)
  const byFile = new Map<string, Array<{ i: number; offset: number; length: number }>>()
  refs.forEach((r, i) => {
    const path = join(r.root, r.name)
    let list = byFile.get(path)
    if (!list) byFile.set(path, (list = []))
    list.push({ i, offset: r.offset, length: r.length })
  })
  for (const [path, list] of byFile) {
    list.sort((a, b) => a.offset - b.offset)
    // forEachRecordBytes wants each record once, in order.
    const unique = list.filter((r, k) => k === 0 || r.offset !== list[k - 1]!.offset)
    const found = new Map<number, string | null>()
    try {
      await forEachRecordBytes(path, { compressedOffset: 0, decompressedOffset: 0 }, unique, (r, bytes) =>
        found.set(r.offset, aacidOf(bytes)),
      )
    } catch {
      // Unreadable now: the messages say so by naming no AACID.
    }
    for (const r of list) out[r.i] = found.get(r.offset) ?? null
  }
  return out
}

function aacidOf(line: Buffer): string | null {
  try {
    const v = JSON.parse(line.toString('utf8')) as { aacid?: unknown }
    return typeof v.aacid === 'string' ? v.aacid : null
  } catch {
    return null
  }
}
