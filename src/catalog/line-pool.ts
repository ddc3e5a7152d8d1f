/**
 * The reader's threads: one decompress worker (which also checkpoints) and N line workers,
 * wired so that chunks go from the first to the others directly and only verdicts reach the
 * main thread. Kept for a whole scan (starting a thread costs about 0.1 s of CPU: a Node
 * environment, its modules, their compilation); one file is read at a time.
 */
import { availableParallelism } from 'node:os'
import { MessageChannel, Worker } from 'node:worker_threads'
import type { ChunkFailure, ChunkResult, DecompressMessage, FileRequest, Quiesced } from './line-protocol.js'

/**
 * Each thread has its own V8 heap; a small young generation keeps the short-lived garbage of a
 * chunk from piling up four times over (a scan's memory must not grow with the machine's cores).
 */
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 16 }

/**
 * Chunks in flight beyond two per line worker. Results are taken in file order, so one chunk
 * that is slow (its worker waited for the write lock) holds back the credits
 * of those after it; with too little slack the decompressor stops and the other workers idle.
 * 8 (16 MiB of chunks) halved the time line workers spent waiting for work over 2.
 */
const CREDIT_SLACK = 8

export interface ReaderListener {
  chunk(r: ChunkResult): void
  decompress(m: DecompressMessage): void
  fail(e: Error): void
}

export class LinePool {
  private readonly decompressor: Worker
  private readonly lineWorkers: Worker[]
  private listener: ReaderListener | null = null
  private brokenBy: Error | null = null
  /** Chunks the decompress worker checked itself because the line workers were busy. */
  checkedByDecompressor = 0
  private quiesced: (() => void) | null = null
  private decompressorExited = false

  /**
   * `size` line workers; 0 for one per core but one, the decompress worker's, which checks
   * chunks too when the line workers are busy.
   */
  constructor(size = 0) {
    const n = lineWorkerCount(size)
    const channels = Array.from({ length: n }, () => new MessageChannel())
    // The line workers (and now and then the decompress worker's checkpoint) take turns at
    // SQLite's write lock through this word: see write-lock.ts.
    const writeLock = new SharedArrayBuffer(4)
    const inHandCounts = new SharedArrayBuffer(4 * n)
    this.lineWorkers = channels.map((c, index) => {
      const w = new Worker(new URL('./line-worker.js', import.meta.url), {
        workerData: { port: c.port2, writeLock, inHandCounts, index },
        transferList: [c.port2],
        resourceLimits: WORKER_LIMITS,
      })
      w.on('message', (m: ChunkResult | ChunkFailure) => {
        if (m.type === 'chunk') this.listener?.chunk(m)
        else this.fail(new Error(`line worker failed on chunk ${m.seq}: ${m.error}`))
      })
      w.on('error', (e) => this.fail(e))
      return w
    })
    const ports = channels.map((c) => c.port1)
    this.decompressor = new Worker(new URL('./decompress-worker.js', import.meta.url), {
      workerData: { ports, writeLock, inHandCounts },
      transferList: ports,
      resourceLimits: WORKER_LIMITS,
    })
    // The decompressor checks a chunk itself when every line worker is busy: its verdicts
    // come this way too.
    this.decompressor.on('message', (m: DecompressMessage | ChunkResult | ChunkFailure | Quiesced) => {
      if (m.type === 'chunk') {
        this.checkedByDecompressor++
        this.listener?.chunk(m)
      } else if (m.type === 'chunk-failed')
        this.fail(new Error(`decompress worker failed on chunk ${m.seq}: ${m.error}`))
      else if (m.type === 'quiesced') this.quiesced?.()
      else this.listener?.decompress(m)
    })
    this.decompressor.on('error', (e) => this.fail(e))
    this.decompressor.on('exit', () => {
      this.decompressorExited = true
      this.quiesced?.()
    })
  }

  get size(): number {
    return this.lineWorkers.length
  }

  /** Whether a thread of the pool has failed (or a read was cancelled): it reads nothing more. */
  get broken(): boolean {
    return this.brokenBy !== null
  }

  /** Whether the pool's threads keep the process alive (they do from the start). */
  keepAlive(on: boolean): void {
    for (const w of [this.decompressor, ...this.lineWorkers]) {
      if (on) w.ref()
      else w.unref()
    }
  }

  /** Starts reading a file; results reach `listener` until `release()`. */
  read(file: Omit<FileRequest, 'credits'>, listener: ReaderListener): void {
    if (this.brokenBy) throw this.brokenBy
    if (this.listener) throw new Error('LinePool reads one file at a time')
    this.listener = listener
    this.decompressor.postMessage({
      type: 'file',
      file: { ...file, credits: this.lineWorkers.length * 2 + CREDIT_SLACK },
    })
  }

  /** One item (chunk or skipped line) was written: the decompressor may send another. */
  credit(): void {
    this.decompressor.postMessage({ type: 'credit', n: 1 })
  }

  /** Stops the current file for good: the pool cannot read another (late results could not be told apart). */
  cancel(): void {
    this.decompressor.postMessage({ type: 'cancel' })
    this.brokenBy = new Error('reader cancelled')
  }

  release(): void {
    this.listener = null
  }

  private fail(e: Error): void {
    this.brokenBy = e
    const l = this.listener
    this.listener = null
    l?.fail(e)
  }

  async close(): Promise<void> {
    // The decompress worker first lets its checkpoint's fsyncs finish, which would otherwise
    // leave their descriptors open when it is stopped (bounded: a sync that hangs is not worth
    // hanging the caller for).
    if (!this.decompressorExited) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 10_000)
        this.quiesced = () => {
          clearTimeout(timer)
          resolve()
        }
        this.decompressor.postMessage({ type: 'quiesce' })
      })
    }
    await Promise.all([this.decompressor, ...this.lineWorkers].map((w) => w.terminate()))
  }
}

/**
 * A pool started as `aacseed scan` begins (`prestart` in cli/commands/index.ts), when it is about
 * to fill a new catalog: its threads boot (a V8 isolate each, Node's bootstrap, the checker's
 * modules: about 0.1 s of CPU apiece) on the core that the single-threaded start-up (imports,
 * config, creating the database, listing the roots) leaves idle, instead of after it, so
 * decompressing begins as soon as the first file is known. Until taken it does not keep the
 * process alive. This module imports only `node:os` and `node:worker_threads`, so loading it
 * early costs nothing.
 */
let prestarted: LinePool | null = null

/** Starts the reader threads of a pool of `size` line workers (see LinePool), unless started. */
export function prestartReaders(size = 0): void {
  if (prestarted) return
  prestarted = new LinePool(size)
  prestarted.keepAlive(false)
}

/**
 * The pre-started pool, if there is one and it has `size` line workers (0: the default) and is
 * sound; the caller then owns it (and closes it). Any other pre-started pool is closed.
 */
export function takePrestartedReaders(size = 0): LinePool | undefined {
  const p = prestarted
  prestarted = null
  if (!p) return undefined
  if (p.broken || p.size !== lineWorkerCount(size)) {
    void p.close()
    return undefined
  }
  p.keepAlive(true)
  return p
}

/** How many line workers a pool of `size` has. */
function lineWorkerCount(size: number): number {
  return size > 0 ? size : Math.max(1, availableParallelism() - 1)
}
