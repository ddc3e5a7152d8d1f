/**
 * Checks a chunk of complete lines of a decompressed metadata file and writes the valid records
 * to the catalog, on the thread that calls it: a line worker, or the decompress worker when the
 * line workers already have enough to do. Validation and binding values for SQLite are the
 * expensive parts of a scan; only counts and problems go back to the main thread.
 */
import { isUtf8 } from 'node:buffer'
import { aacidRawFrom, aacidRawTo, checkRecordLine } from './record-line.js'
import { aacidTag } from './record-key.js'
import { checkRecordRules, ruleSeconds, type FileContext } from './record-rules.js'
import type { ChunkRequest, ChunkResult, LineProblem } from './line-protocol.js'
import { RecordWriter, type RecordColumns } from './store.js'
import type { WriteLock } from './write-lock.js'

/** This thread's connection to the catalog (one per thread: see RecordWriter). */
let writer: RecordWriter | null = null

function writerFor(path: string): RecordWriter {
  if (writer?.path !== path) {
    writer?.close()
    writer = new RecordWriter(path)
  }
  return writer
}

/**
 * Checks a chunk's lines and writes its valid records, holding the write lock for the insert
 * transaction; returns the verdicts for the main thread.
 */
export function processChunk(req: ChunkRequest, writeLock: WriteLock): ChunkResult {
  const buf = new Uint8Array(req.buffer, 0, req.length)
  const ctx: FileContext = req.context
  const chunkIsUtf8 = req.utf8
  const cols: RecordColumns = {
    count: 0,
    seconds: [],
    tags: [],
    lines: [],
    offsets: [],
    lengths: [],
    folders: [],
  }
  const problems: LineProblem[] = []
  let first: string | null = null
  let pos = 0
  let line = req.lineBase
  const n = buf.length
  let prev: string | null = null
  let prevLine = 0
  let sorted = true
  const repeats: ChunkResult['repeats'] = []
  const folders = new Map<string, number>()
  const newlines = req.newlines
  for (let k = 0; pos < n; k++) {
    const end = k < newlines.length ? newlines[k]! : n
    const check = checkLine(buf, pos, end, chunkIsUtf8, ctx)
    if (check.ok) {
      if (prev !== null) {
        if (check.aacid === prev) {
          const r = repeats[repeats.length - 1]
          if (r && r.aacid === prev && r.last === prevLine) {
            r.last = line
            r.n++
          } else repeats.push({ aacid: prev, first: prevLine, last: line, n: 2 })
        } else if (check.aacid < prev) sorted = false
      }
      first ??= check.aacid
      prev = check.aacid
      prevLine = line
      // Set by the rules check this line just passed.
      cols.seconds.push(ruleSeconds)
      cols.tags.push(aacidTag(check.aacid))
      cols.lines.push(line)
      cols.offsets.push(req.base + pos)
      cols.lengths.push(end - pos)
      cols.folders.push(check.dataFolder ?? '')
      if (check.dataFolder !== null) folders.set(check.dataFolder, (folders.get(check.dataFolder) ?? 0) + 1)
    } else {
      problems.push({
        line,
        offset: req.base + pos,
        aacid: check.aacid,
        code: check.code,
        message: check.message,
      })
    }
    line++
    pos = end + 1
  }
  cols.count = cols.lines.length
  if (cols.count > 0) {
    const w = writerFor(req.target.database)
    writeLock.hold(() => w.write(req.target.fileId, cols))
  }
  return {
    type: 'chunk',
    seq: req.seq,
    lines: line - req.lineBase,
    records: cols.count,
    problems,
    first,
    last: prev,
    firstLine: cols.lines[0] ?? 0,
    lastLine: prevLine,
    sorted,
    repeats,
    folders: [...folders],
  }
}

type LineVerdict =
  | { ok: true; aacid: string; dataFolder: string | null }
  | { ok: false; code: string; message: string; aacid: string | null }

function checkLine(
  buf: Uint8Array,
  start: number,
  end: number,
  chunkIsUtf8: boolean,
  ctx: FileContext,
): LineVerdict {
  if (!chunkIsUtf8 && !isUtf8(buf.subarray(start, end))) {
    return { ok: false, code: 'invalid-utf8', message: 'line is not valid UTF-8', aacid: null }
  }
  if (start === end)
    return {
      ok: false,
      code: 'empty-line',
      message: 'empty line: every line must hold one record',
      aacid: null,
    }
  const r = checkRecordLine(buf, start, end)
  if (!r.ok) return { ok: false, code: r.code, message: r.message, aacid: null }
  const v = checkRecordRules(ctx, r.aacid, r.dataFolder, buf, aacidRawFrom, aacidRawTo)
  if (v) return { ok: false, ...v, aacid: r.aacid }
  return r
}
