/**
 * WebTorrent's chunk store for seeding release data in place, with a bounded number of open files.
 *
 * Why not webtorrent's default `fs-chunk-store` (5.0.1): it opens files lazily, but then keeps
 * every file it ever touched open until the torrent is removed, opens them read-write (seeding
 * from a read-only mount fails), creates missing folders even on close, and deletes data
 * when asked to destroy. A release torrent holds thousands of files and a seedbox holds
 * hundreds of torrents, so the open-file count would grow with the data served. Here all
 * torrents of one engine share one least-recently-used pool of file handles; data is read
 * through read-only handles, and only written (read-write, created on demand) when a piece
 * has to be downloaded. `destroy` never deletes anything.
 *
 * Peers request 16 KiB blocks, and webtorrent asks the store for each block on its own: a
 * 2 GiB upload is 131,072 `pread`s through libuv's thread pool. With `batchBytes`, the requests
 * of one turn of the event loop are read together (see `flush`), into buffers used again (see
 * `SlabPool`), and answered in the order they were asked for (see `answer`). A shared read cache of 1 MiB windows, tried before, cut the reads as much but cost
 * more CPU in garbage collection than it saved; it was removed. webtorrent's `storeCacheSlots`
 * cache is per torrent and keeps whole pieces (20 × up to 16 MiB for each of thousands of
 * torrents), so it stays off.
 */
import { constants } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import { dirname, resolve, sep } from 'node:path'
import type { ChunkStore, ChunkStoreOptions } from 'webtorrent'

type Mode = 'r' | 'rw'

interface PoolEntry {
  readonly key: string
  readonly path: string
  readonly handle: Promise<FileHandle>
  refs: number
}

/** Open file handles shared by every torrent of an engine; least recently used are closed first. */
export class FilePool {
  /** Insertion order is use order: the first entry is the least recently used. */
  private readonly entries = new Map<string, PoolEntry>()
  private readonly waiting: Array<() => void> = []
  /** Evicted handles whose close has not finished: they still count against `max`. */
  private closing = 0
  private closed = false

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1)
      throw new RangeError(`FilePool: max must be a positive integer, got ${max}`)
  }

  /** Handles open, opening or closing now: at most `max`. */
  get size(): number {
    return this.entries.size + this.closing
  }

  /**
   * Runs `fn` with an open handle of `path`. A caller holds one handle at a time, so waiting cannot deadlock.
   */
  async use<T>(path: string, mode: Mode, fn: (fh: FileHandle) => Promise<T>): Promise<T> {
    const entry = await this.acquire(path, mode)
    try {
      let fh: FileHandle
      try {
        fh = await entry.handle
      } catch (e) {
        // A failed open holds no descriptor: forget it so the next use tries again.
        if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key)
        throw e
      }
      return await fn(fh)
    } finally {
      entry.refs--
      this.trim()
      this.wakeOne()
    }
  }

  /**
   * Closes the idle handles of these files (their torrent was removed); a handle in use is left to the LRU.
   */
  closePaths(paths: Iterable<string>): void {
    const set = new Set(paths)
    for (const e of [...this.entries.values()]) {
      if (set.has(e.path) && e.refs === 0) this.drop(e)
    }
    this.wakeAll()
  }

  closeAll(): void {
    this.closed = true
    for (const e of [...this.entries.values()]) if (e.refs === 0) this.drop(e)
    this.wakeAll()
  }

  private async acquire(path: string, mode: Mode): Promise<PoolEntry> {
    const key = `${mode}\0${path}`
    for (;;) {
      if (this.closed) throw new Error('file pool is closed')
      const found = this.entries.get(key)
      if (found) {
        this.entries.delete(key)
        this.entries.set(key, found)
        found.refs++
        return found
      }
      this.trim(1)
      if (this.size < this.max) {
        const entry: PoolEntry = { key, path, handle: openHandle(path, mode), refs: 1 }
        this.entries.set(key, entry)
        return entry
      }
      // Every handle is in use: wait for one to be released rather than exceed the bound.
      await new Promise<void>((res) => this.waiting.push(res))
    }
  }

  /** Closes idle handles, least recently used first, until `room` more fit. */
  private trim(room = 0): void {
    if (this.size + room <= this.max && !this.closed) return
    for (const e of [...this.entries.values()]) {
      if (this.size + room <= this.max && !this.closed) return
      if (e.refs === 0) this.drop(e)
    }
  }

  private drop(e: PoolEntry): void {
    this.entries.delete(e.key)
    this.closing++
    e.handle
      .then((fh) => fh.close())
      .catch(() => {})
      .finally(() => {
        this.closing--
        this.wakeOne()
      })
  }

  private wakeOne(): void {
    this.waiting.shift()?.()
  }

  private wakeAll(): void {
    for (const w of this.waiting.splice(0)) w()
  }
}

async function openHandle(path: string, mode: Mode): Promise<FileHandle> {
  if (mode === 'r') return await open(path, 'r')
  // Read-write, created if missing, never truncated. Its folder is made only when missing: a
  // download opens each of its files once per pool slot, and a `mkdir -p` before every open
  // was a stat of each path component every time.
  const flags = constants.O_RDWR | constants.O_CREAT
  try {
    return await open(path, flags, 0o644)
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e
    await mkdir(dirname(path), { recursive: true })
    return await open(path, flags, 0o644)
  }
}

/**
 * Buffers for batched reads, used again once every block cut from one has been written to a
 * peer's socket. Allocated anew, every byte uploaded is a fresh off-heap allocation, and V8
 * answers each 64 MiB or so of them with a full garbage collection that marks the whole heap:
 * uploading 2 GiB made about 30 of them. A buffer goes back to the free list only when the
 * socket wrapper (`coalesceWrites` in webtorrent.ts) has seen each of its blocks written
 * (`written`); a block dropped on the way (a cancelled request, a closed connection, a socket
 * this engine did not accept) keeps its buffer out of the free list, and the garbage collector
 * takes it as before. Sizes are powers of two, from 16 KiB.
 */
export class SlabPool {
  /** Free buffers by size. */
  private readonly free = new Map<number, Buffer[]>()
  private freeBytes = 0
  /** Buffers lent out: blocks not yet seen written. */
  private readonly lent = new WeakMap<ArrayBufferLike, { buf: Buffer; blocks: number }>()

  constructor(
    /** Free buffers kept for use again, in bytes. */
    readonly maxFreeBytes: number,
  ) {
    if (!Number.isInteger(maxFreeBytes) || maxFreeBytes < 0)
      throw new RangeError(`SlabPool: maxFreeBytes must be a non-negative integer, got ${maxFreeBytes}`)
  }

  /** Bytes in free buffers now. */
  get size(): number {
    return this.freeBytes
  }

  /** A buffer of at least `bytes`, its own ArrayBuffer (not a view of Node's shared pool). */
  take(bytes: number): Buffer {
    let size = 16 * 1024
    while (size < bytes) size *= 2
    const buf = this.free.get(size)?.pop()
    if (buf) {
      this.freeBytes -= size
      return buf
    }
    return Buffer.allocUnsafeSlow(size)
  }

  /** `buf` (from `take`) was cut into `blocks` blocks, now on their way to peers. */
  lend(buf: Buffer, blocks: number): void {
    if (blocks > 0) this.lent.set(buf.buffer, { buf, blocks })
    else this.give(buf)
  }

  /** `buf` (from `take`) was never handed out. */
  give(buf: Buffer): void {
    if (this.freeBytes + buf.length > this.maxFreeBytes) return
    let list = this.free.get(buf.length)
    if (!list) this.free.set(buf.length, (list = []))
    list.push(buf)
    this.freeBytes += buf.length
  }

  /** Whether `chunk` is a block of a lent buffer (a socket wrapper then reports its write). */
  owns(chunk: Uint8Array): boolean {
    return this.lent.has(chunk.buffer)
  }

  /** A block of a lent buffer was written to a socket: Node holds it no longer. */
  written(chunk: Uint8Array): void {
    const loan = this.lent.get(chunk.buffer)
    if (!loan) return
    if (--loan.blocks > 0) return
    this.lent.delete(chunk.buffer)
    this.give(loan.buf)
  }
}

interface PendingBlock {
  /** Offset in the torrent. */
  readonly at: number
  readonly length: number
  readonly cb: (err: Error | null, buf?: Uint8Array) => void
}

interface Answer {
  readonly cb: (err: Error | null, buf?: Uint8Array) => void
  ready: boolean
  err: Error | null
  buf: Uint8Array | undefined
}

const DONE: Answer = { cb: () => {}, ready: true, err: null, buf: undefined }

interface StoreFile {
  path: string
  offset: number
  length: number
}

export interface BatchedReads {
  /** The most one batched read takes in (0: every block read on its own); see `flush`. */
  batchBytes: number
  /** Where batched reads take their buffers from (default: allocated for each read). */
  slabs?: SlabPool
}

/** An abstract-chunk-store over the torrent's files in place, reading through `pool`. */
export function pooledChunkStore(
  pool: FilePool,
  { batchBytes, slabs }: BatchedReads = { batchBytes: 0 },
): new (chunkLength: number, opts: ChunkStoreOptions) => ChunkStore {
  return class PooledChunkStore implements ChunkStore {
    readonly chunkLength: number
    private readonly files: StoreFile[]
    private readonly length: number
    private readonly lastChunkIndex: number
    private readonly lastChunkLength: number
    /**
     * A bad file path is reported on every call: throwing from the constructor would be an unhandled
     * rejection inside webtorrent.
     */
    private readonly invalid: Error | null = null
    private closed = false
    /** Block requests waiting for the end of this turn of the event loop; see `flush`. */
    private pending: PendingBlock[] | null = null
    /** Block requests not yet answered, in the order they were asked for; see `answer`. */
    private answers: Answer[] = []
    private answered = 0

    constructor(chunkLength: number, opts: ChunkStoreOptions) {
      this.chunkLength = chunkLength
      const root = resolve(opts.path)
      this.files = opts.files
        .map((f) => ({ path: resolve(root, f.path), offset: f.offset, length: f.length }))
        .filter((f) => f.length > 0)
      const escaping = this.files.find((f) => !f.path.startsWith(root + sep))
      if (escaping) this.invalid = new Error(`torrent file path leaves the data folder: ${escaping.path}`)
      this.length = opts.length
      this.lastChunkIndex = Math.max(0, Math.ceil(this.length / chunkLength) - 1)
      this.lastChunkLength = this.length - this.lastChunkIndex * chunkLength
    }

    get(
      index: number,
      opts: { offset?: number; length?: number } | null,
      cb: (err: Error | null, buf?: Uint8Array) => void,
    ): void {
      const chunk = index === this.lastChunkIndex ? this.lastChunkLength : this.chunkLength
      const from = opts?.offset ?? 0
      const len = opts?.length ?? chunk - from
      if (index < 0 || index > this.lastChunkIndex || from < 0 || len < 0 || from + len > chunk) {
        queueMicrotask(() => cb(new Error(`invalid chunk range ${index}:${from}+${len}`)))
        return
      }
      const start = index * this.chunkLength
      if (batchBytes > 0 && len > 0 && len < chunk && len <= batchBytes) {
        if (this.pending === null) {
          this.pending = []
          setImmediate(this.flush)
        }
        const answer: Answer = { cb, ready: false, err: null, buf: undefined }
        this.answers.push(answer)
        this.pending.push({ at: start + from, length: len, cb: (err, buf) => this.answer(answer, err, buf) })
        return
      }
      const buf = Buffer.allocUnsafe(len)
      this.io('r', start + from, buf).then(
        () => cb(null, buf),
        (e: Error) => cb(e),
      )
    }

    put(index: number, buf: Uint8Array, cb: (err?: Error | null) => void = () => {}): void {
      const chunk = index === this.lastChunkIndex ? this.lastChunkLength : this.chunkLength
      if (index < 0 || index > this.lastChunkIndex || buf.length !== chunk) {
        queueMicrotask(() => cb(new Error(`chunk ${index} must be ${chunk} bytes, got ${buf.length}`)))
        return
      }
      this.io('rw', index * this.chunkLength, Buffer.from(buf.buffer, buf.byteOffset, buf.length)).then(
        () => cb(null),
        (e: Error) => cb(e),
      )
    }

    /**
     * Reads the block requests of one turn of the event loop: each run of blocks that follow one
     * another in the torrent (up to `batchBytes`) in one read into one buffer, each block a view
     * of it. A peer asks for the blocks of a piece in order, many in one TCP segment, and
     * webtorrent asks the store for each on its own: read one by one, a 2 GiB upload was 131,072
     * `pread`s, each a round trip through libuv's thread pool and a 16 KiB allocation. The
     * buffer lives as long as its blocks wait to be sent, and they are sent together.
     */
    private readonly flush = (): void => {
      const blocks = this.pending
      this.pending = null
      if (!blocks) return
      blocks.sort((a, b) => a.at - b.at)
      for (let i = 0; i < blocks.length;) {
        const base = blocks[i]!.at
        let end = base + blocks[i]!.length
        let j = i + 1
        while (j < blocks.length && blocks[j]!.at === end && end + blocks[j]!.length - base <= batchBytes)
          end += blocks[j++]!.length
        const run = blocks.slice(i, j)
        i = j
        const slab = slabs?.take(end - base)
        const buf = slab ? slab.subarray(0, end - base) : Buffer.allocUnsafe(end - base)
        this.io('r', base, buf).then(
          () => {
            if (slab) slabs!.lend(slab, run.length)
            for (const b of run) b.cb(null, buf.subarray(b.at - base, b.at - base + b.length))
          },
          (e: Error) => {
            if (slab) slabs!.give(slab)
            if (run.length === 1) return run[0]!.cb(e)
            // One bad block must not fail its neighbours: each is read again on its own.
            for (const b of run) {
              const own = Buffer.allocUnsafe(b.length)
              this.io('r', b.at, own).then(
                () => b.cb(null, own),
                (err: Error) => b.cb(err),
              )
            }
          },
        )
      }
    }

    /**
     * Answers block requests in the order they were asked for (a block read sooner waits for
     * those asked before it). The runs of one turn are read in parallel in libuv's thread pool
     * and finish in any order: uploading the 2 GiB benchmark release to libtorrent, a quarter of
     * the blocks went out before blocks asked for earlier, and libtorrent spent more CPU taking
     * them (page faults of its downloader: 89,000 to 99,000 against 55,000 to 79,000 in order).
     * Answered in order, back to back on a shared machine (4 pairs), libtorrent took 9.3 to
     * 11.5 s (median 9.7) and 7.6 to 8.1 s of CPU, against 10.4 to 11.1 s (median 10.8) and
     * 7.8 to 9.0 s.
     */
    private answer(a: Answer, err: Error | null, buf?: Uint8Array): void {
      a.ready = true
      a.err = err
      a.buf = buf
      const q = this.answers
      while (this.answered < q.length && q[this.answered]!.ready) {
        const next = q[this.answered]!
        q[this.answered++] = DONE
        next.cb(next.err, next.buf)
      }
      if (this.answered === q.length) {
        q.length = 0
        this.answered = 0
      } else if (this.answered > 1024 && this.answered * 2 > q.length) {
        this.answers = q.slice(this.answered)
        this.answered = 0
      }
    }

    close(cb: (err?: Error | null) => void = () => {}): void {
      this.closed = true
      pool.closePaths(this.files.map((f) => f.path))
      queueMicrotask(() => cb(null))
    }

    /** Never deletes data: seeding must not lose a release because a torrent was removed. */
    destroy(cb: (err?: Error | null) => void = () => {}): void {
      this.close(cb)
    }

    /** Reads or writes `buf` at torrent offset `start`, across file boundaries. */
    private async io(mode: Mode, start: number, buf: Buffer): Promise<void> {
      if (this.invalid) throw this.invalid
      if (this.closed) throw new Error('store is closed')
      const end = start + buf.length
      for (let i = this.firstFileAt(start); i < this.files.length; i++) {
        const f = this.files[i]!
        if (f.offset >= end) break
        const from = Math.max(start, f.offset)
        const to = Math.min(end, f.offset + f.length)
        if (to <= from) continue
        const part = buf.subarray(from - start, to - start)
        const position = from - f.offset
        await pool.use(f.path, mode, async (fh) => {
          if (mode === 'r') await readFully(fh, part, position, f.path)
          else await writeFully(fh, part, position)
        })
      }
    }

    /** Index of the first file that ends after `pos` (files are sorted by offset). */
    private firstFileAt(pos: number): number {
      let lo = 0
      let hi = this.files.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        const f = this.files[mid]!
        if (f.offset + f.length <= pos) lo = mid + 1
        else hi = mid
      }
      return lo
    }
  }
}

async function readFully(fh: FileHandle, buf: Buffer, position: number, path: string): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const { bytesRead } = await fh.read(buf, done, buf.length - done, position + done)
    if (bytesRead === 0) throw new Error(`short read: ${path} ends before byte ${position + buf.length}`)
    done += bytesRead
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done)
    done += bytesWritten
  }
}
