/**
 * The one interface everything above the engines (jobs, fleet, dashboard) talks to. Each
 * torrent client gets one file implementing it (`webtorrent.ts`, `transmission.ts`,
 * `qbittorrent.ts`, `deluge.ts`, `rtorrent.ts`); nothing above this folder knows which one it
 * is talking to. The four daemons also implement `RemoteEngine`, what a seedbox of the fleet
 * is asked for (state of all torrents in one call, start, stop, remove with data, free space).
 */
import { isAbsolute } from 'node:path'
import { AacseedError } from '../errors.js'

export interface EngineTorrent {
  /** The .torrent file's bytes. */
  torrent: Buffer
  /** v1 infohash, 40 lowercase hex digits. */
  infoHash: string
  /** The torrent's `name`: the file or folder the release root contains. */
  name: string
  /** Local absolute folder that CONTAINS the file or folder named `name` (the release root). */
  dataDir: string
  /** false: the data is unchanged since it was hashed, so skip verification. */
  verify: boolean
  /**
   * The data may be missing or partial: fetch what is missing from peers (mirror sync).
   * Otherwise the data must already be there, and a missing release is an error, not a download.
   */
  download?: boolean
  /**
   * With `download`: nothing of it is on disk yet (its folder does not exist), so there is
   * nothing to verify and every one of its `pieceCount` pieces is to be fetched. An engine may
   * skip reading for pieces that cannot be there (the embedded one does); verifying them anyway
   * is also correct.
   */
  absent?: { pieceCount: number }
  labels?: string[]
}

/**
 * The state of one copy of a torrent, in every engine and on every seedbox: the one vocabulary
 * every client's own states are mapped into (at its edge, in its file), and the only one stored
 * (`engine_torrents.state`, `fleet_copies.state`) and shown.
 *
 *   downloading  fetching data, or queued to (not every piece is verified)
 *   seeding      every piece verified, and serving it or queued to serve it
 *   stopped      paused by someone, or by a seed limit
 *   error        the client reports a local error (unreadable data, disk full)
 *   checking     verifying data, or waiting to
 *   missing      the client knows the torrent but its data is gone (e.g. qBittorrent's
 *                `missingFiles`); a client that cannot tell this from `error` says `error`
 *
 * Only `seeding` is a copy that counts towards a torrent's health (src/fleet/health.ts).
 */
export type CopyState = 'downloading' | 'seeding' | 'stopped' | 'error' | 'checking' | 'missing'

export const COPY_STATES: readonly CopyState[] = [
  'downloading',
  'seeding',
  'stopped',
  'error',
  'checking',
  'missing',
]

/**
 * A copy its client cannot seed from as it stands: a local error, or its data gone. What every
 * view counts or names as a torrent in trouble (health, /healthz, the fleet, the status job).
 */
export function isFailedCopy(state: string | null): state is 'error' | 'missing' {
  return state === 'error' || state === 'missing'
}

export interface EngineTorrentStatus {
  infoHash: string
  name: string
  state: CopyState
  /** Bytes of verified pieces. */
  bytesPresent: number
  totalBytes: number
  /** Bytes uploaded since the engine knows the torrent (Transmission: ever; WebTorrent: this process). */
  uploaded: number
  peers: number
  /** The engine's error or warning text; set with state `error`, and for tracker warnings. */
  error: string | null
}

export type AddResult = 'added' | 'duplicate'

/** The torrent daemons aacseed drives over their RPC, for `[engine]` and for seedboxes. */
export const REMOTE_KINDS = ['transmission', 'qbittorrent', 'deluge', 'rtorrent'] as const
export type RemoteKind = (typeof REMOTE_KINDS)[number]
export type EngineKind = 'webtorrent' | RemoteKind

export interface Engine {
  readonly kind: EngineKind
  /** Connects (Transmission) or starts listening (WebTorrent). */
  start(): Promise<void>
  /**
   * Adds a torrent to seed from `dataDir`; adding one that is already there is `'duplicate'`, not an error.
   */
  add(t: EngineTorrent): Promise<AddResult>
  /** Stops seeding a torrent. Data is never deleted; an unknown infohash is not an error. */
  remove(infoHash: string, opts?: { deleteData?: false }): Promise<void>
  list(): Promise<EngineTorrentStatus[]>
  /**
   * Resolves when the engine works (WebTorrent: open and its client has not failed; a daemon:
   * its version call answers), without reading any torrent: /healthz asks every few seconds, and
   * `list()` over 10,000 torrents is tens of milliseconds here or a large RPC answer from a daemon.
   */
  ping(): Promise<void>
  /**
   * Resolves a magnet link to its .torrent through the swarm (BEP 9 metadata exchange), without
   * downloading data. Only engines that can hand the .torrent back implement it.
   */
  fetchMetadata?(
    magnet: string,
    infoHash: string,
    opts: { timeoutMs: number; dataDir: string },
  ): Promise<Buffer>
  /**
   * Calls `listener` with a download's infohash the moment its last piece is verified, so a
   * caller waiting for downloads need not poll `list()` (an engine in this process only; a
   * daemon's downloads are polled). Returns the function that stops the calls.
   */
  onDownloaded?(listener: (infoHash: string) => void): () => void
  close(): Promise<void>
}

/** Where a torrent's trouble lies: its data on the daemon's disk (`local`), or its trackers. */
export type ErrorKind = 'none' | 'tracker' | 'local'

/** One torrent as a daemon's health poll sees it, the same fields from every kind. */
export interface RemoteTorrentStatus extends EngineTorrentStatus {
  /** Fraction of the wanted bytes verified, 0..1. */
  progress: number
  ratio: number
  /** Bytes per second being uploaded now. */
  rateUpload: number
  /** Active but moving no bytes (a seed nobody asks for is stalled too). */
  stalled: boolean
  errorKind: ErrorKind
  /** Swarm figures the daemon learnt from its trackers; null when it does not say. */
  seeders: number | null
  leechers: number | null
  downloads: number | null
  /**
   * The daemon's own word for the state (Transmission `6`, qBittorrent `stalledUP`, Deluge `Seeding`, ...),
   * for messages.
   */
  native: string
}

export interface RemoteInfo {
  /**
   * The daemon's version as it reports it (`4.5.2`, `3.00 (bb6b5a062e)`, `0.9.8`); any string is accepted.
   */
  version: string
  /** The RPC's own version (Transmission rpc-version, qBittorrent WebAPI, rTorrent API), or ''. */
  apiVersion: string
  /** Round trip of the version call, ms. */
  latencyMs: number
}

/**
 * A torrent daemon on a seedbox or behind `[engine]`: one of `REMOTE_KINDS`, driven over its
 * RPC. Every call logs in or reconnects as needed, retries transient failures a bounded number
 * of times, and fails with an `EngineError`.
 */
export interface RemoteEngine extends Engine {
  readonly kind: RemoteKind
  /** Connects (logs in) and reads the daemon's version. */
  info(): Promise<RemoteInfo>
  /** Every torrent the daemon has, in one call. */
  list(): Promise<RemoteTorrentStatus[]>
  /**
   * Free bytes where the daemon keeps `path` (as the daemon sees it); `engine-rejected` when it cannot tell.
   */
  freeSpace(path: string): Promise<number>
  /**
   * Starts a stopped torrent; `verify` re-checks its data first. An unknown infohash is
   * `engine-rejected` where the daemon says so (Deluge, rTorrent) and nothing where it does not.
   */
  resume(infoHash: string, opts?: { verify?: boolean }): Promise<void>
  /** Stops a torrent without removing it. */
  pause(infoHash: string): Promise<void>
  /**
   * Removes the torrent; `deleteData` also deletes its files on the daemon's disk. Unknown infohash: not an
   * error.
   */
  remove(infoHash: string, opts?: { deleteData?: boolean }): Promise<void>
}

/**
 * A pino logger fits this shape; so does a test's array of lines. What happens to one torrent as
 * planned (added, already present, removed) is a `debug` line: serve hands an engine 10,000
 * torrents at every start, and journald would store a line for each; the jobs log their counts.
 * A torrent's trouble (a failure, a check forced, a tracker refusing it) is a `warn` or `error`
 * line of its own; a tracker that is down is one line for all its torrents (tracker-log.ts).
 */
export interface EngineLogger {
  info(fields: Record<string, unknown>, msg: string): void
  warn(fields: Record<string, unknown>, msg: string): void
  error(fields: Record<string, unknown>, msg: string): void
  debug?(fields: Record<string, unknown>, msg: string): void
}

export const silentLogger: EngineLogger = { info() {}, warn() {}, error() {} }

export type EngineErrorCode =
  /** Nothing answers at the configured address (connection refused or reset, host not found). */
  | 'engine-unreachable'
  /** The daemon refused the credentials or the client's address (HTTP 401, 403, 421). */
  | 'engine-auth'
  /** The engine answered but refused the request (a corrupt torrent, an RPC `result` other than success). */
  | 'engine-rejected'
  /** The configured listening port is taken. */
  | 'port-in-use'
  /** No answer within the configured timeout. */
  | 'engine-timeout'
  /** The engine stopped working (its listener failed after start); restart it. */
  | 'engine-failed'
  /** Used before `start()` or after `close()`. */
  | 'engine-closed'

/**
 * An expected engine failure. Messages name the engine and the address (without any
 * credentials) and never contain a password.
 */
export class EngineError extends AacseedError {
  declare readonly code: EngineErrorCode
  /** Worth retrying as is: the daemon may be restarting. */
  readonly transient: boolean

  constructor(code: EngineErrorCode, message: string, opts: { transient?: boolean } = {}) {
    super(code, message)
    this.transient = opts.transient ?? false
  }
}

export function isEngineError(e: unknown, code?: EngineErrorCode): e is EngineError {
  return e instanceof EngineError && (code === undefined || e.code === code)
}

const HEX40 = /^[0-9a-f]{40}$/

/** Checks the parts of an `EngineTorrent` both engines rely on. */
export function checkEngineTorrent(kind: Engine['kind'], t: EngineTorrent): void {
  if (!HEX40.test(t.infoHash))
    throw new EngineError(
      'engine-rejected',
      `${kind}: infohash must be 40 lowercase hex digits, got ${JSON.stringify(t.infoHash)}`,
    )
  if (!isAbsolute(t.dataDir))
    throw new EngineError(
      'engine-rejected',
      `${kind}: dataDir must be an absolute path, got ${JSON.stringify(t.dataDir)}`,
    )
  if (t.name === '' || t.name.includes('/') || t.name === '.' || t.name === '..')
    throw new EngineError('engine-rejected', `${kind}: bad torrent name ${JSON.stringify(t.name)}`)
  if (t.torrent.length === 0)
    throw new EngineError('engine-rejected', `${kind}: empty .torrent for ${t.infoHash}`)
}
