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

/**
 * A list thread started for one outcome, settled once: the first of its result, its failure or
 * the caller's abort. Settling removes the abort listener and ends the thread. `stoppable()` says
 * whether an abort still stops it: not once it is finishing (a merge runs to its end).
 */
export function stoppableWorker(
  script: string,
  workerData: unknown,
  opts: { signal: AbortSignal | undefined; stoppable: () => boolean; onStop: () => void },
): { worker: Worker; settle: (fn: () => void) => void; settled: () => boolean } {
  const worker = new Worker(new URL(script, import.meta.url), { workerData })
  let settled = false
  const settle = (fn: () => void): void => {
    if (settled) return
    settled = true
    opts.signal?.removeEventListener('abort', onAbort)
    void worker.terminate()
    fn()
  }
  const onAbort = (): void => {
    if (opts.stoppable()) settle(opts.onStop)
  }
  opts.signal?.addEventListener('abort', onAbort, { once: true })
  if (opts.signal?.aborted) onAbort()
  return { worker, settle, settled: () => settled }
}

export function runListWorker<R>(
  input: ListWorkerInput,
  sink: ListSink<R>,
  signal?: AbortSignal,
): Promise<R> {
  return new Promise<R>((resolve, reject) => {
    let finishing = false
    const { worker, settle, settled } = stoppableWorker('./list-worker.js', input, {
      signal,
      stoppable: () => !finishing,
      onStop: () =>
        reject(new MirrorError('fetch-failed', `${input.ctx.source}: reading the list was stopped`)),
    })
    worker.on('message', (msg: ListWorkerMessage) => {
      if (settled()) return
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
