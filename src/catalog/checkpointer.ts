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
 * The fsyncs go to libuv's thread pool: a checkpoint that synced on this thread kept the
 * decompressor, the scan's critical path, blocked for 140 fsyncs a million records (0.9 s under
 * load), while a line worker ran out of chunks. Before each passive checkpoint the WAL is
 * synced there, so the sync SQLite makes before copying pages back finds little left to write;
 * after it, the database file is. SQLite keeps every sync it makes (synchronous = NORMAL):
 * these are extra, so what a power cut can lose or break is unchanged.
 *
 * Only pragmas here: the tables and their SQL stay in store.ts.
 */
import type Database from 'better-sqlite3'
import { SqliteDatabase } from '../db/sqlite.js'
import { closeSync, fdatasync, openSync } from 'node:fs'
import type { WriteLock } from './write-lock.js'

/** Items written between checkpoints: 16 MiB of metadata lines, about 2 MB of record pages. */
export const ITEMS_PER_CHECKPOINT = 8
const RESTART_EVERY = 8

export class Checkpointer {
  private readonly db: Database.Database
  private count = 0
  /** A round (syncs, checkpoint) under way: the next one waits for it rather than piling up. */
  private running: Promise<void> | null = null
  private closed = false
  /** Kept open for the syncs; closed by `close()`, which the reader calls before the thread stops. */
  private walFd: number | null = null
  private dbFd: number | null = null

  constructor(
    readonly path: string,
    private readonly writeLock: WriteLock,
  ) {
    this.db = new SqliteDatabase(path, { fileMustExist: true })
    this.db.pragma('busy_timeout = 60000')
    this.db.pragma('synchronous = NORMAL')
    this.db.pragma('wal_autocheckpoint = 0')
  }

  /**
   * Starts a round unless one is under way: a passive checkpoint, and every RESTART_EVERY-th
   * round one more under the write lock. Returns at once; `idle()` waits for the round.
   */
  checkpoint(): void {
    if (this.running || this.closed) return
    const restart = ++this.count % RESTART_EVERY === 0
    this.running = this.round(restart)
      .catch(() => {
        // A sync that failed is SQLite's to find (it syncs what it needs itself); a checkpoint
        // that failed is another connection's (it does the same work).
      })
      .finally(() => (this.running = null))
  }

  private async round(restart: boolean): Promise<void> {
    await this.sync('wal')
    if (!this.passive()) return
    // A checkpoint that the writers keep from catching up does not sync the database file, so
    // every page copied back would wait for the fsync of the checkpoint at the end of the scan,
    // when there is no other work left to hide it behind (0.1-0.3 s for a 100 MB catalog).
    await this.sync('db')
    if (restart) {
      // With no writer in between it reaches the end of the WAL and syncs the database file
      // (which the sync just above left with little to write), holding the writers up only briefly.
      this.writeLock.hold(() => this.passive())
    }
  }

  /** Copies committed pages back while the writers go on; false if the connection is gone. */
  private passive(): boolean {
    if (this.closed) return false
    try {
      this.db.pragma('wal_checkpoint(PASSIVE)')
    } catch {
      // Another connection is checkpointing: it does the same work.
    }
    return true
  }

  /** Whether a round is under way: the caller should let its event loop turn, which moves it on. */
  get busy(): boolean {
    return this.running !== null
  }

  /** Resolves once no round is under way. */
  async idle(): Promise<void> {
    await this.running
  }

  /** Closes the connection and the descriptors (after `idle()`: a sync may still be using them). */
  close(): void {
    this.closed = true
    this.db.close()
    for (const fd of [this.walFd, this.dbFd]) if (fd !== null) closeSync(fd)
    this.walFd = this.dbFd = null
  }

  /** fdatasync on libuv's thread pool, of a descriptor kept until `close()`. */
  private sync(which: 'wal' | 'db'): Promise<void> {
    if (which === 'wal') this.walFd ??= openSync(`${this.path}-wal`, 'r')
    else this.dbFd ??= openSync(this.path, 'r')
    const fd = which === 'wal' ? this.walFd! : this.dbFd!
    return new Promise((resolve, reject) => fdatasync(fd, (e) => (e ? reject(e) : resolve())))
  }
}
