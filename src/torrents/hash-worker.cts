/**
 * A hash worker: takes one job per message and claims its spans one at a time from the job's
 * shared counter until none are left, writing digests into the job's shared pieces buffer.
 * The job comes as a message rather than as `workerData`, so that a worker can be started
 * before its job is known (hash-pool.ts). CommonJS, with hash-span.cts, for a cheaper boot (see
 * there).
 */
import { parentPort } from 'node:worker_threads'
import { hashSpan, NEXT, SpanError, spanAt, spanCount, STOP } from './hash-span.cjs'
import type { HashJob, WorkerReply } from './hasher.js' with { 'resolution-mode': 'import' }

const port = parentPort!
let buf = Buffer.alloc(0)

// A message per read would cost more than the progress is worth.
const PROGRESS_EVERY = 8 << 20

port.on('message', ({ job }: HashJob) => {
  const reply = (m: WorkerReply): void => port.postMessage(m)
  if (buf.length !== job.readSize) buf = Buffer.allocUnsafe(job.readSize)
  const out = new Uint8Array(job.pieces)
  const control = new Int32Array(job.control)
  const spans = spanCount(job.plan)
  let unreported = 0
  try {
    for (;;) {
      if (Atomics.load(control, STOP) !== 0) break
      const i = Atomics.add(control, NEXT, 1)
      if (i >= spans) break
      const span = spanAt(job.files, job.totalSize, job.pieceLength, job.plan, i)
      hashSpan(span, job.pieceLength, job.totalSize, buf, out, (bytes) => {
        unreported += bytes
        if (unreported >= PROGRESS_EVERY) {
          reply({ type: 'progress', bytes: unreported })
          unreported = 0
        }
      })
      // Each span's bytes are told as it ends, as the caller's lane does.
      if (unreported > 0) reply({ type: 'progress', bytes: unreported })
      unreported = 0
    }
    reply({ type: 'done', bytes: unreported })
  } catch (e) {
    reply({
      type: 'error',
      code: e instanceof SpanError ? e.code : null,
      message: (e as Error).message,
      path: e instanceof SpanError ? e.path : null,
    })
  }
})
