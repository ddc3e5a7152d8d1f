import { open } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { AacseedError } from '../errors.js'
import type { Db } from '../db/index.js'
import { CatalogStore } from './store.js'

const require = createRequire(import.meta.url)
const zstd = require('zstd-napi/binding') as {
  DCtx: new () => { decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number] }
}

/**
 * Reads one record by its AACID: from the catalog's offsets, decompressing from the start of
 * the frame it lies in (for a seekable file, a small slice; for a single-frame file, up to it).
 */
export async function getRecord(db: Db, aacid: string): Promise<{ bytes: Buffer; file: string; line: number }> {
  const locs = new CatalogStore(db).locateRecord(aacid)
  const loc = locs[0]
  if (!loc) throw new AacseedError('not-found', `${aacid} is not in the catalog`)
  const path = join(loc.root, loc.name)
  const fh = await open(path, 'r')
  try {
    const dctx = new zstd.DCtx()
    const input = Buffer.allocUnsafe(1 << 20)
    const scratch = Buffer.allocUnsafe(1 << 20)
    const out = Buffer.allocUnsafe(loc.length)
    let skip = loc.offset - loc.frameOffset
    let got = 0
    let pos = loc.compressedOffset
    while (got < loc.length) {
      const { bytesRead } = await fh.read(input, 0, input.length, pos)
      if (bytesRead === 0) break
      pos += bytesRead
      let src = input.subarray(0, bytesRead)
      while (got < loc.length) {
        const [, produced, consumed] = dctx.decompressStream(scratch, src)
        src = src.subarray(consumed)
        let chunk = scratch.subarray(0, produced)
        if (skip > 0) {
          const s = Math.min(skip, chunk.length)
          skip -= s
          chunk = chunk.subarray(s)
        }
        const take = Math.min(chunk.length, loc.length - got)
        chunk.copy(out, got, 0, take)
        got += take
        // Input used up and zstd had no more to give: read on.
        if (src.length === 0 && produced < scratch.length) break
      }
    }
    if (got < loc.length || !out.includes(`"${aacid}"`)) throw new AacseedError('file-changed', `${path} no longer holds ${aacid} where it was cataloged; rescan`, { path })
    return { bytes: out, file: loc.name, line: loc.line }
  } finally {
    await fh.close()
  }
}
