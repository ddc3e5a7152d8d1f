/**
 * Hashes a contiguous run of pieces of the files' concatenated byte stream, reading each file
 * sequentially into one reused buffer. Synchronous on purpose: it runs inside a hash worker,
 * where blocking is the point, or inline for inputs too small to be worth a thread.
 *
 * CommonJS, as the hash worker is (hash-worker.cts): a worker thread booting an ES module entry
 * starts Node's ES module loader too, which cost ~20 ms of CPU more per worker on the 2-core bench
 * machine (53 against 75 ms to a worker ready for its job, median of 12). So this module imports
 * only Node's own modules, and reports a bad file as a `SpanError`, which hasher.ts turns into
 * the `TorrentError` of the same code (the worker sends its code, message and path).
 */
import { createHash, type Hash } from 'node:crypto'
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'

/** A file that is not as cataloged, or cannot be read: `TorrentError`'s codes of the same name. */
export class SpanError extends Error {
  constructor(
    readonly code: 'file-changed' | 'file-unreadable',
    message: string,
    readonly path: string,
  ) {
    super(message)
  }
}

export interface SpanFile {
  path: string
  length: number
  /** Where the file starts in the concatenated stream. */
  offset: number
}

export interface Span {
  firstPiece: number
  /** Exclusive. */
  endPiece: number
  /** The files overlapping the span's bytes, in stream order (zero-length files excluded). */
  files: SpanFile[]
}

export const SHA1_LENGTH = 20

/** Indexes into a job's shared Int32 control array (see hasher.ts). */
export const NEXT = 0
export const STOP = 1

/**
 * How a job's pieces are cut into spans: `spanPieces` at a time, then the last `tailPieces`
 * one piece each, so that when the spans run out no lane sits idle for long while another
 * finishes a whole span.
 */
export interface SpanPlan {
  pieceCount: number
  spanPieces: number
  tailPieces: number
}

export function spanCount(plan: SpanPlan): number {
  return Math.ceil((plan.pieceCount - plan.tailPieces) / plan.spanPieces) + plan.tailPieces
}

/** Span `i` of a job: its pieces and the files holding their bytes. */
export function spanAt(
  files: readonly SpanFile[],
  totalSize: number,
  pieceLength: number,
  plan: SpanPlan,
  i: number,
): Span {
  const head = plan.pieceCount - plan.tailPieces
  const headSpans = Math.ceil(head / plan.spanPieces)
  const first = i < headSpans ? i * plan.spanPieces : head + (i - headSpans)
  const end = i < headSpans ? Math.min(first + plan.spanPieces, head) : first + 1
  return {
    firstPiece: first,
    endPiece: end,
    files: filesIn(files, first * pieceLength, Math.min(end * pieceLength, totalSize)),
  }
}

/** The files holding bytes [start, end), found by binary search on their offsets. */
function filesIn(files: readonly SpanFile[], start: number, end: number): SpanFile[] {
  let lo = 0
  let hi = files.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    const f = files[mid]!
    if (f.offset + f.length <= start) lo = mid + 1
    else hi = mid
  }
  let last = lo
  while (last < files.length && files[last]!.offset < end) last++
  return files.slice(lo, last)
}

/**
 * Writes the SHA-1 of pieces [firstPiece, endPiece) into `out` at their index × 20.
 * `onRead` is told each time another `buf`-full has been hashed.
 */
export function hashSpan(
  span: Span,
  pieceLength: number,
  totalSize: number,
  buf: Buffer,
  out: Uint8Array,
  onRead?: (bytes: number) => void,
): void {
  const start = span.firstPiece * pieceLength
  const end = Math.min(span.endPiece * pieceLength, totalSize)
  const pieces = new PieceWriter(pieceLength, span.firstPiece, out)
  let pos = start

  let fill = 0
  for (const file of span.files) {
    if (pos >= end) break
    const fileEnd = file.offset + file.length
    if (fileEnd <= pos) continue
    const fd = openChecked(file)
    try {
      while (pos < fileEnd && pos < end) {
        const want = Math.min(buf.length - fill, fileEnd - pos, end - pos)
        const n = readChecked(fd, file, buf, fill, want, pos - file.offset)
        fill += n
        pos += n
        if (fill === buf.length) {
          pieces.update(buf)
          onRead?.(fill)
          fill = 0
        }
      }
    } finally {
      closeSync(fd)
    }
  }
  if (pos !== end) throw new Error(`hashSpan: span files cover ${pos - start} of ${end - start} bytes`)
  if (fill > 0) {
    pieces.update(buf.subarray(0, fill))
    onRead?.(fill)
  }
  const hashed = pieces.finish()
  if (hashed !== span.endPiece)
    throw new Error(`hashSpan: hashed pieces up to ${hashed}, expected ${span.endPiece}`)
}

/** Cuts a byte stream into pieces and writes each piece's SHA-1 at its index. */
class PieceWriter {
  private hash: Hash | null = null
  private fill = 0

  constructor(
    private readonly pieceLength: number,
    private piece: number,
    private readonly out: Uint8Array,
  ) {}

  update(data: Buffer): void {
    let at = 0
    while (at < data.length) {
      const take = Math.min(this.pieceLength - this.fill, data.length - at)
      const chunk = data.subarray(at, at + take)
      at += take
      if (this.fill === 0 && take === this.pieceLength) {
        this.write(createHash('sha1').update(chunk))
        continue
      }
      this.hash ??= createHash('sha1')
      this.hash.update(chunk)
      this.fill += take
      if (this.fill === this.pieceLength) {
        this.write(this.hash)
        this.hash = null
        this.fill = 0
      }
    }
  }

  /** Writes the short last piece, if any; returns the index after the last piece written. */
  finish(): number {
    if (this.hash !== null) {
      this.write(this.hash)
      this.hash = null
      this.fill = 0
    }
    return this.piece
  }

  private write(hash: Hash): void {
    hash.digest().copy(this.out, this.piece * SHA1_LENGTH)
    this.piece++
  }
}

function openChecked(file: SpanFile): number {
  let fd: number
  try {
    fd = openSync(file.path, 'r')
  } catch (e) {
    throw fileError(file.path, e)
  }
  try {
    checkSize(file.path, fstatSync(fd), file.length)
  } catch (e) {
    closeSync(fd)
    throw e
  }
  return fd
}

export function checkSize(path: string, st: { size: number; isFile(): boolean }, expected: number): void {
  if (!st.isFile()) throw new SpanError('file-changed', `${path} is no longer a regular file`, path)
  if (st.size !== expected) {
    throw new SpanError(
      'file-changed',
      `${path} changed since it was cataloged: ${st.size} bytes, expected ${expected}`,
      path,
    )
  }
}

function readChecked(
  fd: number,
  file: SpanFile,
  buf: Buffer,
  at: number,
  length: number,
  position: number,
): number {
  let n: number
  try {
    n = readSync(fd, buf, at, length, position)
  } catch (e) {
    throw fileError(file.path, e)
  }
  // The size was right at open time; a short read means it shrank while we read it.
  if (n === 0) throw new SpanError('file-changed', `${file.path} shrank while it was being hashed`, file.path)
  return n
}

export function fileError(path: string, e: unknown): SpanError {
  const code = (e as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new SpanError('file-changed', `${path} is missing (it changed since it was cataloged)`, path)
  return new SpanError('file-unreadable', `cannot read ${path}: ${(e as Error).message}`, path)
}
