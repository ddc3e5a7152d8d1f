/**
 * The seed job: hands every torrent aacseed made to the engine, against the data it was made
 * from, and every opaque torrent mirror sync holds (upstream's .torrent, against its group's
 * folder). Verification is skipped exactly when the catalog (for an opaque torrent: the data
 * identity stored when it was placed) still shows the data as it was when hashed, so a restart
 * never re-hashes terabytes, and a change is always re-verified.
 */
import { closeSync, open, read } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CatalogStore } from '../catalog/index.js'
import type { Db } from '../db/index.js'
import type { Engine } from '../engines/index.js'
import { errorMessage } from '../errors.js'
import { dataIdentity, otherFolder } from '../mirror/other.js'
import { MirrorStore } from '../mirror/store.js'
import { parseTorrent, TorrentStore } from '../torrents/index.js'

export interface SeedReport {
  added: number
  duplicate: number
  verified: number
  failed: Array<{ name: string; error: string }>
}

/**
 * Adds in flight at once. An add waits for the engine (webtorrent: the torrent's store opened
 * and its first announce slot; a remote daemon: an RPC round trip), so one at a time left 10,000
 * torrents seeding only after minutes; the engines bound their own costly work (verification
 * and announce slots, connection pools) whatever this number.
 */
const ADD_CONCURRENCY = 64

/**
 * A .torrent's bytes, read with one `open`, one `pread` and one `close` when it still has the size
 * the store recorded (always, unless someone rewrote it). `readFile` of fs/promises makes a
 * FileHandle and an `fstat` and a second `read` for EOF, each its own promise and thread-pool
 * trip: reading the 10,000 .torrent files of #14 §4 that way was about 100 µs of CPU a file
 * against 32 µs (2 shared cores), and the seed job's largest share of serve's main thread at
 * start. Any other size (or an error) reads the whole file as it is now, so what is seeded is
 * always the file's current bytes.
 */
function readTorrentFile(path: string, recordedSize: number): Promise<Buffer> {
  return new Promise<Buffer | null>((resolve) => {
    open(path, 'r', (err, fd) => {
      if (err) return resolve(null)
      // One byte more than recorded: a file that grew reads past its recorded size and is read again whole.
      const buf = Buffer.allocUnsafe(recordedSize + 1)
      read(fd, buf, 0, buf.length, 0, (readErr, n) => {
        // Closed at once: closing a file only read waits for no disk, and a thread pool trip per
        // file (10,000 at serve's start) costs more than the call.
        try {
          closeSync(fd)
        } catch {
          // Nothing to do: the bytes were read (or the read failed) either way.
        }
        resolve(readErr || n !== recordedSize ? null : buf.subarray(0, n))
      })
    })
  }).then((bytes) => bytes ?? readFile(path))
}

/** Runs `fn` over `items` with at most `limit` at once; stops taking new items once `signal` aborts. */
async function eachLimited<T>(
  items: Iterable<T>,
  limit: number,
  signal: AbortSignal | undefined,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  const it = items[Symbol.iterator]()
  const lane = async (): Promise<void> => {
    for (let next = it.next(); !next.done && !signal?.aborted; next = it.next()) await fn(next.value)
  }
  await Promise.all(Array.from({ length: limit }, lane))
}

export async function seedTorrents(
  db: Db,
  engine: Engine,
  opts: { labels?: string[]; signal?: AbortSignal } = {},
): Promise<SeedReport> {
  const identities = new Map(new CatalogStore(db).releases().map((r) => [r.name, r.identity]))
  const held = new Set((await engine.list()).map((s) => s.infoHash))
  const report: SeedReport = { added: 0, duplicate: 0, verified: 0, failed: [] }
  await eachLimited(new TorrentStore(db).all(), ADD_CONCURRENCY, opts.signal, async (t) => {
    if (held.has(t.infohash)) {
      report.duplicate++
      return
    }
    const verify = identities.get(t.name) !== t.dataIdentity
    try {
      const torrent = await readTorrentFile(t.torrentPath, t.torrentSize)
      const r = await engine.add({
        torrent,
        infoHash: t.infohash,
        name: t.name,
        dataDir: t.root,
        verify,
        ...(opts.labels ? { labels: opts.labels } : {}),
      })
      if (r === 'added') report.added++
      else report.duplicate++
      if (verify) report.verified++
    } catch (e) {
      // One torrent the engine refuses (or whose .torrent vanished) must not stop the others.
      report.failed.push({ name: t.name, error: errorMessage(e) })
    }
  })
  // `placed` too: seeded (and published) before marked done.
  for (const d of new MirrorStore(db).downloads(['placed', 'done'])) {
    if (d.kind !== 'other' || d.torrent === null) continue
    if (opts.signal?.aborted) break
    if (held.has(d.btih)) {
      report.duplicate++
      continue
    }
    try {
      const dir = otherFolder(d.root, d.topGroup, d.group)
      const name = parseTorrent(d.torrent).name
      const identity = await dataIdentity(join(dir, name))
      const verify = identity === null || identity !== d.dataIdentity
      const r = await engine.add({
        torrent: d.torrent,
        infoHash: d.btih,
        name,
        dataDir: dir,
        verify,
        ...(opts.labels ? { labels: opts.labels } : {}),
      })
      if (r === 'added') report.added++
      else report.duplicate++
      if (verify) report.verified++
    } catch (e) {
      report.failed.push({ name: d.name, error: errorMessage(e) })
    }
  }
  return report
}
