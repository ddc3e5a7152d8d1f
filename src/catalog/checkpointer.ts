/**
 * Copies a scan's WAL back into the catalog now and then, as the file is read, so that no
 * long checkpoint is left for the end of the scan. Runs on the decompress worker, on a
 * connection of its own: that thread mostly waits for credits, and a checkpoint mostly waits
 * for fsyncs, so neither the line workers (the scan's busiest threads) nor the caller's event
 * loop stop for it. A thread of its own did the same and cost a whole Node start-up (about
 * 0.1 s of CPU) per scan.
 *
 * Passive checkpoints never catch up with two busy writers, so the WAL was never started over
 * and grew to the size of everything written (120 MB for a million records), which the last
 * connection then had to delete after the last chunk. Every RESTART_EVERY-th time the
 * checkpoint is repeated holding the write lock: with no writer in between it reaches the end
 * of the WAL, and the next write starts the WAL from its beginning. Right after a passive
 * checkpoint there is little left to copy, so the writers wait for it only briefly.
 *
 * Only pragmas here: the tables and their SQL stay in store.ts.
 */
import Database from 'better-sqlite3'
import { closeSync, fdatasyncSync, openSync } from 'node:fs'
import type { WriteLock } from './write-lock.js'

/** Items written between checkpoints: 16 MiB of metadata lines, about 2 MB of record pages. */
export const ITEMS_PER_CHECKPOINT = 8
const RESTART_EVERY = 8

export class Checkpointer {
  private readonly db: Database.Database
  private count = 0

  constructor(
    readonly path: string,
    private readonly writeLock: WriteLock,
  ) {
    this.db = new Database(path, { fileMustExist: true })
    this.db.pragma('busy_timeout = 60000')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('wal_autocheckpoint = 0')
  }

  /** A passive checkpoint, and every RESTART_EVERY-th time one under the write lock. */
  checkpoint(): void {
    this.passive()
    if (++this.count % RESTART_EVERY === 0) this.writeLock.hold(() => this.passive())
  }

  /** Copies committed pages back while the writers go on. */
  private passive(): void {
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // Another connection is checkpointing: it does the same work.
      return
    }
    // A checkpoint that the writers keep from catching up does not sync the database file, so
    // every page copied back would wait for the fsync of the checkpoint at the end of the scan,
    // when there is no other work left to hide it behind (0.1-0.3 s for a 100 MB catalog).
    // Opened each time: a terminated worker thread would not close a descriptor it kept.
    const fd = openSync(this.path, 'r')
    try {
      fdatasyncSync(fd)
    } finally {
      closeSync(fd)
    }
  }

  close(): void {
    this.db.close()
  }
}
