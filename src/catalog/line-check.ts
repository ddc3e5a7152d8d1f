/**
 * Checks a chunk of complete lines of a decompressed metadata file and writes the valid records
 * to the catalog, on the thread that calls it: a line worker, or the decompress worker when the
 * line workers already have enough to do. Validation and binding values for SQLite are the
 * expensive parts of a scan; only counts and problems go back to the main thread.
 */
import { isUtf8 } from 'node:buffer'
import {
  aacidRawFrom,
  aacidRawTo,
  acceptedRecord,
  checkRecordLineRaw,
  RAW_OK,
  recordAacid,
  recordDataFolder,
} from './record-line.js'
import {
  checkChunkLines,
  LINE_AACID_ESCAPED,
  LINE_AACID_FAST,
  LINE_ACCEPTED,
  LINE_FOLDER_ESCAPED,
  LINE_PREV_FAST,
  LINE_RESULT_INTS,
} from './record-lines.js'
import { aacidTag, aacidTagOfAscii } from './record-key.js'
import { aacidPrefix, checkRawRecordRules, ruleFast, ruleSeconds, type FileContext } from './record-rules.js'
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

/** The columns of one chunk's records, and how many each column has room for. */
type Columns = RecordColumns & {
  capacity: number
  seconds: Float64Array
  tags: Float64Array
  lines: Float64Array
  offsets: Float64Array
  lengths: Float64Array
  folders: string[]
}

function newColumns(capacity: number): Columns {
  return {
    count: 0,
    capacity,
    seconds: new Float64Array(capacity),
    tags: new Float64Array(capacity),
    lines: new Float64Array(capacity),
    offsets: new Float64Array(capacity),
    lengths: new Float64Array(capacity),
    folders: [],
  }
}

/**
 * The columns of the chunk being checked, kept for the next chunk rather than six arrays grown
 * record by record and dropped after each chunk (garbage for every record). A deferred chunk
 * keeps its columns until written; then they wait in `spareColumns` for another chunk.
 */
let cols = newColumns(4096)
const spareColumns: Columns[] = []

function grow(): void {
  cols.capacity *= 2
  for (const k of ['seconds', 'tags', 'lines', 'offsets', 'lengths'] as const) {
    const bigger = new Float64Array(cols.capacity)
    bigger.set(cols[k])
    cols[k] = bigger
  }
}

/**
 * The AACID of the record just checked, for the order and repeat checks: on the fast path
 * (ruleFast) its bytes, which are its text; else the decoded text. Bytes are compared as the
 * text would be: for ASCII, byte order is code unit order.
 */
let curText: string | null = null
let curFrom = 0
let curTo = 0

/** -1, 0 or 1 as the current AACID sorts before, equal to or after the previous one. */
function compareToPrevious(
  buf: Uint8Array,
  prevText: string | null,
  prevFrom: number,
  prevTo: number,
): number {
  if (curText === null && prevText === null) {
    const n = Math.min(curTo - curFrom, prevTo - prevFrom)
    for (let k = 0; k < n; k++) {
      const d = buf[curFrom + k]! - buf[prevFrom + k]!
      if (d !== 0) return d < 0 ? -1 : 1
    }
    const dl = curTo - curFrom - (prevTo - prevFrom)
    return dl < 0 ? -1 : dl > 0 ? 1 : 0
  }
  const a = curText ?? textOf(buf, curFrom, curTo)
  const b = prevText ?? textOf(buf, prevFrom, prevTo)
  return a < b ? -1 : a > b ? 1 : 0
}

/** The text of an AACID kept as bytes (ASCII: see above). */
function textOf(buf: Uint8Array, from: number, to: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + from, to - from).toString('latin1')
}

/** A checked chunk whose records wait for the write lock (see deferChunk). */
interface Deferred {
  database: string
  fileId: number
  rows: Columns
  result: ChunkResult
}

const deferred: Deferred[] = []

/**
 * Checks a chunk's lines and keeps its valid records, to be written by `flushDeferred`. A thread
 * that finds the write lock taken goes on with other work (the decompress worker, the scan's
 * critical path, decompresses; a line worker checks its next chunk) rather than sleeping until
 * it is free, and, on a busy machine, until the thread holding it runs again. The verdicts reach
 * the main thread only after the records are committed.
 */
export function deferChunk(req: ChunkRequest): void {
  const result = checkChunk(req)
  deferred.push({ database: req.target.database, fileId: req.target.fileId, rows: cols, result })
  cols = spareColumns.pop() ?? newColumns(cols.capacity)
}

/** Forgets the deferred chunks unwritten (their read was cancelled). */
export function dropDeferred(): void {
  done()
}

/** The deferred chunks are written or dropped: their columns are free again. */
function done(): void {
  for (const d of deferred) spareColumns.push(d.rows)
  deferred.length = 0
}

/** Chunks kept by deferChunk and not yet written. */
export function deferredChunks(): number {
  return deferred.length
}

/**
 * Writes the deferred chunks' records, each chunk in its own transaction, and returns their
 * verdicts; with `wait` false only if the write lock is free now (else nothing is written and
 * none returned). A write that fails throws, naming its chunk (`seq`): the read is over then.
 */
export function flushDeferred(writeLock: WriteLock, wait: boolean): ChunkResult[] {
  if (deferred.length === 0) return []
  const write = (): void => {
    for (const d of deferred) {
      if (d.rows.count === 0) continue
      try {
        writerFor(d.database).write(d.fileId, d.rows)
      } catch (e) {
        done()
        throw Object.assign(e as Error, { seq: d.result.seq })
      }
    }
  }
  if (wait) writeLock.hold(write)
  else if (!writeLock.tryHold(write)) return []
  const out = deferred.map((d) => d.result)
  done()
  return out
}

/**
 * `flushDeferred`, its verdicts posted to `port` in order; a failed write is posted as the failure
 * of the chunk it names. What both reader threads do with what they deferred.
 */
export function postDeferred(
  port: { postMessage(message: unknown): void },
  writeLock: WriteLock,
  wait: boolean,
): void {
  let results
  try {
    results = flushDeferred(writeLock, wait)
  } catch (e) {
    const seq = (e as { seq?: number }).seq ?? -1
    port.postMessage({ type: 'chunk-failed', seq, error: (e as Error).stack ?? String(e) })
    return
  }
  for (const r of results) port.postMessage(r)
}

/** Checks a chunk's lines into `cols` (its valid records) and returns its verdicts. */
function checkChunk(req: ChunkRequest): ChunkResult {
  const buf = new Uint8Array(req.buffer, 0, req.length)
  const ctx: FileContext = req.context
  const chunkIsUtf8 = req.utf8
  cols.count = 0
  cols.folders.length = 0
  const problems: LineProblem[] = []
  let first: string | null = null
  let pos = 0
  let line = req.lineBase
  const n = buf.length
  let any = false
  let prevText: string | null = null
  let prevFrom = 0
  let prevTo = 0
  let prevLine = 0
  let firstLine = 0
  let sorted = true
  const repeats: ChunkResult['repeats'] = []
  const folders = new Map<string, number>()
  const newlines = req.newlines
  // The JSON of every line at once, and the fast path of the AACID rules (see record-lines.ts):
  // a line it accepts is not checked again. Null: every line is checked here.
  if (ctx.collection !== prefixOf) {
    prefixOf = ctx.collection
    prefix = aacidPrefix(ctx.collection)
  }
  const checked = checkChunkLines(buf, n, newlines, prefix)
  for (let k = 0; pos < n; k++) {
    const end = k < newlines.length ? newlines[k]! : n
    const at = k * LINE_RESULT_INTS
    const bad = checkLine(buf, pos, end, chunkIsUtf8, ctx, checked, at)
    if (bad === null) {
      const folder = lineFolder
      if (any) {
        // The WebAssembly compared this AACID with the line before's when both took the fast
        // path; that line's record is the previous one when it is the line before.
        const c =
          checked !== null && (checked[at]! & LINE_PREV_FAST) !== 0 && prevLine === line - 1
            ? checked[at + 7]!
            : compareToPrevious(buf, prevText, prevFrom, prevTo)
        if (c === 0) {
          const r = repeats[repeats.length - 1]
          if (r && r.last === prevLine) {
            r.last = line
            r.n++
          } else
            repeats.push({
              aacid: prevText ?? textOf(buf, prevFrom, prevTo),
              first: prevLine,
              last: line,
              n: 2,
            })
        } else if (c < 0) sorted = false
      } else {
        any = true
        first = curText ?? textOf(buf, curFrom, curTo)
        firstLine = line
      }
      prevText = curText
      prevFrom = curFrom
      prevTo = curTo
      prevLine = line
      const i = cols.count
      if (i === cols.capacity) grow()
      // Set by the rules check this line just passed.
      cols.seconds[i] = ruleSeconds
      cols.tags[i] = curText === null ? aacidTagOfAscii(buf, curFrom, curTo) : aacidTag(curText)
      cols.lines[i] = line
      cols.offsets[i] = req.base + pos
      cols.lengths[i] = end - pos
      cols.folders.push(folder ?? '')
      cols.count = i + 1
      if (folder !== null) folders.set(folder, (folders.get(folder) ?? 0) + 1)
    } else {
      problems.push({
        line,
        offset: req.base + pos,
        aacid: bad.aacid,
        code: bad.code,
        message: bad.message,
      })
    }
    line++
    pos = end + 1
  }
  return {
    type: 'chunk',
    seq: req.seq,
    lines: line - req.lineBase,
    records: cols.count,
    problems,
    first,
    last: any ? (prevText ?? textOf(buf, prevFrom, prevTo)) : null,
    firstLine,
    lastLine: prevLine,
    sorted,
    repeats,
    folders: [...folders],
  }
}

/** The AACID prefix of the file being read (see record-rules.ts), and its collection. */
let prefix: Uint8Array = new Uint8Array(0)
let prefixOf: string | null = null

/** The buffer of the line being checked, for checkingAacid (a closure a line would cost more). */
let checkingBuf: Uint8Array = new Uint8Array(0)

function checkingAacid(): string {
  return recordAacid(checkingBuf)
}

/** The `data_folder` of the line checkLine just accepted. */
let lineFolder: string | null = null

/**
 * Null when the line is a valid record (its AACID then in curText / curFrom..curTo, its
 * data folder in lineFolder), else why not.
 */
function checkLine(
  buf: Uint8Array,
  start: number,
  end: number,
  chunkIsUtf8: boolean,
  ctx: FileContext,
  checked: Int32Array | null,
  at: number,
): { code: string; message: string; aacid: string | null } | null {
  if (!chunkIsUtf8 && !isUtf8(buf.subarray(start, end))) {
    return { code: 'invalid-utf8', message: 'line is not valid UTF-8', aacid: null }
  }
  if (start === end)
    return {
      code: 'empty-line',
      message: 'empty line: every line must hold one record',
      aacid: null,
    }
  const flags = checked === null ? 0 : checked[at]!
  const r =
    (flags & LINE_ACCEPTED) === 0
      ? checkRecordLineRaw(buf, start, end)
      : acceptedRecord(
          checked![at + 1]!,
          checked![at + 2]!,
          (flags & LINE_AACID_ESCAPED) !== 0,
          checked![at + 3]!,
          checked![at + 4]!,
          (flags & LINE_FOLDER_ESCAPED) !== 0,
        )
  if (r !== RAW_OK) {
    if (r.ok) throw new Error('checkRecordLineRaw accepted a line without RAW_OK')
    return { code: r.code, message: r.message, aacid: null }
  }
  const from = aacidRawFrom
  const to = aacidRawTo
  const folder = recordDataFolder(buf)
  checkingBuf = buf
  const v = checkRawRecordRules(
    ctx,
    checkingAacid,
    folder,
    (flags & LINE_AACID_FAST) !== 0 ? checked![at + 5]! * 86400 + checked![at + 6]! : null,
  )
  if (v) return { ...v, aacid: recordAacid(buf) }
  // On the fast path the bytes are the AACID (ASCII: an escape's backslash fails it); else
  // keep its decoded text.
  curText = ruleFast ? null : recordAacid(buf)
  curFrom = from
  curTo = to
  lineFolder = folder
  return null
}
