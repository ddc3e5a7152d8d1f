/**
 * The embedded engine: WebTorrent 3 in this process, TCP peers only (no WebRTC, no uTP, no
 * UPnP/NAT-PMP), seeding release data in place.
 *
 * - Existing data is added with `client.add(torrentFile, { path, skipVerify })`; `client.seed`
 *   would hash everything again.
 * - webtorrent cannot bind a host: its connection pool calls `server.listen(port)` in the
 *   client's constructor. `createClient` wraps `net.createServer` for exactly that synchronous
 *   call so the server listens on the configured host.
 * - A torrent's `error` tears that torrent down inside webtorrent; this engine keeps the record
 *   so `list()` shows it as `error` until it is removed or added again.
 * - Files are read through one shared, bounded pool of handles (`webtorrent-store.ts`), tracker
 *   announces are made by `announcer.ts` (not webtorrent: it says why) over a bounded number of
 *   sockets, and torrents that must
 *   be verified wait for one of a few verification slots: 1,000 torrents stay far below 2,000
 *   open descriptors (see test/engines/webtorrent-scale.test.ts). With webtorrent's defaults
 *   the same 1,000 torrents held about 2,000 descriptors, and 200 verified ones 600 more.
 * - Uploads: peers that connected to us get their pieces in one `writev` per turn of the event
 *   loop instead of two `write`s per 16 KiB block (`coalesceWrites`), and the blocks asked for in
 *   one turn that follow one another in the torrent are read with one `pread` (`batchReadBytes`:
 *   to libtorrent, seeder CPU 4.0 and 5.4 s against 7.5 and 6.4 s block by block) into buffers
 *   that are used again once their blocks were sent (`uploadBufferBytes`: 3.1 and 3.0 s against
 *   5.0 and 5.2 s, peak RssAnon 95 MB against 115 MB; fewer full garbage collections).
 * - Peers are told to keep at most `PEER_REQUEST_QUEUE` block requests outstanding (BEP 10's
 *   `reqq`): a WebTorrent downloader otherwise keeps a second's worth, which cost both sides a
 *   linear search per block. A downloader's few requests a turn wait up to `HOLD_MS` to leave
 *   together, so its seeder reads and sends many blocks at once (#14 §1).
 * - `host` binds the peer port (TCP) only; the DHT, when enabled, binds UDP on all addresses.
 *   `max_connections` is webtorrent's `maxConns`, a limit per torrent.
 */
import diagnosticsChannel from 'node:diagnostics_channel'
import { mkdir, stat } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import type WebTorrent from 'webtorrent'
import type { Torrent, TorrentOptions, WebTorrentOptions } from 'webtorrent'
import type { Config } from '../config/schema.js'
import { errorMessage } from '../errors.js'
import { redactUrlsIn } from '../log/redact.js'
import { type AnnounceHooks, type Announcement, Announcer } from './announcer.js'
import { TrackerLog, type TrackerLogOptions } from './tracker-log.js'
import {
  checkEngineTorrent,
  EngineError,
  silentLogger,
  type AddResult,
  type Engine,
  type EngineLogger,
  type EngineTorrent,
  type CopyState,
  type EngineTorrentStatus,
} from './engine.js'
import { type BatchedReads, FilePool, pooledChunkStore, SlabPool } from './webtorrent-store.js'

export type WebTorrentConfig = Config['engine']['webtorrent']

export interface WebTorrentEngineOptions {
  logger?: EngineLogger
  /** How tracker trouble is summed up in the log (tracker-log.ts; tests shorten its waits). */
  trackerLog?: TrackerLogOptions
  /** Data files kept open across all torrents (default 512). */
  maxOpenFiles?: number
  /** Torrents verified at the same time; the others wait as `queued` (default 2). */
  maxConcurrentVerifications?: number
  /**
   * Torrents making their first tracker announce at once; the others wait as `checking` (default
   * 256). The sockets are bounded by `maxTrackerSockets`; this bounds the requests queued behind
   * them. With 32, a tracker answering in half a second under load admitted about 60 torrents a
   * second: 10,000 seeding only after minutes.
   */
  maxConcurrentAnnounces?: number
  /** Sockets to one HTTP(S) tracker at once, across all torrents (default 32). */
  maxTrackerSockets?: number
  /**
   * Block requests of one turn of the event loop that follow one another in the torrent are read
   * together, up to this many bytes at once (default 1 MiB; 0 reads every block on its own).
   */
  batchReadBytes?: number
  /**
   * Buffers of batched reads kept for use again once their blocks were sent (default 16 MiB; 0
   * allocates a buffer for every read). See `SlabPool`.
   */
  uploadBufferBytes?: number
}

/**
 * Adds go at most this many, and for at most about this long, per turn of the event loop
 * (`AddTurns`). An add is about a millisecond of synchronous work (webtorrent parses the .torrent,
 * builds the torrent and makes it ready in one chain of microtasks), and the seed job has 64 in
 * flight: when their files came in together, one turn ran dozens of adds back to back, and an
 * API request waited behind all of them (`/api/coverage` p99 at 10,000 torrents: 50 ms, #14 §4).
 * One add a turn instead gave the API most of the CPU, and the adds took longer. Measured over
 * 10,000 (bench:seed's scale phase, shared machine, pairs run back to back: all seeding, then
 * `/api/coverage` p99): 4 ms 23.4 and 28.0 s, 54 and 52 ms; 2 ms 15.3 and 15.1 s, 25 and 24 ms;
 * 1 ms 17.2 s, 22 ms against 2 ms 15.8 s, 24 ms (the API answered 39,000 requests to 32,000).
 */
const ADDS_PER_TURN = 16
const ADD_TURN_MS = 2

/** A torrent holds its announce slot until its first tracker answer or failure, or this long. */
const ANNOUNCE_SLOT_MS = 5000

interface Entry {
  readonly infoHash: string
  readonly name: string
  torrent: Torrent | null
  error: string | null
  removed: boolean
  /** Uploaded by an earlier instance of this torrent (before a re-verification re-added it). */
  uploadedBefore: number
  /** The last numbers seen, kept when webtorrent destroys the torrent on an error. */
  last: { bytesPresent: number; totalBytes: number; uploaded: number }
  /** Its tracker announces, once it is ready. */
  announcement: Announcement | null
}

export class WebTorrentEngine implements Engine {
  readonly kind = 'webtorrent' as const
  private client: WebTorrent | null = null
  private starting: Promise<void> | null = null
  private failure: string | null = null
  private closed = false
  private readonly entries = new Map<string, Entry>()
  private readonly log: EngineLogger
  private readonly pool: FilePool
  /**
   * The chunk store class every torrent's store is made from. One class per engine, not one per
   * torrent: a class built for each add was about 1 KB of closures and prototype per torrent, and
   * gave each store its own hidden classes, so the read path saw as many shapes as torrents.
   */
  private readonly Store: ReturnType<typeof pooledChunkStore>
  private readonly slabs: SlabPool | undefined
  private readonly verifySlots: Semaphore
  private readonly announceSlots: Semaphore
  private readonly addTurns = new AddTurns(ADDS_PER_TURN, ADD_TURN_MS)
  private readonly downloaded = new Set<(infoHash: string) => void>()
  private readonly maxTrackerSockets: number
  private announcer: Announcer | null = null
  private readonly trackerLog: TrackerLog
  private readonly outgoing = new OutgoingSockets()

  constructor(
    private readonly config: WebTorrentConfig,
    opts: WebTorrentEngineOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger
    this.trackerLog = new TrackerLog(this.log, 'webtorrent', opts.trackerLog)
    this.pool = new FilePool(opts.maxOpenFiles ?? 512)
    const slabBytes = opts.uploadBufferBytes ?? 16 * 2 ** 20
    this.slabs = slabBytes > 0 ? new SlabPool(slabBytes) : undefined
    const reads: BatchedReads = { batchBytes: opts.batchReadBytes ?? 2 ** 20, slabs: this.slabs }
    this.Store = pooledChunkStore(this.pool, reads)
    this.verifySlots = new Semaphore(opts.maxConcurrentVerifications ?? 2)
    this.announceSlots = new Semaphore(opts.maxConcurrentAnnounces ?? 256)
    this.maxTrackerSockets = opts.maxTrackerSockets ?? 32
  }

  /** Where peers connect (the chosen port when configured as 0); null before start. */
  address(): { host: string; port: number } | null {
    const a = this.client?.address()
    return a ? { host: a.address, port: a.port } : null
  }

  async start(): Promise<void> {
    if (this.closed) throw new EngineError('engine-closed', 'webtorrent: the engine is closed')
    this.starting ??= this.listen().catch((e: unknown) => {
      this.starting = null
      throw e
    })
    await this.starting
  }

  private async listen(): Promise<void> {
    const { host, port } = this.config
    // Loaded here, not at the top: every command that never starts an engine (scan, coverage,
    // --help) would otherwise pay about 0.7 s of start-up for webtorrent and its dependencies.
    const { default: WebTorrentClient } = await import('webtorrent')
    this.log.debug?.({}, 'webtorrent: module loaded')
    const client = createClient(WebTorrentClient, host, this.slabs, {
      torrentPort: port,
      dht: this.config.dht,
      lsd: this.config.lsd,
      utp: false,
      natUpnp: false,
      natPmp: false,
      maxConns: this.config.max_connections,
      // Trackers are announced to by `Announcer` (announcer.ts says why); the DHT and LSD, when
      // enabled, are still webtorrent's.
      tracker: false,
      // webtorrent's default `secure` (1: PE/MSE, plaintext accepted) stays. libtorrent opens
      // with an encrypted handshake, and bittorrent-protocol answers it with a new
      // `crypto.createDiffieHellman(prime)`, about 30 ms of this thread in Node 20 (it checks the
      // prime): libtorrent was unchoked 80 to 90 ms after it connected, against about 5 ms by
      // qBittorrent (#14 §5; once per connection, 1% of the 2 GiB upload). Off (0), peers that
      // require encryption could not connect at all.
    })
    // Torrents have their own `error` listeners, so an error here is the client's own (its
    // listening socket or the DHT), and webtorrent has destroyed the client.
    client.on('error', (err: Error) => {
      if (this.client !== client) return // failing to start: reported by start()
      this.failure = err.message
      this.log.error({ err: err.message }, 'webtorrent: client failed')
    })
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        client.removeListener('listening', onListening)
        if (err.code === 'EADDRINUSE')
          reject(
            new EngineError(
              'port-in-use',
              `webtorrent: port ${port} on ${host || 'all addresses'} is already in use`,
            ),
          )
        else
          reject(
            new EngineError(
              'engine-failed',
              `webtorrent: cannot listen on ${host || 'all addresses'} port ${port}: ${err.message}`,
            ),
          )
      }
      const onListening = (): void => {
        client.removeListener('error', onError)
        resolve()
      }
      client.once('error', onError)
      client.once('listening', onListening)
    }).catch((e: unknown) => {
      // webtorrent destroys itself on a listen error; make sure nothing is left running.
      if (!client.destroyed) client.destroy()
      throw e
    })
    this.client = client
    this.announcer = new Announcer({
      peerId: client.peerId,
      // Listening by now, on a port that stays (asking the socket is a system call per announce).
      port: this.address()?.port ?? client.torrentPort,
      maxSockets: this.maxTrackerSockets,
      userAgent: 'aacseed',
    })
    this.outgoing.start()
    this.log.info({ ...this.address(), dht: this.config.dht, lsd: this.config.lsd }, 'webtorrent: listening')
  }

  async add(t: EngineTorrent): Promise<AddResult> {
    checkEngineTorrent(this.kind, t)
    const client = this.requireClient()
    const known = this.entries.get(t.infoHash)
    if (known && known.error === null) {
      if (!t.verify || !known.torrent?.ready) return 'duplicate'
      // verify=true: the data may have changed since it was added, so check it again, as
      // Transmission's torrent-verify does. webtorrent has no re-check that also drops pieces,
      // so the torrent is added again with verification (the data is not touched).
      known.removed = true
      await this.addNew(client, t, this.status(known).uploaded, known)
      return 'duplicate'
    }
    // An errored torrent is already gone from webtorrent: adding it again retries it.
    await this.addNew(client, t, 0)
    return 'added'
  }

  /**
   * Adds `t` under a new entry; the entry is in place before any await, so a concurrent add sees a duplicate.
   */
  private async addNew(
    client: WebTorrent,
    t: EngineTorrent,
    uploadedBefore: number,
    replacing?: Entry,
  ): Promise<void> {
    const entry: Entry = {
      infoHash: t.infoHash,
      name: t.name,
      torrent: null,
      error: null,
      removed: false,
      uploadedBefore,
      last: { bytesPresent: 0, totalBytes: 0, uploaded: uploadedBefore },
      announcement: null,
    }
    this.entries.set(t.infoHash, entry)
    try {
      // `stopped` answered before the new instance's `started` is sent, or a tracker could take
      // them in the other order and drop the peer until the next regular announce.
      if (replacing) await leave(replacing)
      if (t.download) await mkdir(t.dataDir, { recursive: true })
      else await this.checkDataExists(t)
      if (t.verify) await this.verifySlots.acquire()
      try {
        if (entry.removed || this.client !== client)
          throw new EngineError(
            'engine-rejected',
            `webtorrent: ${t.infoHash} was removed while it waited to be added`,
          )
        await this.addToClient(client, entry, t)
      } finally {
        if (t.verify) this.verifySlots.release()
      }
    } catch (e) {
      const err =
        e instanceof EngineError
          ? e
          : new EngineError(
              'engine-rejected',
              `webtorrent: cannot add ${t.name} (${t.infoHash}): ${errorMessage(e)}`,
            )
      if (!entry.removed && this.entries.get(t.infoHash) === entry) entry.error = err.message
      throw err
    }
  }

  /**
   * One `stat` of the release root (no data is read): a wrong dataDir must not look like a seeding torrent.
   */
  private async checkDataExists(t: EngineTorrent): Promise<void> {
    const root = join(t.dataDir, t.name)
    try {
      await stat(root)
    } catch (e) {
      throw new EngineError(
        'engine-rejected',
        `webtorrent: ${root} cannot be read: ${(e as NodeJS.ErrnoException).code ?? errorMessage(e)}`,
      )
    }
  }

  private async addToClient(client: WebTorrent, entry: Entry, t: EngineTorrent): Promise<void> {
    // webtorrent starts announcing the moment a torrent is ready, every tracker of every
    // torrent at once (an HTTP request or a UDP socket each). Pacing first announces keeps a
    // bulk add from opening a socket per torrent, and from queueing requests behind the
    // bounded dispatcher until they time out (a failed first announce is retried only after
    // 30 minutes).
    await this.announceSlots.acquire()
    await this.addTurns.turn()
    let slotHeld = true
    const releaseSlot = (): void => {
      if (!slotHeld) return
      slotHeld = false
      clearTimeout(slotTimer)
      this.announceSlots.release()
    }
    const slotTimer = setTimeout(releaseSlot, ANNOUNCE_SLOT_MS)
    slotTimer.unref()
    if (entry.removed || this.client !== client) {
      releaseSlot()
      throw new EngineError(
        'engine-rejected',
        `webtorrent: ${t.infoHash} was removed while it waited to be added`,
      )
    }
    const torrent = addWithoutDuplicateScan(client, t.torrent, {
      path: t.dataDir,
      skipVerify: !t.verify,
      // Nothing on disk: a startup bitfield of no pieces, so webtorrent verifies none (it hashes
      // only pieces a startup bitfield marks as held) instead of reading every one of them.
      ...(t.download && t.absent ? { bitfield: new Uint8Array(Math.ceil(t.absent.pieceCount / 8)) } : {}),
      store: this.Store,
      // The OS page cache already holds hot pieces, and 1,000 torrents × 20 cached pieces
      // (webtorrent's default) of up to 16 MiB each would be far too much memory.
      storeCacheSlots: 0,
      destroyStoreOnDestroy: false,
    })
    entry.torrent = torrent
    const fields = { infoHash: t.infoHash, name: t.name }
    const warn = (w: unknown): void => {
      releaseSlot()
      // webtorrent's own warnings (a web seed, the DHT) may name a URL, passkey and all.
      this.log.warn({ ...fields, warning: redactUrlsIn(errorMessage(w)) }, 'webtorrent: torrent warning')
    }
    const stopAnnouncing = (): void => {
      releaseSlot()
      this.trackerLog.forget(t.infoHash)
      void entry.announcement?.stop()
    }
    torrent.once('close', stopAnnouncing)
    torrent.once('ready', () => {
      if (torrent.destroyed) return
      const n = this.numbers(entry, torrent)
      let answered = false
      const announcement = this.announce(torrent, n.totalBytes - n.bytesPresent, {
        onAnswer: (tracker) => {
          if (t.download && !answered) this.log.debug?.(fields, 'webtorrent: first announce answered')
          answered = true
          releaseSlot()
          this.trackerLog.answered(tracker, t.infoHash)
        },
        // A tracker that is down is one line for all its torrents, not one per torrent (tracker-log.ts).
        onTrouble: (trouble) => {
          releaseSlot()
          this.trackerLog.trouble(t.infoHash, t.name, trouble)
        },
      })
      entry.announcement = announcement
      if (!announcement) releaseSlot()
    })
    torrent.on('warning', warn)
    torrent.on('error', (err: unknown) => {
      stopAnnouncing()
      entry.last = this.numbers(entry, torrent)
      entry.error = redactUrlsIn(errorMessage(err))
      this.log.error({ ...fields, err: entry.error }, 'webtorrent: torrent failed')
    })
    torrent.on('infoHash', (hash: string) => {
      if (hash !== t.infoHash) torrent.destroy(null)
    })
    // Peers we connect to (webtorrent makes those sockets itself) get coalesced writes too: a
    // download sends a 17-byte request per 16 KiB block, 131,072 of them for 2 GiB, each its own
    // `write` (about 1.5 s of the main thread in a profile of `mirror sync`, #14 §1). The 'wire'
    // event names the peer's address; `outgoing` holds the sockets opened to it.
    torrent.on('wire', (wire: { extendedHandshake?: Record<string, unknown> }, addr?: string) => {
      // Sent in the extended handshake, which webtorrent sends after this event (its hook for
      // extensions); see PEER_REQUEST_QUEUE.
      if (wire.extendedHandshake) wire.extendedHandshake.reqq = PEER_REQUEST_QUEUE
      if (typeof addr === 'string')
        for (const socket of this.outgoing.claim(addr)) coalesceWrites(socket, this.slabs)
    })
    if (t.download) {
      // A download's timeline at debug level: where the time goes before its first piece and after its last.
      torrent.once('wire', () => this.log.debug?.(fields, 'webtorrent: first peer connected'))
      torrent.once('verified', () => this.log.debug?.(fields, 'webtorrent: first piece verified'))
      torrent.once('done', () => {
        this.log.debug?.(fields, 'webtorrent: every piece verified')
        for (const listener of this.downloaded) listener(t.infoHash)
      })
    }
    await new Promise<void>((resolve, reject) => {
      const onReady = (): void => {
        cleanup()
        resolve()
      }
      const onError = (err: unknown): void => {
        cleanup()
        reject(
          new EngineError(
            'engine-rejected',
            `webtorrent: cannot add ${t.name} (${t.infoHash}): ${errorMessage(err)}`,
          ),
        )
      }
      const onClose = (): void => {
        cleanup()
        const hash = torrent.infoHash
        reject(
          new EngineError(
            'engine-rejected',
            hash !== undefined && hash !== t.infoHash
              ? `webtorrent: the .torrent for ${t.name} has infohash ${hash}, not ${t.infoHash}`
              : `webtorrent: ${t.infoHash} was removed before it was ready`,
          ),
        )
      }
      const cleanup = (): void => {
        torrent.removeListener('ready', onReady)
        torrent.removeListener('error', onError)
        torrent.removeListener('close', onClose)
      }
      torrent.once('ready', onReady)
      torrent.once('error', onError)
      torrent.once('close', onClose)
    })
    const n = this.numbers(entry, torrent)
    this.log.debug?.(
      { ...fields, verified: t.verify, bytesPresent: n.bytesPresent, totalBytes: n.totalBytes },
      'webtorrent: torrent added',
    )
  }

  async fetchMetadata(
    magnet: string,
    infoHash: string,
    opts: { timeoutMs: number; dataDir: string },
  ): Promise<Buffer> {
    const client = this.requireClient()
    if (this.entries.has(infoHash))
      throw new EngineError(
        'engine-rejected',
        `webtorrent: ${infoHash} is already added; its metadata is known`,
      )
    const torrent = client.add(magnet, {
      path: opts.dataDir,
      store: this.Store,
      storeCacheSlots: 0,
      destroyStoreOnDestroy: false,
    })
    // A magnet's trackers are announced to from the moment its infohash is parsed, as webtorrent
    // would: they are how the peers that send the metadata are found.
    let announcement: Announcement | null = null
    torrent.once('infoHash', () => {
      if (!torrent.destroyed) announcement = this.announce(torrent, null, {})
    })
    torrent.once('close', () => void announcement?.stop())
    try {
      return await new Promise<Buffer>((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new EngineError(
                'engine-timeout',
                `webtorrent: no peer sent the metadata of ${infoHash} within ${opts.timeoutMs} ms`,
                { transient: true },
              ),
            ),
          opts.timeoutMs,
        )
        torrent.once('metadata', () => {
          clearTimeout(timer)
          const file = torrent.torrentFile
          if (!file || torrent.infoHash !== infoHash)
            reject(
              new EngineError(
                'engine-rejected',
                `webtorrent: the metadata received for ${infoHash} is not that torrent's`,
              ),
            )
          else resolve(Buffer.from(file))
        })
        torrent.once('error', (err: unknown) => {
          clearTimeout(timer)
          reject(
            new EngineError(
              'engine-rejected',
              `webtorrent: cannot resolve ${infoHash}: ${errorMessage(err)}`,
            ),
          )
        })
      })
    } finally {
      // Only the metadata was wanted: stop before any piece is requested (nothing was written).
      await closeTorrent(torrent)
    }
  }

  async ping(): Promise<void> {
    this.requireClient()
  }

  async remove(infoHash: string, _opts?: { deleteData?: false }): Promise<void> {
    this.requireOpen()
    const entry = this.entries.get(infoHash)
    if (!entry) return
    this.entries.delete(infoHash)
    entry.removed = true
    await leave(entry)
    this.log.debug?.({ infoHash, name: entry.name }, 'webtorrent: torrent removed')
  }

  async list(): Promise<EngineTorrentStatus[]> {
    this.requireOpen()
    return [...this.entries.values()].map((e) => this.status(e))
  }

  onDownloaded(listener: (infoHash: string) => void): () => void {
    this.downloaded.add(listener)
    return () => this.downloaded.delete(listener)
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    const client = this.client ?? (await this.starting?.then(() => this.client).catch(() => null)) ?? null
    this.client = null
    // `stopped` to the trackers first (waiting at most a second), as webtorrent's own destroy did.
    await this.announcer?.close()
    this.trackerLog.close()
    if (client && !client.destroyed) await new Promise<void>((resolve) => client.destroy(() => resolve()))
    this.entries.clear()
    this.outgoing.stop()
    this.pool.closeAll()
  }

  /**
   * Starts announcing `torrent` to its own trackers and, unless it is private, the configured
   * ones; null when it has none. `left` is what is missing when announcing starts (null:
   * unknown, a magnet); a torrent missing something sends `completed` once it is done, one
   * that was complete from the start never does (BEP 3).
   */
  private announce(torrent: Torrent, left: number | null, hooks: AnnounceHooks): Announcement | null {
    const announcer = this.announcer
    if (!announcer) return null
    const urls = torrent.private ? torrent.announce : [...torrent.announce, ...this.config.trackers]
    if (urls.length === 0) return null
    const announcement = announcer.start(
      {
        infoHash: torrent.infoHash,
        numbers: () => {
          if (torrent.destroyed || typeof torrent.length !== 'number' || !torrent.bitfield)
            // Nothing known yet (a magnet): bittorrent-tracker's stand-in, so no tracker takes it for a seeder.
            return { uploaded: torrent.uploaded || 0, downloaded: torrent.received || 0, left: 16384 }
          // `downloaded` is what came from peers: data already on disk was not downloaded (a
          // private tracker counts it against the ratio).
          return {
            uploaded: torrent.uploaded,
            downloaded: torrent.received,
            left: torrent.length - verifiedBytes(torrent),
          }
        },
        addPeer: (addr) => {
          if (!torrent.destroyed) torrent.addPeer(addr)
        },
      },
      urls,
      hooks,
    )
    if (left !== null && left > 0) torrent.once('done', () => announcement.complete())
    return announcement
  }

  private status(e: Entry): EngineTorrentStatus {
    const t = e.torrent
    const n = e.error === null && t && !t.destroyed ? this.numbers(e, t) : e.last
    let state: CopyState
    if (e.error !== null) state = 'error'
    // Not added yet: waiting for a verification slot.
    else if (!t || !t.ready) state = 'checking'
    else if (t.paused) state = 'stopped'
    else if (n.totalBytes > 0 && n.bytesPresent === n.totalBytes) state = 'seeding'
    else state = 'downloading'
    const peers = e.error === null && t && !t.destroyed ? t.numPeers : 0
    return {
      infoHash: e.infoHash,
      name: e.name,
      state,
      bytesPresent: n.bytesPresent,
      totalBytes: n.totalBytes,
      uploaded: n.uploaded,
      peers,
      error: e.error,
    }
  }

  /** Verified bytes come from the piece bitfield (webtorrent's `downloaded` also counts partial pieces). */
  private numbers(e: Entry, t: Torrent): Entry['last'] {
    const totalBytes = typeof t.length === 'number' ? t.length : e.last.totalBytes
    const uploaded = e.uploadedBefore + t.uploaded
    if (!t.bitfield) return { bytesPresent: 0, totalBytes, uploaded }
    return { bytesPresent: verifiedBytes(t), totalBytes, uploaded }
  }

  private requireOpen(): void {
    if (this.closed) throw new EngineError('engine-closed', 'webtorrent: the engine is closed')
    if (!this.client) throw new EngineError('engine-closed', 'webtorrent: call start() first')
  }

  private requireClient(): WebTorrent {
    this.requireOpen()
    if (this.failure !== null)
      throw new EngineError('engine-failed', `webtorrent: the client failed: ${this.failure}`)
    return this.client!
  }
}

/**
 * `client.add`, without webtorrent's scan of all its torrents for a duplicate.
 *
 * webtorrent 3.0.21's `add` (index.js, as published) hangs a listener on the new torrent's
 * private '_infoHash' event that compares the torrent's infohash with that of every torrent of
 * the client, and never stops early unless it finds a duplicate: n²/2 comparisons for n adds,
 * each a walk to another Torrent object in the heap. Measured (2 shared cores, load 5 to 8, CPU
 * time of the process): 10,000 cached torrents added by this engine took 4.4 to 4.6 s without
 * the scan and 6.1 to 7.5 s with it (the scan's own samples in a profile: 1.6 s); added to a bare
 * client all at once, 2.6 s against 5.6 s. In serve starting over 10,000 (`npm run bench:seed
 * -- --phases scale`, load 13 to 19) the scan was 10% of its main thread's busy samples, as much
 * as all its file opens. At 2,000 it is lost in the noise (1.31 s against 1.37 s). The time is
 * the scan itself, not anything it starts, and grows with the square of the number of torrents;
 * serve has to have 10,000 seeding within 30 s of starting, and took 23.9 s without it.
 *
 * No documented way avoids it: `add` has no option for it; no order of adds makes it shorter
 * (every scan walks all torrents added before); and splitting the torrents over several clients
 * would give each client its own listening port (and DHT node), where operators open one port.
 * So this one private name is touched here and nowhere else, and only in the shape webtorrent
 * gives it: exactly one listener on a torrent `add` has just made. Any other shape (another
 * webtorrent version) leaves the scan in place, which is correct, only slower;
 * test/engines/webtorrent.test.ts says so when it happens. Duplicates cannot reach webtorrent
 * without it: the engine keeps one entry per infohash (`add`), closes a torrent before adding it
 * again for verification, and drops a .torrent whose infohash is not the one it was added as.
 */
export function addWithoutDuplicateScan(
  client: WebTorrent,
  torrentId: Buffer,
  opts: TorrentOptions,
): Torrent {
  const torrent = client.add(torrentId, opts)
  const scan = torrent.listeners(PRIVATE_DUPLICATE_SCAN)
  if (scan.length === 1)
    torrent.removeListener(PRIVATE_DUPLICATE_SCAN, scan[0] as (...args: unknown[]) => void)
  return torrent
}

/** The bytes of `t`'s verified pieces; its metadata and bitfield must be known. */
function verifiedBytes(t: Torrent): number {
  if (t.done) return t.length
  const bits = t.bitfield!
  const count = t.pieces.length
  let bytes = 0
  for (let i = 0; i < count; i++)
    if (bits.get(i)) bytes += i === count - 1 ? t.lastPieceLength : t.pieceLength
  return bytes
}

/** The event `client.add` checks for duplicates on (see `addWithoutDuplicateScan`). */
const PRIVATE_DUPLICATE_SCAN = '_infoHash'

/**
 * Stops announcing an entry's torrent (waiting for the trackers to take the `stopped`, up to a
 * second, as webtorrent's own destroy did) and stops the torrent.
 */
async function leave(entry: Entry): Promise<void> {
  await Promise.all([entry.announcement?.stop(), entry.torrent ? closeTorrent(entry.torrent) : undefined])
}

/** Stops a torrent; `destroyStore: false` only closes its files, nothing on disk is touched. */
async function closeTorrent(torrent: Torrent): Promise<void> {
  if (torrent.destroyed) return
  await new Promise<void>((resolve) => torrent.destroy({ destroyStore: false }, () => resolve()))
}

/**
 * Builds the client so that its TCP server listens on `host` (empty: all addresses), and so
 * that peers connecting to it are sent pieces in large writes (see `coalesceWrites`).
 * webtorrent has no option for the listening host (webtorrent/webtorrent#2890; the open pull
 * request #2891, "torrentHost", would add one) nor for its sockets. Its ConnPool calls
 * `net.createServer()` and `server.listen(port, cb)` synchronously in the constructor, so
 * wrapping `net.createServer` for that one synchronous call reaches exactly it and nothing else.
 */
export function createClient(
  WebTorrentClient: typeof WebTorrent,
  host: string,
  slabs: SlabPool | undefined,
  opts: WebTorrentOptions,
): WebTorrent {
  const netModule = net as { createServer: typeof net.createServer }
  const original = netModule.createServer
  netModule.createServer = ((...args: Parameters<typeof net.createServer>) => {
    if (args.length > 0) return original.apply(net, args) // not ConnPool's call: untouched
    const server = original.call(net, { highWaterMark: SOCKET_HIGH_WATER_MARK })
    server.prependListener('connection', (socket: net.Socket) => coalesceWrites(socket, slabs))
    if (host) {
      const listen = server.listen.bind(server) as (options: net.ListenOptions, cb?: () => void) => net.Server
      ;(server as { listen: unknown }).listen = (port: number, cb?: () => void) => listen({ port, host }, cb)
    }
    return server
  }) as typeof net.createServer
  try {
    return new WebTorrentClient(opts)
  } finally {
    netModule.createServer = original
  }
}

/**
 * Buffered bytes before a peer socket's `write` asks for back-pressure (Node's default is 16 KiB).
 * At 16 KiB every piece message (16 KiB and 13 bytes) filled it: the wire stopped after each
 * block and resumed on the next 'drain', so no two blocks were ever written together.
 */
const SOCKET_HIGH_WATER_MARK = 1024 * 1024

/**
 * The block requests a peer may have outstanding with us, told in the extended handshake's
 * `reqq` (BEP 10). Without it a WebTorrent downloader keeps a second's worth of blocks asked for
 * (about 15,000 at 250 MB/s over loopback), and bittorrent-protocol finds the request each block
 * answers by a linear search of that queue, on both sides, for every block: the seeder spent 2 to
 * 2.3 times the CPU uploading 2 GiB to `mirror sync` that it spent uploading it to aria2c (#14
 * §1). With 500, `mirror sync` of 512 MiB (2 rounds each, shared machine): seeder 0.73 and 0.69 s
 * against 1.38 and 1.20 s, the downloader 4.8 s (user+sys) against 6.8 and 5.4 s, its peak RSS
 * 170-180 MB against 211-235 MB; 250 measured about the same, 1000 worse. 500 is libtorrent's
 * default limit on the requests it sends (`max_out_request_queue`), so libtorrent asks as before.
 * `extendedHandshake` is bittorrent-protocol's public object on a wire for what its extended
 * handshake says, filled in by extensions at webtorrent's 'wire' event (its hook for extensions).
 */
export const PEER_REQUEST_QUEUE = 500

/**
 * Writes that add up to less than this by the end of a turn wait up to `HOLD_MS` for more. A
 * downloader's turn answers a 64 KiB socket read, about four blocks, so it sent four 17-byte
 * requests, and the seeder read and sent four blocks per turn in return. Held, the requests of a
 * few turns leave together and the seeder answers them with one read and one `writev`: `mirror
 * sync` of 512 MiB from serve (4 runs of each, shared machine at load 8 to 9): seeder 0.52 to
 * 0.75 s (mean 0.63) against 0.58 to 0.86 s (0.70), the downloader 4.24 to 4.84 s (4.47) against
 * 4.44 to 4.83 s (4.62). Blocks (16 KiB) always leave at the end of their turn, so uploads are as
 * before; a lone control message (a handshake, a `have`) is 2 ms later, within a request queue
 * (`PEER_REQUEST_QUEUE`) of about 30 ms over loopback.
 */
const HOLD_BELOW = 1024
const HOLD_MS = 2

const coalesced = new WeakSet<net.Socket>()

function chunkLength(chunk: unknown): number {
  return typeof chunk === 'string' ? Buffer.byteLength(chunk) : chunk instanceof Uint8Array ? chunk.length : 0
}

/**
 * Writes made to a peer socket in one turn of the event loop leave in one `writev`.
 * bittorrent-protocol pushes each piece message as two chunks (its 13-byte header, then the
 * block), and Node sends a chunk written to an idle socket at once, with its own syscall:
 * uploading the 2 GiB benchmark release to libtorrent made 262,000 `write`s of 13 bytes or
 * 16 KiB, the largest part of the seeder's CPU profile (each one also runs the loopback
 * receiver's TCP path in the sender's time). Corked until the turn ends, the blocks answered
 * together go out together; less than `HOLD_BELOW` bytes (a downloader's requests) wait up to
 * `HOLD_MS` for more. webtorrent offers no hook between the wire and its socket, so the
 * socket's own `write` is wrapped: of sockets this engine's server accepted, and of outgoing
 * ones once their wire is up (`add`). Wrapping a socket twice is a no-op.
 */
export function coalesceWrites(socket: net.Socket, slabs?: SlabPool): void {
  if (coalesced.has(socket)) return
  coalesced.add(socket)
  const write = socket.write.bind(socket) as (
    chunk: unknown,
    encoding?: BufferEncoding,
    cb?: (err?: Error | null) => void,
  ) => boolean
  let corked = false
  let timer: NodeJS.Timeout | null = null
  let soon = false
  const uncork = (): void => {
    if (timer !== null) clearTimeout(timer)
    timer = null
    soon = false
    if (!corked) return
    corked = false
    socket.uncork()
  }
  const endOfTurn = (): void => {
    soon = false
    if (!corked) return
    if (socket.writableLength >= HOLD_BELOW) return uncork()
    timer ??= setTimeout(uncork, HOLD_MS)
  }
  socket.write = ((...args: Parameters<net.Socket['write']>): boolean => {
    if (!corked) {
      corked = true
      socket.cork()
      soon = true
      setImmediate(endOfTurn)
    } else if (!soon && timer !== null && socket.writableLength + chunkLength(args[0]) >= HOLD_BELOW) {
      // Held small writes have grown: they leave at the end of this turn.
      soon = true
      setImmediate(endOfTurn)
    }
    const [chunk, a, b] = args as [unknown, unknown, unknown]
    if (slabs && chunk instanceof Uint8Array && chunk.length >= 1024 && slabs.owns(chunk)) {
      // A block of a pooled read buffer: once written, its buffer may be used again.
      const cb = (typeof a === 'function' ? a : b) as ((err?: Error | null) => void) | undefined
      const encoding = typeof a === 'string' ? (a as BufferEncoding) : undefined
      return write(chunk, encoding, (err) => {
        slabs.written(chunk)
        cb?.(err)
      })
    }
    return write(...args)
  }) as net.Socket['write']
}

/**
 * The TCP sockets this process opened, by the address they connected to, while an engine runs.
 * webtorrent opens its sockets to peers itself (`net.connect`) and hands out only the wire and
 * the peer's address (its documented 'wire' event), so a peer's socket is found by that address
 * among the client sockets Node's documented 'net.client.socket' diagnostics channel reports
 * (instead of webtorrent's private `torrent._peers`). Other client sockets (tracker announces,
 * remote engines) are only remembered until they close: no peer has their address.
 */
class OutgoingSockets {
  /** Connected sockets not yet claimed, by "ip:port" (IPv6 without brackets). */
  private readonly byAddress = new Map<string, Set<net.Socket>>()
  private started = false

  private readonly onSocket = (message: unknown): void => {
    const socket = (message as { socket?: unknown } | null)?.socket
    if (!(socket instanceof net.Socket)) return
    socket.once('connect', () => {
      const key = addressKey(socket.remoteAddress, socket.remotePort)
      if (key === null) return
      let sockets = this.byAddress.get(key)
      if (!sockets) this.byAddress.set(key, (sockets = new Set()))
      sockets.add(socket)
      socket.once('close', () => this.forget(key, socket))
    })
  }

  start(): void {
    if (this.started) return
    this.started = true
    diagnosticsChannel.subscribe('net.client.socket', this.onSocket)
  }

  stop(): void {
    if (!this.started) return
    this.started = false
    diagnosticsChannel.unsubscribe('net.client.socket', this.onSocket)
    this.byAddress.clear()
  }

  /**
   * The open sockets connected to `addr` ("ip:port" or "[ip]:port"), each handed out once. Two
   * torrents connecting to one peer give two sockets to one address: a wire takes both, and
   * coalescing the other torrent's socket early is what its own wire would do.
   */
  claim(addr: string): net.Socket[] {
    const m = /^\[?([^\]]*?)\]?:(\d+)$/.exec(addr)
    const key = m ? addressKey(m[1], Number(m[2])) : null
    const sockets = key === null ? undefined : this.byAddress.get(key)
    if (!sockets) return []
    this.byAddress.delete(key!)
    return [...sockets].filter((s) => !s.destroyed)
  }

  private forget(key: string, socket: net.Socket): void {
    const sockets = this.byAddress.get(key)
    if (!sockets?.delete(socket) || sockets.size > 0) return
    this.byAddress.delete(key)
  }
}

function addressKey(address: string | undefined, port: number | undefined): string | null {
  if (!address || !port) return null
  return `${address.startsWith('::ffff:') ? address.slice(7) : address}:${port}`
}

/**
 * Lets waiting callers go a few at a time, once per turn of the event loop (in its check phase,
 * after timers and I/O such as the API's requests have run): each in a callback of its own, so
 * the microtasks the one let go starts have run, and their time counted, before the next one
 * goes; the turn's callers stop once `budgetMs` has passed, or after `perTurn`.
 */
class AddTurns {
  private readonly waiting: Array<() => void> = []
  private scheduled = false
  private turnStart = 0
  private count = 0

  constructor(
    private readonly perTurn: number,
    private readonly budgetMs: number,
  ) {}

  turn(): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.push(resolve)
      if (!this.scheduled) this.schedule()
    })
  }

  private schedule(): void {
    this.scheduled = true
    this.count = 0
    // Immediates queued now all run in the next check phase, one after another, with the
    // microtasks of each drained before the next; one queued while they run waits a turn.
    for (let i = 0; i < this.perTurn; i++) setImmediate(this.step, i === this.perTurn - 1)
  }

  private readonly step = (last: boolean): void => {
    if (this.count === 0) this.turnStart = performance.now()
    if (this.waiting.length > 0 && (this.count === 0 || performance.now() - this.turnStart < this.budgetMs)) {
      this.count++
      this.waiting.shift()!()
    }
    if (!last) return
    this.scheduled = false
    if (this.waiting.length > 0) this.schedule()
  }
}

class Semaphore {
  private free: number
  private readonly waiting: Array<() => void> = []

  constructor(count: number) {
    this.free = Math.max(1, count)
  }

  async acquire(): Promise<void> {
    if (this.free > 0) {
      this.free--
      return
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve))
  }

  release(): void {
    const next = this.waiting.shift()
    if (next) next()
    else this.free++
  }
}
