/**
 * Running the list parser (`list-worker.ts`) into a `ListSink` on the calling thread: the
 * parser's batches go to the sink as they come, each acknowledged so the parser stays at most
 * two batches ahead. Used by the main thread for a list held in memory (a dry run) and by the
 * list store worker (`list-store-worker.ts`) for a list stored in the database.
 */
import { Worker } from 'node:worker_threads'
import { MirrorError, type MirrorErrorCode } from './errors.js'
import type { ListWorkerInput, ListWorkerMessage } from './list-worker.js'
import type { EntryVerdict } from './list.js'

/**
 * Where a source's entries go as they are read: the store (`MirrorStore.listWriter`) or memory (a dry run).
 */
export interface ListSink<R> {
  add(verdicts: readonly EntryVerdict[]): void
  /** May take a while (the store merges a staged list in slices); the read is then no longer stopped. */
  finish(): R | Promise<R>
  /** The read failed or was refused: forget what it added. */
  abandon(): void
}

export function runListWorker<R>(
  input: ListWorkerInput,
  sink: ListSink<R>,
  signal?: AbortSignal,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    const worker = new Worker(new URL('./list-worker.js', import.meta.url), { workerData: input })
    let settled = false
    let finishing = false
    const settle = (fn: () => void): void => {
      if (settled) return
      settled = true
      signal?.removeEventListener('abort', onAbort)
      void worker.terminate()
      fn()
    }
    const onAbort = (): void => {
      if (finishing) return
      settle(() =>
        reject(new MirrorError('fetch-failed', `${input.ctx.source}: reading the list was stopped`)),
      )
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    if (signal?.aborted) onAbort()
    worker.on('message', (msg: ListWorkerMessage) => {
      if (settled) return
      try {
        if (msg.type === 'batch') {
          sink.add(msg.batch.verdicts)
          worker.postMessage('ack')
        } else if (msg.type === 'done') {
          finishing = true
          void worker.terminate()
          Promise.resolve()
            .then(() => sink.finish())
            .then(
              (r) => settle(() => resolve(r)),
              (e: unknown) => settle(() => reject(e instanceof Error ? e : new Error(String(e)))),
            )
        } else {
          settle(() =>
            reject(new MirrorError(msg.code as MirrorErrorCode, msg.message, { transient: msg.transient })),
          )
        }
      } catch (e) {
        settle(() => reject(e instanceof Error ? e : new Error(String(e))))
      }
    })
    worker.on('error', (e) => {
      if (!finishing) settle(() => reject(e))
    })
    worker.on('exit', (code) => {
      if (finishing) return
      settle(() => reject(new Error(`the list reader for ${input.ctx.source} stopped (exit code ${code})`)))
    })
  })
}
