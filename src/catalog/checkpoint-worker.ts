/**
 * Worker thread: checkpoints the catalog's WAL when the line pool asks (see line-pool.ts). A
 * checkpoint mostly waits, on an fsync of the WAL and one of the database; on a line worker
 * that wait stopped validating and writing, here it stops nothing.
 *
 * Passive checkpoints never catch up with two busy writers, so the WAL was never started over
 * and grew to the size of everything written (120 MB for a million records), which the last
 * connection then had to delete after the last chunk. Every RESTART_EVERY-th time the
 * checkpoint is repeated holding the write lock: with no writer in between it reaches the end
 * of the WAL, and the next write starts the WAL from its beginning. Right after a passive
 * checkpoint there is little left to copy, so the writers wait for it only briefly.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { Checkpointer } from './store.js'
import { WriteLock } from './write-lock.js'

const RESTART_EVERY = 8
const writeLock = new WriteLock((workerData as { writeLock: SharedArrayBuffer }).writeLock)
let current: Checkpointer | null = null
let count = 0

parentPort!.on('message', (m: { database: string }) => {
  if (current?.path !== m.database) {
    current?.close()
    current = new Checkpointer(m.database)
  }
  const c = current
  c.checkpoint()
  if (++count % RESTART_EVERY === 0) writeLock.hold(() => c.checkpoint())
  parentPort!.postMessage({ type: 'checkpointed' })
})
