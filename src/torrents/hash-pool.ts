/**
 * Hash workers started before they are needed. Booting a worker thread (a V8 isolate, Node's
 * bootstrap, the worker's modules) costs 40–70 ms of CPU, more than its share of hashing a
 * 64 MiB release. `aacseed torrents make` starts them first thing (`early` in
 * cli/commands/index.ts, run by bin/aacseed.js): they boot on the core that the single-threaded
 * start-up (imports, config, catalog, checking the files) leaves idle, and take their first span
 * the moment the file list is known. Idle, a pooled worker does not keep the process alive (`unref`), so a
 * run with nothing to hash exits as before.
 *
 * This module imports nothing but `node:worker_threads` and `node:os`: it is loaded before the
 * command's own modules.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

const WORKER_URL = new URL('./hash-worker.cjs', import.meta.url)

const idle: Worker[] = []

function start(): Worker {
  return new Worker(WORKER_URL)
}

/**
 * Starts `count` idle hash workers, less those already idle. The default is one per core but
 * one: the calling thread hashes too (HashOptions.callerHashes), and until then it is busy
 * with start-up, so the workers boot without taking its core.
 */
export function prestartHashWorkers(count = availableParallelism() - 1): void {
  while (idle.length < count) {
    const w = start()
    w.unref()
    // A pooled worker that dies while idle (out of memory, say) is dropped, never handed out.
    const drop = (): void => {
      const i = idle.indexOf(w)
      if (i >= 0) idle.splice(i, 1)
    }
    w.once('exit', drop)
    w.once('error', drop)
    idle.push(w)
  }
}

/** A hash worker: a pre-started one when there is one, else a new one. The caller terminates it. */
export function hashWorker(): Worker {
  const w = idleHashWorker() ?? start()
  w.ref()
  return w
}

/**
 * A pre-started worker, still unreferenced (it does not keep the process alive), or undefined
 * when none is idle. The caller terminates it.
 */
export function idleHashWorker(): Worker | undefined {
  const w = idle.shift()
  w?.removeAllListeners('exit')
  w?.removeAllListeners('error')
  return w
}

/** How many pre-started workers wait for a job. */
export function idleHashWorkers(): number {
  return idle.length
}
