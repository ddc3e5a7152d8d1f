/**
 * Reads one metadata file through the reader threads (see line-pool.ts): the decompress worker
 * streams zstd frames into chunks of whole lines, the line workers check them, and here, on the
 * main thread, their verdicts (the line workers have written the valid records) are put back in
 * file order for the sink. Memory is bounded by the credits the pool hands out plus the
 * longest accepted line, whatever the file size.
 */
import type { LinePool } from './line-pool.js'
import type { ChunkResult, MetaFrame, ReadProblem, RecordTarget } from './line-protocol.js'
import type { FileContext } from './record-rules.js'

export type { MetaFrame, ReadProblem } from './line-protocol.js'

export interface MetaReadSink {
  /** Called in file order once a chunk's valid records are committed; a throw aborts the read. */
  records(count: number): void
  problem(p: ReadProblem): void
}

export interface MetaReadOptions {
  chunkBytes?: number
  maxLineBytes?: number
  onProgress?: (compressedBytes: number) => void
}

export interface MetaReadResult {
  /**
   * AACIDs that appear more than once, when the file is in AACID order (`ordered`); when it
   * is not, the caller has to look for repeats in the database.
   */
  ordered: boolean
  repeats: Array<{ aacid: string; first: number; last: number; n: number }>
  lines: number
  records: number
  /** Records per data folder named. */
  folders: Map<string, number>
  problems: number
  compressedBytes: number
  decompressedBytes: number
  frames: MetaFrame[]
}

type Item =
  ChunkResult | { type: 'long'; seq: number; line: number; offset: number; length: number; maxLine: number }

const MiB = 1024 * 1024

export function readMetaFile(
  path: string,
  context: FileContext,
  target: RecordTarget,
  pool: LinePool,
  sink: MetaReadSink,
  opts: MetaReadOptions = {},
): Promise<MetaReadResult> {
  const chunkBytes = opts.chunkBytes ?? 2 * MiB
  const maxLineBytes = Math.max(chunkBytes, opts.maxLineBytes ?? 64 * MiB)
  return new Promise((resolve, reject) => {
    const pending = new Map<number, Item>()
    let next = 0
    let done: {
      items: number
      frames: MetaFrame[]
      compressedBytes: number
      decompressedBytes: number
    } | null = null
    let lines = 0
    let records = 0
    let problems = 0
    let settled = false
    let ordered = true
    let lastAacid: string | null = null
    let lastLine = 0
    const repeats: MetaReadResult['repeats'] = []
    const folders = new Map<string, number>()

    const report = (p: ReadProblem): void => {
      problems++
      sink.problem(p)
    }

    const settle = (e?: unknown): void => {
      if (settled) return
      settled = true
      pool.release()
      if (e !== undefined) return reject(e)
      resolve({
        ordered,
        repeats,
        lines,
        records,
        folders,
        problems,
        compressedBytes: done!.compressedBytes,
        decompressedBytes: done!.decompressedBytes,
        frames: done!.frames,
      })
    }

    const handle = (item: Item): void => {
      if (item.type === 'long') {
        lines++
        report({
          line: item.line,
          offset: item.offset,
          aacid: null,
          code: 'line-too-long',
          message: `line is longer than ${item.maxLine} bytes (at least ${item.length}); skipped`,
        })
        return
      }
      for (const p of item.problems)
        report({ line: p.line, offset: p.offset, aacid: p.aacid, code: p.code, message: p.message })
      if (item.first !== null) {
        // Chunk boundaries: is the file still in order, and does a repeat straddle the boundary?
        if (lastAacid !== null) {
          if (item.first === lastAacid) {
            const r = repeats[repeats.length - 1]
            if (r && r.aacid === lastAacid && r.last === lastLine) {
              r.n++
              r.last = item.firstLine
            } else repeats.push({ aacid: lastAacid, first: lastLine, last: item.firstLine, n: 2 })
          } else if (item.first < lastAacid) ordered = false
        }
        ordered &&= item.sorted
        for (const r of item.repeats) {
          const prev = repeats[repeats.length - 1]
          if (prev && prev.aacid === r.aacid && prev.last >= r.first) {
            prev.last = Math.max(prev.last, r.last)
            prev.n += r.n - 1
          } else repeats.push({ ...r })
        }
        lastAacid = item.last
        lastLine = item.lastLine
      }
      for (const [f, n] of item.folders) folders.set(f, (folders.get(f) ?? 0) + n)
      lines += item.lines
      records += item.records
      if (item.records > 0) sink.records(item.records)
    }

    const pump = (): void => {
      try {
        for (let item = pending.get(next); item !== undefined; item = pending.get(next)) {
          pending.delete(next)
          next++
          handle(item)
          pool.credit()
        }
      } catch (e) {
        // The sink refused (an abort, a database error): this read, and the pool, are done for.
        pool.cancel()
        return settle(e)
      }
      if (done && next === done.items) settle()
    }

    try {
      pool.read(
        { path, context, target, chunkBytes, maxLineBytes },
        {
          chunk(r) {
            pending.set(r.seq, r)
            pump()
          },
          decompress(m) {
            switch (m.type) {
              case 'long':
                pending.set(m.seq, m)
                return pump()
              case 'problem':
                return report(m.problem)
              case 'progress':
                return opts.onProgress?.(m.compressedBytes)
              case 'done':
                done = m
                return pump()
              case 'failed':
                return settle(Object.assign(new Error(m.error), m.code ? { code: m.code } : {}))
            }
          },
          fail: settle,
        },
      )
    } catch (e) {
      settle(e)
    }
  })
}
