/**
 * A small pool of line workers. Chunks are handed out round-robin and their results are
 * delivered strictly in submission order, because line numbers and byte offsets are only
 * known by adding up the chunks before.
 */
import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'
import type { ChunkFailure, ChunkRequest, ChunkResult } from './line-protocol.js'

interface Pending {
  resolve(r: ChunkResult): void
  reject(e: Error): void
}

export class LinePool {
  private readonly workers: Worker[]
  private readonly pending = new Map<number, Pending>()
  private next = 0
  private seq = 0
  private failed: Error | null = null

  constructor(size = 0) {
    const n = size > 0 ? size : Math.max(1, availableParallelism())
    this.workers = Array.from({ length: n }, () => {
      const w = new Worker(new URL('./line-worker.js', import.meta.url))
      w.on('message', (m: ChunkResult | ChunkFailure) => this.settle(m))
      w.on('error', (e) => this.fail(e))
      return w
    })
  }

  get size(): number {
    return this.workers.length
  }

  /** Hands a chunk (its ArrayBuffer is transferred) to the next worker. */
  submit(buffer: ArrayBuffer, length: number, context: ChunkRequest['context']): Promise<ChunkResult> {
    if (this.failed) return Promise.reject(this.failed)
    const seq = this.seq++
    const req: ChunkRequest = { seq, buffer, length, context }
    const p = new Promise<ChunkResult>((resolve, reject) => this.pending.set(seq, { resolve, reject }))
    const w = this.workers[this.next]!
    this.next = (this.next + 1) % this.workers.length
    w.postMessage(req, [buffer])
    return p
  }

  private settle(m: ChunkResult | ChunkFailure): void {
    const p = this.pending.get(m.seq)
    if (!p) return
    this.pending.delete(m.seq)
    if ('error' in m) p.reject(new Error(`line worker failed: ${m.error}`))
    else p.resolve(m)
  }

  private fail(e: Error): void {
    this.failed = e
    for (const p of this.pending.values()) p.reject(e)
    this.pending.clear()
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()))
  }
}
