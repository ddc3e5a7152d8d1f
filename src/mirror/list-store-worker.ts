/**
 * The worker thread that reads one upstream list into the database, so that storing a
 * million entries never blocks the event loop that serves the API. It opens its own
 * connection to the database (WAL: the main thread's connection reads and writes beside it),
 * runs the parser (`list-worker.ts`, a thread of its own, so parsing and storing overlap) into
 * `MirrorStore.listWriter` on that connection (whose TEMP staging tables are this connection's
 * alone), and merges the staged list a bounded slice per transaction, so a write of the main
 * thread, which waits for the lock synchronously, never waits long. The main thread hears only
 * when the merge begins (from then on the read is no longer stopped) and how it ended.
 */
import { parentPort } from 'node:worker_threads'
import { AacseedError, errorMessage } from '../errors.js'
import { connectDatabase } from '../db/connect.js'
import { MirrorError } from './errors.js'
import { listWorkerInput, prestartListWorker, runListWorker } from './list-read.js'
import type { ListWorkerInput } from './list-worker.js'
import { MirrorStore, type StoredList } from './store.js'

export interface ListStoreInput {
  /** The database file the main thread has open (and migrated). */
  dbPath: string
  name: string
  location: string
  at: string
  read: ListWorkerInput
}

export type ListStoreMessage =
  | { type: 'merging' }
  | { type: 'done'; result: StoredList }
  | {
      type: 'error'
      /** A `MirrorError`, another `AacseedError`, or an error with a code of its own (SQLite's). */
      kind: 'mirror' | 'aacseed' | 'other'
      code: string | null
      message: string
      transient: boolean
    }

async function main(port: NonNullable<typeof parentPort>, input: ListStoreInput): Promise<void> {
  const send = (m: ListStoreMessage): void => port.postMessage(m)
  let db: ReturnType<typeof connectDatabase> | null = null
  try {
    db = connectDatabase(input.dbPath)
    const writer = new MirrorStore(db).listWriter(input.name, input.location, input.at)
    const result = await runListWorker(input.read, {
      add: (verdicts) => writer.add(verdicts),
      finish: () => {
        send({ type: 'merging' })
        return writer.finish()
      },
      abandon: () => writer.abandon(),
    }).catch((e: unknown) => {
      writer.abandon()
      throw e
    })
    db.close()
    db = null
    send({ type: 'done', result })
  } catch (e) {
    const code = (e as { code?: unknown } | null)?.code
    send({
      type: 'error',
      kind: e instanceof MirrorError ? 'mirror' : e instanceof AacseedError ? 'aacseed' : 'other',
      code: typeof code === 'string' ? code : null,
      message: errorMessage(e),
      transient: e instanceof MirrorError ? e.transient : false,
    })
  } finally {
    db?.close()
  }
  port.close()
}

if (parentPort) {
  const port = parentPort
  // The parser's thread boots while this one waits for its input and opens the database.
  prestartListWorker('./list-worker.js')
  void listWorkerInput<ListStoreInput>().then((input) => main(port, input))
}
