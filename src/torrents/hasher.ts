/**
 * SHA-1 piece hashing of an ordered list of files read as one stream, as every v1 torrent
 * is: pieces run across file boundaries. Node's SHA-1 (OpenSSL, as mktorrent's) is fast; what
 * made create-torrent slow is streams of small chunks. Here each worker thread claims a span of
 * 32 MiB of pieces at a time (an atomic counter in shared memory: no message per span), reads
 * its files sequentially with readSync into one reused buffer, and writes the digests straight
 * into a shared pieces buffer. A CLI process hashes on its main thread too (`callerHashes`),
 * which saves starting one worker.
 *
 * Read size, measured on the 2-core bench machine (2 GiB warm in the page cache, the whole
 * `torrents make` process under `chrt -r` on a shared machine, 5 interleaved rounds each, best).
 * One run: 128 KiB reads 1.23 s (CPU 2.16 s), 1 MiB 1.13 s (1.99 s), 4 MiB 1.18 s (2.03 s).
 * Another: 128 KiB 1.16 s (2.02 s), 512 KiB 1.10 s (1.94 s), 1 MiB 1.06 s (1.90 s), 2 MiB
 * 1.06 s (1.90 s). Each read and each hash update is a call into C++ with its own
 * argument checks, so 16,384 of each for 2 GiB cost ~0.1 s of CPU more than 2,048; a read the
 * size of a whole piece no longer stays in cache between the kernel's copy and the hash.
 *
 * Spans claimed one at a time (the last ones a single piece each), rather than fixed halves,
 * keep both lanes busy to the end when one is slowed (by opening many small files, or by
 * another process), and keep the read streams near each other on a disk that is not cached.
 * Memory stays bounded by workers × read size, whatever the folder size.
 */
import { availableParallelism } from 'node:os'
import { statSync } from 'node:fs'
import type { Worker } from 'node:worker_threads'
import { TorrentError, type TorrentErrorCode } from './errors.js'
import { hashWorker, idleHashWorker, idleHashWorkers } from './hash-pool.js'
import {
  checkSize,
  fileError,
  hashSpan,
  NEXT,
  SHA1_LENGTH,
  SpanError,
  spanAt,
  spanCount,
  STOP,
  type SpanFile,
  type SpanPlan,
} from './hash-span.cjs'

export interface HashFile {
  /** Absolute path. */
  path: string
  /** The size the file must have; anything else is a `file-changed` error. */
  length: number
}

export interface HashOptions {
  /** Worker threads; 0 or absent: one per core. */
  workers?: number
  /** Called with the running total of bytes hashed. */
  onProgress?: (bytes: number) => void
  signal?: AbortSignal
  /** Bytes per read call: few calls, yet small enough to stay in cache between the kernel's copy and the hash. */
  readSize?: number
  /** Bytes of pieces handed to a worker at a time; small spans balance the workers' loads. */
  spanSize?: number
  /** Inputs smaller than this are hashed on the calling thread: a worker costs ~30 ms to start. */
  inlineBelow?: number
  /**
   * The calling thread hashes too, as one of the `workers` lanes (so one worker fewer is
   * started), blocking its event loop a span at a time: for a CLI process, not for serve.
   */
  callerHashes?: boolean
}

export const DEFAULTS = {
  readSize: 1 << 20,
  spanSize: 32 << 20,
  inlineBelow: 8 << 20,
}

/**
 * A hashing job as its worker threads share it. Each thread claims the next span by adding 1
 * to `control[NEXT]` (no message per span, so no thread waits on another's event loop), and
 * stops when the spans run out or `control[STOP]` is set (an error or an abort elsewhere).
 */
export interface WorkerInit {
  pieces: SharedArrayBuffer
  /** Int32 [next span, stop]. */
  control: SharedArrayBuffer
  files: SpanFile[]
  pieceLength: number
  totalSize: number
  plan: SpanPlan
  readSize: number
}

/** The one message a hash worker gets per job. */
export interface HashJob {
  job: WorkerInit
}

export type WorkerReply =
  | { type: 'progress'; bytes: number }
  | { type: 'done'; bytes: number }
  | { type: 'error'; code: string | null; message: string; path: string | null }

/** A job's layout: what its lanes must agree on, and all a head start must match to be adopted. */
interface JobShape {
  streamFiles: SpanFile[]
  totalSize: number
  pieceCount: number
  plan: SpanPlan
  spans: number
  lanes: number
  inline: boolean
  readSize: number
}

function jobShape(files: readonly HashFile[], pieceLength: number, opts: HashOptions): JobShape {
  if (!Number.isSafeInteger(pieceLength) || pieceLength <= 0)
    throw new TypeError(`hashPieces: bad piece length ${pieceLength}`)
  const { streamFiles, totalSize } = layout(files)
  const pieceCount = Math.ceil(totalSize / pieceLength)
  const readSize = Math.max(opts.readSize ?? DEFAULTS.readSize, 1)
  const spanPieces = Math.max(1, Math.round((opts.spanSize ?? DEFAULTS.spanSize) / pieceLength))
  const wanted = opts.workers || availableParallelism()
  const lanes = Math.max(1, Math.min(wanted, Math.ceil(pieceCount / spanPieces)))
  const inline = totalSize < (opts.inlineBelow ?? DEFAULTS.inlineBelow)
  const plan: SpanPlan = {
    pieceCount,
    spanPieces,
    tailPieces: inline || lanes === 1 ? 0 : Math.min(pieceCount, lanes * spanPieces),
  }
  return { streamFiles, totalSize, pieceCount, plan, spans: spanCount(plan), lanes, inline, readSize }
}

function newJob(shape: JobShape, pieceLength: number): WorkerInit {
  return {
    pieces: new SharedArrayBuffer(shape.pieceCount * SHA1_LENGTH),
    control: new SharedArrayBuffer(8),
    files: shape.streamFiles,
    pieceLength,
    totalSize: shape.totalSize,
    plan: shape.plan,
    readSize: shape.readSize,
  }
}

/** The concatenated SHA-1 digests of all pieces. */
export async function hashPieces(
  files: readonly HashFile[],
  pieceLength: number,
  opts: HashOptions = {},
): Promise<Buffer> {
  const shape = jobShape(files, pieceLength, opts)
  const { streamFiles, totalSize, pieceCount, plan, spans, lanes, inline, readSize } = shape

  opts.signal?.throwIfAborted()
  if (inline) {
    discardHeadStart()
    const out = Buffer.alloc(pieceCount * SHA1_LENGTH)
    const buf = Buffer.allocUnsafe(Math.min(readSize, Math.max(totalSize, 1)))
    let done = 0
    try {
      for (let i = 0; i < spans; i++)
        hashSpan(
          spanAt(streamFiles, totalSize, pieceLength, plan, i),
          pieceLength,
          totalSize,
          buf,
          out,
          (n) => opts.onProgress?.((done += n)),
        )
    } catch (e) {
      throw asTorrentError(e)
    }
    return out
  }

  const workers = opts.callerHashes ? lanes - 1 : lanes
  const head = adoptHeadStart(pieceLength, shape, workers)
  const init = head?.job ?? newJob(shape, pieceLength)
  await runWorkers(workers, init, spans, opts, head)
  return Buffer.from(new Uint8Array(init.pieces))
}

/**
 * Hashing begun before its job was confirmed (`startHeadStart`): its workers, and what they
 * reported meanwhile.
 */
interface HeadStart {
  job: WorkerInit
  workers: Worker[]
  /** Bytes the workers reported hashed, and how many of them finished, before adoption. */
  bytes: number
  done: number
  /** A worker failed or died: the head start is not adopted, the job runs afresh. */
  failed: boolean
  listeners: Array<() => void>
  /** Stops it once HEAD_START_LIMIT_MS have passed unadopted. */
  timer: NodeJS.Timeout | null
}

let headStart: HeadStart | null = null

/**
 * A head start is worth its first ~0.1 s; one not adopted after this is stopped, so that a
 * command held up (waiting for a lease that another process holds while it makes the same
 * torrents, say) does not keep a core busy on a guess.
 */
export const HEAD_START_LIMIT_MS = 2000

/**
 * Starts hashing a job that is likely, not certain, to be asked for next (a CLI command's first
 * torrent, guessed from the catalog while the command is still loading), on workers that are
 * already started and idle. `hashPieces` adopts it only when asked for exactly the same job (the
 * same files, sizes, order, piece length and lanes); anything else stops it. The pieces are the
 * same either way: they are the SHA-1 of the same bytes. The workers stay unreferenced until
 * adopted, so a command that ends without hashing is not kept waiting. Returns whether it started.
 */
export function startHeadStart(
  files: readonly HashFile[],
  pieceLength: number,
  opts: HashOptions,
  limitMs = HEAD_START_LIMIT_MS,
): boolean {
  discardHeadStart()
  const shape = jobShape(files, pieceLength, opts)
  // The calling thread takes its lane once it asks for the job.
  const count = opts.callerHashes ? shape.lanes - 1 : shape.lanes
  if (shape.inline || count < 1 || idleHashWorkers() < count) return false
  const head: HeadStart = {
    job: newJob(shape, pieceLength),
    workers: [],
    bytes: 0,
    done: 0,
    failed: false,
    listeners: [],
    timer: null,
  }
  for (let i = 0; i < count; i++) {
    const w = idleHashWorker()!
    head.workers.push(w)
    const onMessage = (m: WorkerReply): void => {
      if (m.type === 'error') head.failed = true
      else {
        head.bytes += m.bytes
        if (m.type === 'done') head.done++
      }
    }
    const onFail = (): void => void (head.failed = true)
    w.on('message', onMessage)
    w.once('error', onFail)
    w.once('exit', onFail)
    head.listeners.push(() => {
      w.off('message', onMessage)
      w.off('error', onFail)
      w.off('exit', onFail)
    })
    w.postMessage({ job: head.job } satisfies HashJob)
  }
  head.timer = setTimeout(() => {
    if (headStart === head) discardHeadStart()
  }, limitMs).unref()
  headStart = head
  return true
}

/** The head start's state, for tests: null when none is waiting to be adopted. */
export function headStartState(): { bytes: number; finished: boolean; failed: boolean } | null {
  const head = headStart
  if (head === null) return null
  return { bytes: head.bytes, finished: head.done === head.workers.length, failed: head.failed }
}

/** Stops a head start that will not be adopted: its workers are ended, their work dropped. */
export function discardHeadStart(): void {
  const head = headStart
  if (head === null) return
  headStart = null
  if (head.timer !== null) clearTimeout(head.timer)
  Atomics.store(new Int32Array(head.job.control), STOP, 1)
  for (const off of head.listeners) off()
  for (const w of head.workers) void w.terminate()
}

function sameJob(a: WorkerInit, pieceLength: number, b: JobShape): boolean {
  return (
    a.pieceLength === pieceLength &&
    a.totalSize === b.totalSize &&
    a.readSize === b.readSize &&
    a.plan.pieceCount === b.plan.pieceCount &&
    a.plan.spanPieces === b.plan.spanPieces &&
    a.plan.tailPieces === b.plan.tailPieces &&
    a.files.length === b.streamFiles.length &&
    a.files.every((f, i) => {
      const g = b.streamFiles[i]!
      return f.path === g.path && f.length === g.length && f.offset === g.offset
    })
  )
}

/** The head start, when it is this very job, unfailed, on as many workers; else it is stopped. */
function adoptHeadStart(pieceLength: number, shape: JobShape, workers: number): HeadStart | null {
  const head = headStart
  if (head === null) return null
  if (head.failed || head.workers.length !== workers || !sameJob(head.job, pieceLength, shape)) {
    discardHeadStart()
    return null
  }
  headStart = null
  if (head.timer !== null) clearTimeout(head.timer)
  for (const off of head.listeners) off()
  for (const w of head.workers) w.ref()
  return head
}

function runWorkers(
  count: number,
  init: WorkerInit,
  spans: number,
  opts: HashOptions,
  adopted: HeadStart | null,
): Promise<void> {
  const control = new Int32Array(init.control)
  return new Promise((resolve, reject) => {
    const workers: Worker[] = []
    // Lanes still hashing: the workers, and the calling thread when it takes part.
    let running = count + (opts.callerHashes ? 1 : 0)
    let hashed = 0
    let settled = false

    const finish = (err?: Error): void => {
      if (settled) return
      settled = true
      Atomics.store(control, STOP, 1)
      opts.signal?.removeEventListener('abort', onAbort)
      for (const w of workers) void w.terminate()
      if (err) reject(err)
      else resolve()
    }
    const onAbort = (): void =>
      finish(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error('hashing aborted'))
    opts.signal?.addEventListener('abort', onAbort, { once: true })
    const progress = (bytes: number): void => {
      if (bytes === 0) return
      hashed += bytes
      opts.onProgress?.(hashed)
    }
    const laneDone = (): void => {
      if (--running === 0) finish()
    }

    for (let i = 0; i < count; i++) {
      const w = adopted?.workers[i] ?? hashWorker()
      workers.push(w)
      w.on('message', (m: WorkerReply) => {
        if (settled) return
        if (m.type === 'error') return finish(workerError(m))
        progress(m.bytes)
        if (m.type === 'done') laneDone()
      })
      w.on('error', (e) => finish(e))
      w.on('exit', (code) => finish(new Error(`hash worker exited early with code ${code}`)))
      if (adopted === null) w.postMessage({ job: init } satisfies HashJob)
    }
    // What the adopted workers did before they were asked for.
    if (adopted !== null) {
      progress(adopted.bytes)
      for (let i = 0; i < adopted.done; i++) laneDone()
    }
    if (opts.callerHashes)
      void callerLane(init, spans, control, () => settled, progress).then(laneDone, (e: unknown) =>
        finish(asTorrentError(e) as Error),
      )
  })
}

/**
 * The calling thread as one more lane: a span at a time, yielding to its event loop in between
 * (for the workers' progress and errors). Blocking for a span is fine in a CLI process, which
 * has nothing else to do, and saves starting a worker.
 */
async function callerLane(
  init: WorkerInit,
  spans: number,
  control: Int32Array,
  stopped: () => boolean,
  progress: (bytes: number) => void,
): Promise<void> {
  const buf = Buffer.allocUnsafe(init.readSize)
  const out = new Uint8Array(init.pieces)
  for (;;) {
    if (stopped() || Atomics.load(control, STOP) !== 0) return
    const i = Atomics.add(control, NEXT, 1)
    if (i >= spans) return
    const span = spanAt(init.files, init.totalSize, init.pieceLength, init.plan, i)
    let bytes = 0
    hashSpan(span, init.pieceLength, init.totalSize, buf, out, (n) => void (bytes += n))
    progress(bytes)
    await new Promise((r) => setImmediate(r))
  }
}

/** hash-span's `SpanError` (a file not as cataloged) as the `TorrentError` of its code; others as they are. */
function asTorrentError(e: unknown): unknown {
  return e instanceof SpanError ? new TorrentError(e.code, e.message, { path: e.path }) : e
}

const KNOWN_CODES: ReadonlySet<string> = new Set<TorrentErrorCode>(['file-changed', 'file-unreadable'])

function workerError(m: Extract<WorkerReply, { type: 'error' }>): Error {
  if (m.code !== null && KNOWN_CODES.has(m.code)) {
    return new TorrentError(m.code as TorrentErrorCode, m.message, m.path === null ? {} : { path: m.path })
  }
  return new Error(m.message)
}

/** Stream offsets of the non-empty files; empty ones hold no bytes, so their size is checked here. */
function layout(files: readonly HashFile[]): { streamFiles: SpanFile[]; totalSize: number } {
  const streamFiles: SpanFile[] = []
  let offset = 0
  for (const f of files) {
    if (!Number.isSafeInteger(f.length) || f.length < 0)
      throw new TypeError(`hashPieces: bad length ${f.length} for ${f.path}`)
    if (f.length === 0) {
      try {
        checkSize(f.path, statSync(f.path), 0)
      } catch (e) {
        throw asTorrentError(e instanceof SpanError ? e : fileError(f.path, e))
      }
      continue
    }
    streamFiles.push({ path: f.path, length: f.length, offset })
    offset += f.length
  }
  if (!Number.isSafeInteger(offset)) throw new TypeError('hashPieces: total size is not a safe integer')
  return { streamFiles, totalSize: offset }
}
