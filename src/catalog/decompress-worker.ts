/**
 * Worker thread: reads one metadata file at a time, decompresses its zstd frames, and hands
 * chunks of complete lines, numbered, straight to the line workers (over their MessagePorts),
 * which check and write them. When every line worker already has LOCAL_AFTER chunks in hand,
 * it checks the chunk itself (line-check.ts) instead of waiting: on a 2-core machine one line
 * worker and this thread then share the checking, and the scan starts one thread fewer (a
 * thread costs about 0.1 s of CPU to start, and each compiles the checker again). Every chunk
 * (and every over-long line it skips) gets a sequence number; the main thread puts the results
 * back in that order and returns one credit per item it has taken, which bounds the chunks in
 * flight and so the memory.
 *
 * Frame boundaries are exact: `ZSTD_decompressStream` returns 0 precisely when a frame ends,
 * so single-frame, multi-frame and seekable files are all read the same way.
 *
 * Every ITEMS_PER_CHECKPOINT credits (items written) it also checkpoints the catalog's WAL
 * (see checkpointer.ts).
 */
import { isUtf8 } from 'node:buffer'
import { open } from 'node:fs/promises'
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import type { ChunkRequest, DecompressMessage, FileRequest, MetaFrame, Quiesced } from './line-protocol.js'
import { Checkpointer, ITEMS_PER_CHECKPOINT } from './checkpointer.js'
import { deferChunk, deferredChunks, dropDeferred, postDeferred } from './line-check.js'
import { WriteLock } from './write-lock.js'
import { newDecompressContext } from './zstd.js'

const { ports, writeLock, inHandCounts } = workerData as {
  ports: MessagePort[]
  writeLock: SharedArrayBuffer
  inHandCounts: SharedArrayBuffer
}
const lock = new WriteLock(writeLock)
/**
 * Chunks sent to each line worker and not yet checked: added to here, taken off by the worker
 * as it finishes one. Shared memory, not messages: this thread decompresses without returning
 * to its event loop for many chunks, and a count it learned from messages would be stale.
 */
const inHand = new Int32Array(inHandCounts)

/**
 * Chunk buffers the line workers have sent back (see line-worker.ts). Reusing them spares the
 * decompressor, the scan's critical path, from faulting in and zeroing fresh pages for every
 * 2 MiB it decodes (a gigabyte for a million records), and the line workers from freeing them.
 */
const spare: ArrayBuffer[] = []
const MAX_SPARE = 64
for (const port of ports)
  port.on('message', (b: ArrayBuffer) => {
    if (spare.length < MAX_SPARE) spare.push(b)
  })

/**
 * A line worker holding this many chunks (one being checked, the rest queued) has enough to do
 * while this thread checks the next one: it never runs dry, and this thread does not sit
 * waiting for credits.
 */
const LOCAL_AFTER = 3

/** A chunk buffer of `bytes`: a spare one when one of that size is at hand. */
function chunkBuffer(bytes: number): Buffer {
  while (spare.length > 0) {
    const b = spare.pop()!
    if (b.byteLength === bytes) return Buffer.from(b)
  }
  return Buffer.allocUnsafeSlow(bytes)
}
/**
 * zstd's largest block (128 KiB) plus its header: one call per block locates a decoding error to within a
 * block.
 */
const MAX_CALL_INPUT = 128 * 1024 + 3
const MiB = 1024 * 1024

let credits = 0
let wake: (() => void) | null = null
let cancelled = false
/** The catalog the current file's records go to, and its checkpoint connection. */
let database: string | null = null
let checkpointer: Checkpointer | null = null
let itemsSinceCheckpoint = 0

/** Items were written: now and then, copy the WAL back (see checkpointer.ts). */
function written(n: number): void {
  itemsSinceCheckpoint += n
  if (itemsSinceCheckpoint < ITEMS_PER_CHECKPOINT || database === null) return
  itemsSinceCheckpoint = 0
  if (checkpointer?.path !== database) {
    const previous = checkpointer
    void previous?.idle().then(() => previous.close())
    checkpointer = new Checkpointer(database, lock)
  }
  checkpointer.checkpoint()
}

function post(m: DecompressMessage): void {
  parentPort!.postMessage(m)
}

/**
 * Checks a chunk on this thread; its verdicts go to the main thread as a line worker's do, once
 * its records are written. They are written at once if the write lock is free, else later (see
 * deferChunk): with the next chunk checked here, and at the latest before this thread waits
 * for credits (which the main thread returns only for verdicts it has) or ends the file.
 */
function checkHere(chunk: ChunkRequest): void {
  try {
    deferChunk(chunk)
  } catch (e) {
    parentPort!.postMessage({ type: 'chunk-failed', seq: chunk.seq, error: (e as Error).stack ?? String(e) })
    return
  }
  if (spare.length < MAX_SPARE) spare.push(chunk.buffer)
  writeDeferred(false)
}

/** Writes the chunks checked here and not yet written (`wait`: even if the lock is taken now). */
function writeDeferred(wait: boolean): void {
  if (deferredChunks() === 0) return
  postDeferred(parentPort!, lock, wait)
}

async function acquire(): Promise<void> {
  // The main thread returns credits for verdicts it has, in order: it must have these first.
  if (credits <= 0) writeDeferred(true)
  while (credits <= 0 && !cancelled) await new Promise<void>((r) => (wake = r))
  if (cancelled) throw new Error('cancelled')
  credits--
}

parentPort!.on(
  'message',
  (
    m:
      | { type: 'file'; file: FileRequest }
      | { type: 'credit'; n: number }
      | { type: 'cancel' }
      | { type: 'quiesce' },
  ) => {
    if (m.type === 'quiesce') {
      // The pool is about to stop this thread: let the checkpoint's syncs finish and close
      // their descriptors first.
      const c = checkpointer
      checkpointer = null
      void (c?.idle() ?? Promise.resolve()).then(() => {
        c?.close()
        parentPort!.postMessage({ type: 'quiesced' } satisfies Quiesced)
      })
      return
    }
    if (m.type === 'credit') {
      credits += m.n
      written(m.n)
    } else if (m.type === 'cancel') {
      cancelled = true
    } else {
      cancelled = false
      database = m.file.target.database
      readFile(m.file).catch((e: unknown) => {
        if (!cancelled)
          post({
            type: 'failed',
            error: (e as Error).message,
            code: (e as NodeJS.ErrnoException).code ?? null,
          })
      })
    }
    const w = wake
    wake = null
    w?.()
  },
)

async function readFile(req: FileRequest): Promise<void> {
  credits = req.credits
  const chunkBytes = req.chunkBytes
  const maxLine = Math.max(chunkBytes, req.maxLineBytes)
  const fh = await open(req.path, 'r')
  const dctx = newDecompressContext()
  const input = Buffer.allocUnsafe(4 * MiB)
  const frames: MetaFrame[] = [{ frame: 0, compressedOffset: 0, decompressedOffset: 0 }]
  let out = chunkBuffer(chunkBytes)
  let fill = 0
  let outBase = 0
  let skipping = false
  let skipStart = 0
  let cPos = 0
  let dPos = 0
  let inFrame = false
  let frameEnded = false
  let seq = 0
  let lines = 0
  let nextPort = 0
  let newlines = new Int32Array(4096)

  const sendChunk = async (buf: Buffer, length: number, base: number): Promise<void> => {
    // A checkpoint's fsync finishes on libuv's thread pool; its callback runs only when this
    // thread's event loop turns, which decompressing many chunks in a row would put off.
    if (checkpointer?.busy) await new Promise((r) => setImmediate(r))
    await acquire()
    // Finding the lines and checking UTF-8 here, where there is time to spare (this thread
    // waits for credits while the line workers are busy), lets each line worker number its
    // own lines and skip both passes (Buffer#indexOf is memchr).
    const lineBase = lines + 1
    const view = buf.subarray(0, length)
    let count = 0
    for (let i = view.indexOf(10); i >= 0; i = view.indexOf(10, i + 1)) {
      if (count === newlines.length) {
        const bigger = new Int32Array(newlines.length * 2)
        bigger.set(newlines)
        newlines = bigger
      }
      newlines[count++] = i
    }
    lines += view[length - 1] === 10 ? count : count + 1
    const ends = newlines.slice(0, count)
    const chunk: ChunkRequest = {
      seq: seq++,
      buffer: buf.buffer as ArrayBuffer,
      length,
      base,
      lineBase,
      newlines: ends,
      utf8: isUtf8(view),
      context: req.context,
      target: req.target,
    }
    // The line worker with the fewest chunks in hand (the first such after the last one used).
    let k = nextPort
    let least = Atomics.load(inHand, k)
    for (let j = 1; j < ports.length; j++) {
      const c = (nextPort + j) % ports.length
      const n = Atomics.load(inHand, c)
      if (n < least) {
        k = c
        least = n
      }
    }
    if (least >= LOCAL_AFTER) {
      checkHere(chunk)
      return
    }
    Atomics.add(inHand, k, 1)
    ports[k]!.postMessage(chunk, [chunk.buffer, ends.buffer])
    nextPort = (k + 1) % ports.length
  }

  const sendLong = async (offset: number, length: number): Promise<void> => {
    await acquire()
    post({ type: 'long', seq: seq++, line: ++lines, offset, length, maxLine })
  }

  /** Sends every complete line in `out` to the line workers; with `final`, the unterminated tail too. */
  const emit = async (final: boolean): Promise<void> => {
    if (skipping) {
      const nl = out.subarray(0, fill).indexOf(10)
      if (nl < 0) {
        outBase += fill
        fill = 0
        if (final) await sendLong(skipStart, outBase - skipStart)
        return
      }
      await sendLong(skipStart, outBase + nl - skipStart)
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
    const next = chunkBuffer(Math.max(chunkBytes, tail * 2))
    out.copy(next, 0, last + 1, fill)
    const sendLength = out[last] === 10 ? last + 1 : fill
    const sentBase = outBase
    const prev = out
    out = next
    fill = tail
    outBase = sentBase + last + 1
    await sendChunk(prev, sendLength, sentBase)
  }

  const zstdProblem = (code: string, message: string): void =>
    post({ type: 'problem', problem: { line: null, offset: cPos, aacid: null, code, message } })

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
          if (dPos > last.decompressedOffset)
            frames.push({ frame: frames.length, compressedOffset: cPos, decompressedOffset: dPos })
        }
        let ret: number, produced: number, consumed: number
        try {
          ;[ret, produced, consumed] = dctx.decompressStream(
            out.subarray(fill),
            src.length > MAX_CALL_INPUT ? src.subarray(0, MAX_CALL_INPUT) : src,
          )
        } catch (e) {
          zstdProblem(
            'corrupt-zstd',
            `corrupt zstd data near compressed byte ${cPos}: ${(e as Error).message}`,
          )
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
      post({ type: 'progress', compressedBytes: cPos })
    }
    if (cPos === 0 && !fatal) {
      zstdProblem('corrupt-zstd', 'file is empty: no zstd frame')
    } else if (inFrame && !fatal) {
      zstdProblem('truncated-zstd', `zstd data ends in the middle of a frame after ${cPos} compressed bytes`)
      fatal = true
    }
    // After a zstd error the unterminated tail is a cut-off line, not a record: drop it.
    await emit(!fatal)
  } finally {
    // A cancelled read's records are not wanted (the main thread deletes the file's version).
    if (cancelled) dropDeferred()
    else writeDeferred(true)
    await fh.close()
  }
  while (frames.length > 1 && frames[frames.length - 1]!.decompressedOffset >= dPos) frames.pop()
  post({ type: 'done', items: seq, frames, compressedBytes: cPos, decompressedBytes: dPos })
}
