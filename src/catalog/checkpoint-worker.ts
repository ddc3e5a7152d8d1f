/**
 * Worker thread: checkpoints the catalog's WAL when the line pool asks (see line-pool.ts). A
 * checkpoint mostly waits, on an fsync of the WAL and one of the database; on a line worker
 * that wait stopped validating and writing, here it stops nothing.
 */
import { parentPort } from 'node:worker_threads'
import { Checkpointer } from './store.js'

let current: Checkpointer | null = null

parentPort!.on('message', (m: { database: string }) => {
  if (current?.path !== m.database) {
    current?.close()
    current = new Checkpointer(m.database)
  }
  current.checkpoint()
  parentPort!.postMessage({ type: 'checkpointed' })
})
