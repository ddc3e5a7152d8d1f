/**
 * Running the list parser (`list-worker.ts`) into a `ListSink` on the calling thread: the
 * parser's batches go to the sink as they come, each acknowledged so the parser stays at most
 * two batches ahead. Used by the main thread for a list held in memory (a dry run) and by the
 * list store worker (`list-store-worker.ts`) for a list stored in the database.
 */
import { parentPort, Worker, workerData } from 'node:worker_threads'
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
  const spare = takeSpare(script)
  const worker = spare ?? new Worker(new URL(script, import.meta.url), { workerData })
  if (spare) {
    spare.ref()
    spare.postMessage(workerData)
  }
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

/** The two list threads: the parser, and the store that runs one (list-store-worker.ts). */
export type ListWorkerScript = './list-worker.js' | './list-store-worker.js'

/** What a spare thread is given for `workerData`: it then waits for its input as its first message. */
const AWAIT_INPUT = 'aacseed:await-input'

const spares = new Map<string, Worker>()

/**
 * Starts a list thread before it has work (one per script, at most), so that it boots and loads
 * its modules while this thread does something else: `stoppableWorker` hands it its input
 * instead of starting one. Booting one took 0.3–0.4 s of `mirror sync`'s start-up on the 2-core
 * bench machine, and the store thread then starts the parser thread: two boots in a row before
 * the list's first byte was fetched, as long as loading webtorrent on the main thread beside it
 * (#14 §1). Unreferenced until taken: a spare nobody takes (a dry run, a source with no list)
 * keeps no process alive. One that fails before it is taken is forgotten, and the work starts
 * a thread of its own as before.
 */
export function prestartListWorker(script: ListWorkerScript): void {
  if (spares.has(script)) return
  const worker = new Worker(new URL(script, import.meta.url), { workerData: AWAIT_INPUT })
  worker.unref()
  const forget = (): void => {
    if (spares.get(script) === worker) spares.delete(script)
  }
  worker.on('error', forget)
  worker.on('exit', forget)
  spares.set(script, worker)
}

/** The scripts with a spare thread waiting for work (`prestartListWorker`). */
export function spareListWorkers(): string[] {
  return [...spares.keys()]
}

function takeSpare(script: string): Worker | undefined {
  const worker = spares.get(script)
  spares.delete(script)
  return worker
}

/**
 * In a list thread: its input, from `workerData`, or, for a spare (`prestartListWorker`), the
 * first message it is sent.
 */
export function listWorkerInput<T>(): Promise<T> {
  if (workerData !== AWAIT_INPUT) return Promise.resolve(workerData as T)
  return new Promise<T>((resolve) => parentPort!.once('message', (input: T) => resolve(input)))
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
