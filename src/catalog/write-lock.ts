/**
 * The catalog's write lock among a scan's threads: one Int32 in a SharedArrayBuffer, taken in
 * turn through Atomics instead of SQLite's busy handler, which sleeps in growing steps and
 * leaves the lock idle while others wait. Held around each chunk's insert transaction (the
 * thread that checked the chunk: a thread that finds it taken checks or decompresses on and
 * writes later, see deferChunk in line-check.ts) and, now and then, a checkpoint that must reach
 * the end of the WAL (decompress worker, checkpointer.ts).
 */
export class WriteLock {
  private readonly word: Int32Array

  constructor(shared: SharedArrayBuffer) {
    this.word = new Int32Array(shared)
  }

  /** Runs `fn` holding the lock if it is free, and says whether it did; never blocks. */
  tryHold(fn: () => void): boolean {
    if (Atomics.compareExchange(this.word, 0, 0, 1) !== 0) return false
    try {
      fn()
    } finally {
      Atomics.store(this.word, 0, 0)
      Atomics.notify(this.word, 0, 1)
    }
    return true
  }

  /** Runs `fn` holding the lock; blocks the thread until it is free. */
  hold<T>(fn: () => T): T {
    while (Atomics.compareExchange(this.word, 0, 0, 1) !== 0) Atomics.wait(this.word, 0, 1)
    try {
      return fn()
    } finally {
      Atomics.store(this.word, 0, 0)
      Atomics.notify(this.word, 0, 1)
    }
  }
}
