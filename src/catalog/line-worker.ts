/**
 * Worker thread: checks the chunks of lines the decompress worker sends (line-check.ts), on
 * every core but the decompressor's, while that one reads ahead; verdicts go to the main thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { deferChunk, deferredChunks, postDeferred } from './line-check.js'
import type { ChunkRequest } from './line-protocol.js'
import { WriteLock } from './write-lock.js'

const {
  port: chunks,
  writeLock,
  inHandCounts,
  index,
} = workerData as {
  port: MessagePort
  writeLock: SharedArrayBuffer
  /** Chunks each line worker holds, for the decompress worker (see there); this one's is `index`. */
  inHandCounts: SharedArrayBuffer
  index: number
}
const lock = new WriteLock(writeLock)
const inHand = new Int32Array(inHandCounts)

/** Whether a write of the deferred chunks, waiting for the lock if need be, is due. */
let flushDue = false

// Chunks come from the decompress worker over this port; verdicts go to the main thread once
// their records are written. The records wait when the write lock is taken (see deferChunk):
// this thread checks the next chunk in hand meanwhile, and writes them with it, or, when no
// chunk is left in hand, waiting for the lock.
chunks.on('message', (req: ChunkRequest) => {
  try {
    deferChunk(req)
  } catch (e) {
    parentPort!.postMessage({ type: 'chunk-failed', seq: req.seq, error: (e as Error).stack ?? String(e) })
    return
  }
  Atomics.sub(inHand, index, 1)
  // The buffer goes back to the decompress worker for its next chunk (nothing here keeps a
  // view of it: the strings taken from it and the records kept are copies).
  chunks.postMessage(req.buffer, [req.buffer])
  write(false)
  if (deferredChunks() > 0 && !flushDue) {
    flushDue = true
    // After the chunks already in hand: their messages are handled before this runs.
    setImmediate(() => {
      flushDue = false
      write(true)
    })
  }
})

function write(wait: boolean): void {
  postDeferred(parentPort!, lock, wait)
}
