/**
 * Worker thread: checks the chunks of lines the decompress worker sends (line-check.ts), on
 * every core but the decompressor's, while that one reads ahead; verdicts go to the main thread.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import { processChunk } from './line-check.js'
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

// Chunks come from the decompress worker over this port; verdicts go to the main thread.
chunks.on('message', (req: ChunkRequest) => {
  try {
    const res = processChunk(req, lock)
    Atomics.sub(inHand, index, 1)
    parentPort!.postMessage(res)
    // The buffer goes back to the decompress worker for its next chunk (nothing here keeps a
    // view of it: the strings taken from it are copies).
    chunks.postMessage(req.buffer, [req.buffer])
  } catch (e) {
    parentPort!.postMessage({ type: 'chunk-failed', seq: req.seq, error: (e as Error).stack ?? String(e) })
  }
})
