/**
 * Worker thread: validates a chunk of complete lines of a decompressed metadata file.
 * JSON validation is the expensive part of a scan, so it runs here, on every core, while the
 * main thread decompresses and writes SQLite. Results travel back packed (typed arrays and
 * joined strings) because structured-cloning a million small objects costs more than parsing.
 */
import { isUtf8 } from 'node:buffer'
import { parentPort } from 'node:worker_threads'
import { checkRecordLine } from './record-line.js'
import { checkRecordRules, type FileContext } from './record-rules.js'
import type { ChunkRequest, ChunkResult, LineProblem } from './line-protocol.js'

function processChunk(req: ChunkRequest): ChunkResult {
  const buf = new Uint8Array(req.buffer, 0, req.length)
  const ctx: FileContext = req.context
  const chunkIsUtf8 = isUtf8(buf)
  const offsets: number[] = []
  const lengths: number[] = []
  const lineIdx: number[] = []
  const aacids: string[] = []
  const folders: string[] = []
  const problems: LineProblem[] = []
  let pos = 0
  let line = 0
  const n = buf.length
  while (pos < n) {
    let end = buf.indexOf(10, pos)
    if (end < 0) end = n
    const check = checkLine(buf, pos, end, chunkIsUtf8, ctx)
    if (check.ok) {
      offsets.push(pos)
      lengths.push(end - pos)
      lineIdx.push(line)
      aacids.push(check.aacid)
      folders.push(check.dataFolder ?? '')
    } else {
      problems.push({ lineIdx: line, offset: pos, aacid: check.aacid, code: check.code, message: check.message })
    }
    line++
    pos = end + 1
  }
  return {
    seq: req.seq,
    lines: line,
    offsets: Float64Array.from(offsets),
    lengths: Uint32Array.from(lengths),
    lineIdx: Uint32Array.from(lineIdx),
    aacids: aacids.join('\n'),
    folders: folders.join('\n'),
    problems,
  }
}

type LineVerdict = { ok: true; aacid: string; dataFolder: string | null } | { ok: false; code: string; message: string; aacid: string | null }

function checkLine(buf: Uint8Array, start: number, end: number, chunkIsUtf8: boolean, ctx: FileContext): LineVerdict {
  if (!chunkIsUtf8 && !isUtf8(buf.subarray(start, end))) {
    return { ok: false, code: 'invalid-utf8', message: 'line is not valid UTF-8', aacid: null }
  }
  if (start === end) return { ok: false, code: 'empty-line', message: 'empty line: every line must hold one record', aacid: null }
  const r = checkRecordLine(buf, start, end)
  if (!r.ok) return { ok: false, code: r.code, message: r.message, aacid: null }
  const v = checkRecordRules(ctx, r.aacid, r.dataFolder)
  if (v) return { ok: false, ...v, aacid: r.aacid }
  return r
}

parentPort!.on('message', (req: ChunkRequest) => {
  try {
    const res = processChunk(req)
    parentPort!.postMessage(res, [res.offsets.buffer as ArrayBuffer, res.lengths.buffer as ArrayBuffer, res.lineIdx.buffer as ArrayBuffer])
  } catch (e) {
    parentPort!.postMessage({ seq: req.seq, error: (e as Error).stack ?? String(e) })
  }
})
