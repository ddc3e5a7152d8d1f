/** A hash worker: hashes one span of pieces per message, into the shared pieces buffer. */
import { parentPort, workerData } from 'node:worker_threads'
import { hashSpan, type Span } from './hash-span.js'
import type { WorkerInit, WorkerReply } from './hasher.js'

const init = workerData as WorkerInit
const out = new Uint8Array(init.pieces)
const buf = Buffer.allocUnsafe(init.readSize)
const port = parentPort!

// A message per read would cost more than the progress is worth.
const PROGRESS_EVERY = 8 << 20

port.on('message', (span: Span) => {
  const reply = (m: WorkerReply): void => port.postMessage(m)
  let unreported = 0
  try {
    hashSpan(span, init.pieceLength, init.totalSize, buf, out, (bytes) => {
      unreported += bytes
      if (unreported >= PROGRESS_EVERY) {
        reply({ type: 'progress', bytes: unreported })
        unreported = 0
      }
    })
    reply({ type: 'done', bytes: unreported })
  } catch (e) {
    const err = e as Error & { code?: unknown; location?: { path?: string } }
    reply({
      type: 'error',
      code: typeof err.code === 'string' ? err.code : null,
      message: err.message,
      path: err.location?.path ?? null,
    })
  }
})
