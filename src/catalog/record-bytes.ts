/**
 * Reads the bytes of given records out of a zstd metadata file, by their offsets in the
 * decompressed stream, decompressing from a frame start (or the file start) onwards.
 */
import { open } from 'node:fs/promises'
import { newDecompressContext } from './zstd.js'

export interface FrameStart {
  compressedOffset: number
  decompressedOffset: number
}

/**
 * Calls `each` with the bytes of every record, in order; `records` must be sorted by offset
 * and lie at or after `from`. Returns how many were found before the data ended.
 */
export async function forEachRecordBytes<T extends { offset: number; length: number }>(
  path: string,
  from: FrameStart,
  records: readonly T[],
  each: (r: T, bytes: Buffer) => void,
): Promise<number> {
  if (records.length === 0) return 0
  const fh = await open(path, 'r')
  try {
    const dctx = newDecompressContext()
    const input = Buffer.allocUnsafe(1 << 20)
    const out = Buffer.allocUnsafe(1 << 20)
    let dPos = from.decompressedOffset
    let cPos = from.compressedOffset
    let i = 0
    let cur: Buffer | null = null
    let curFill = 0
    for (;;) {
      const { bytesRead } = await fh.read(input, 0, input.length, cPos)
      if (bytesRead === 0) return i
      cPos += bytesRead
      let src = input.subarray(0, bytesRead)
      for (;;) {
        const [, produced, consumed] = dctx.decompressStream(out, src)
        src = src.subarray(consumed)
        const start = dPos
        const end = dPos + produced
        dPos = end
        // Copy every part of a wanted record that falls in [start, end).
        while (i < records.length) {
          const r = records[i]!
          const rEnd = r.offset + r.length
          if (r.offset >= end) break
          cur ??= Buffer.allocUnsafe(r.length)
          const a = Math.max(r.offset + curFill, start)
          const b = Math.min(rEnd, end)
          if (b > a) {
            out.copy(cur, a - r.offset, a - start, b - start)
            curFill = b - r.offset
          }
          if (curFill < r.length) break
          each(r, cur)
          cur = null
          curFill = 0
          i++
        }
        if (i === records.length) return i
        if (src.length === 0 && produced < out.length) break
      }
    }
  } finally {
    await fh.close()
  }
}
