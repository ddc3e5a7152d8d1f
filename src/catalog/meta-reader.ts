/**
 * Streams one metadata file: zstd frames are decompressed here, on the main thread, in
 * large slices; complete lines go to the line workers; their verdicts come back in order
 * and are turned into absolute line numbers, byte offsets and frame indexes.
 *
 * Memory is bounded by (workers × 2 + 1) chunks plus the longest accepted line, whatever
 * the file size. Frame boundaries are exact: `ZSTD_decompressStream` returns 0 precisely
 * when a frame ends, so single-frame, multi-frame and seekable files are all read the
 * same way, and a record's frame says where `aacseed get` may start decompressing.
 */
import { open } from 'node:fs/promises'
import { createRequire } from 'node:module'
import type { LinePool } from './line-pool.js'
import type { ChunkResult } from './line-protocol.js'
import type { FileContext } from './record-rules.js'

const require = createRequire(import.meta.url)
// The binding exposes ZSTD_decompressStream's (ret, produced, consumed), which is what tells frame ends apart.
const zstd = require('zstd-napi/binding') as {
  DCtx: new () => { decompressStream(dst: Uint8Array, src: Uint8Array): [number, number, number] }
}

export interface MetaFrame {
  frame: number
  compressedOffset: number
  decompressedOffset: number
}

/** Valid records of one chunk, as columns, in file order. */
export interface RecordColumns {
  count: number
  lines: Float64Array
  offsets: Float64Array
  lengths: Uint32Array
  frames: Uint32Array
  aacids: string[]
  folders: string[]
}

export interface ReadProblem {
  line: number | null
  /** Byte offset in the decompressed stream (or in the compressed file, for zstd errors). */
  offset: number | null
  aacid: string | null
  code: string
  message: string
}

export interface MetaReadSink {
  records(cols: RecordColumns): void
  problem(p: ReadProblem): void
}

export interface MetaReadOptions {
  chunkBytes?: number
  maxLineBytes?: number
  onProgress?: (compressedBytes: number) => void
}

export interface MetaReadResult {
  lines: number
  records: number
  problems: number
  compressedBytes: number
  decompressedBytes: number
  frames: MetaFrame[]
}

type Item = { kind: 'chunk'; base: number; result: Promise<ChunkResult> } | { kind: 'long'; offset: number; length: number }

const MiB = 1024 * 1024
/** zstd's largest block (128 KiB) plus its header. */
const MAX_CALL_INPUT = 128 * 1024 + 3

export async function readMetaFile(path: string, context: FileContext, pool: LinePool, sink: MetaReadSink, opts: MetaReadOptions = {}): Promise<MetaReadResult> {
  const chunkBytes = opts.chunkBytes ?? 4 * MiB
  const maxLine = Math.max(chunkBytes, opts.maxLineBytes ?? 64 * MiB)
  const fh = await open(path, 'r')
  const dctx = new zstd.DCtx()
  const input = Buffer.allocUnsafe(4 * MiB)
  const frames: MetaFrame[] = [{ frame: 0, compressedOffset: 0, decompressedOffset: 0 }]
  const queue: Item[] = []
  let out = Buffer.allocUnsafeSlow(chunkBytes)
  let fill = 0
  let outBase = 0
  let skipping = false
  let skipStart = 0
  let cPos = 0
  let dPos = 0
  let inFrame = false
  let frameEnded = false
  let lines = 0
  let records = 0
  let problems = 0
  let frameCursor = 0

  const report = (p: ReadProblem): void => {
    problems++
    sink.problem(p)
  }

  const frameOf = (offset: number): number => {
    while (frameCursor + 1 < frames.length && frames[frameCursor + 1]!.decompressedOffset <= offset) frameCursor++
    return frameCursor
  }

  const handle = async (item: Item): Promise<void> => {
    if (item.kind === 'long') {
      lines++
      report({ line: lines, offset: item.offset, aacid: null, code: 'line-too-long', message: `line is longer than ${maxLine} bytes (at least ${item.length}); skipped` })
      return
    }
    const r = await item.result
    const n = r.lengths.length
    const aacids = n === 0 ? [] : r.aacids.split('\n')
    const folders = n === 0 ? [] : r.folders.split('\n')
    const cols: RecordColumns = { count: n, lines: new Float64Array(n), offsets: new Float64Array(n), lengths: r.lengths, frames: new Uint32Array(n), aacids, folders }
    for (let i = 0; i < n; i++) {
      const off = item.base + r.offsets[i]!
      cols.lines[i] = lines + r.lineIdx[i]! + 1
      cols.offsets[i] = off
      cols.frames[i] = frameOf(off)
    }
    for (const p of r.problems) report({ line: lines + p.lineIdx + 1, offset: item.base + p.offset, aacid: p.aacid, code: p.code, message: p.message })
    lines += r.lines
    records += n
    if (n > 0) sink.records(cols)
  }

  const drain = async (keep: number): Promise<void> => {
    while (queue.length > keep) await handle(queue.shift()!)
  }

  /** Sends every complete line in `out` to the workers; with `final`, the unterminated tail too. */
  const emit = async (final: boolean): Promise<void> => {
    if (skipping) {
      const nl = out.subarray(0, fill).indexOf(10)
      if (nl < 0) {
        outBase += fill
        fill = 0
        if (final) queue.push({ kind: 'long', offset: skipStart, length: outBase - skipStart })
        return
      }
      queue.push({ kind: 'long', offset: skipStart, length: outBase + nl - skipStart })
      out.copy(out, 0, nl + 1, fill)
      outBase += nl + 1
      fill -= nl + 1
      skipping = false
    }
    if (fill === 0) return
    const last = final ? fill - 1 : out.lastIndexOf(10, fill - 1)
    if (last < 0) {
      if (out.length >= maxLine) {
        skipping = true
        skipStart = outBase
        outBase += fill
        fill = 0
      } else {
        const bigger = Buffer.allocUnsafeSlow(Math.min(maxLine, out.length * 2))
        out.copy(bigger, 0, 0, fill)
        out = bigger
      }
      return
    }
    const tail = fill - (last + 1)
    const next = Buffer.allocUnsafeSlow(Math.max(chunkBytes, tail * 2))
    out.copy(next, 0, last + 1, fill)
    const sendLength = out[last] === 10 ? last + 1 : fill
    const sentBase = outBase
    const prev = out
    out = next
    fill = tail
    outBase = sentBase + last + 1
    queue.push({ kind: 'chunk', base: sentBase, result: pool.submit(prev.buffer as ArrayBuffer, sendLength, context) })
    await drain(pool.size * 2)
  }
  let fatal = false
  try {
    let fileOffset = 0
    read: for (;;) {
      const { bytesRead } = await fh.read(input, 0, input.length, fileOffset)
      if (bytesRead === 0) break
      fileOffset += bytesRead
      let src = input.subarray(0, bytesRead)
      while (src.length > 0) {
        if (fill === out.length) await emit(false)
        if (frameEnded) {
          frameEnded = false
          const last = frames[frames.length - 1]!
          // A frame that produced nothing (a skippable frame) is not a place to start from.
          if (dPos > last.decompressedOffset) frames.push({ frame: frames.length, compressedOffset: cPos, decompressedOffset: dPos })
        }
        let ret: number, produced: number, consumed: number
        try {
          // At most one block of input per call, so a decoding error is located to within
          // about a block: the error says which call failed, not where inside its input.
          ;[ret, produced, consumed] = dctx.decompressStream(out.subarray(fill), src.length > MAX_CALL_INPUT ? src.subarray(0, MAX_CALL_INPUT) : src)
        } catch (e) {
          report({ line: null, offset: cPos, aacid: null, code: 'corrupt-zstd', message: `corrupt zstd data near compressed byte ${cPos}: ${(e as Error).message}` })
          fatal = true
          break read
        }
        fill += produced
        dPos += produced
        cPos += consumed
        src = src.subarray(consumed)
        if (ret === 0) {
          inFrame = false
          frameEnded = true
        } else if (consumed > 0 || produced > 0) {
          inFrame = true
        }
      }
      // Input is used up, but a full output buffer may hide more decoded bytes inside zstd.
      while (inFrame && fill === out.length) {
        await emit(false)
        const [ret, produced] = dctx.decompressStream(out.subarray(fill), Buffer.alloc(0))
        fill += produced
        dPos += produced
        if (ret === 0) {
          inFrame = false
          frameEnded = true
        }
        if (produced === 0) break
      }
      opts.onProgress?.(cPos)
    }
    if (cPos === 0 && !fatal) {
      report({ line: null, offset: 0, aacid: null, code: 'corrupt-zstd', message: 'file is empty: no zstd frame' })
    } else if (inFrame && !fatal) {
      report({ line: null, offset: cPos, aacid: null, code: 'truncated-zstd', message: `zstd data ends in the middle of a frame after ${cPos} compressed bytes` })
      fatal = true
    }
    // After a zstd error the unterminated tail is a cut-off line, not a record: drop it.
    await emit(!fatal)
    await drain(0)
  } finally {
    await fh.close()
  }
  while (frames.length > 1 && frames[frames.length - 1]!.decompressedOffset >= dPos) frames.pop()
  return { lines, records, problems, compressedBytes: cPos, decompressedBytes: dPos, frames }
}
