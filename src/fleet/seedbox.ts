/**
 * One seedbox's daemon, for the fleet: whichever kind it runs (`kind` in its config), through
 * the engines' `RemoteEngine` (bounded retries, logins and session handling, duplicates, each
 * kind's quirks). A health poll is three calls: the version (timed), the state of every
 * torrent in one call, and the free space at the seedbox's path. Each kind's states arrive
 * here already mapped into the copy-state vocabulary (`CopyState`, at the client's edge).
 */
import type { Config } from '../config/index.js'
import { readSecret } from '../config/index.js'
import {
  createRemoteEngine,
  EngineError,
  type AddResult,
  type CopyState,
  type EngineLogger,
  type ErrorKind,
  type RemoteEngine,
  type RemoteKind,
  type RetryPolicy,
} from '../engines/index.js'

export type SeedboxConfig = Config['fleet']['seedboxes'][number]

/** One torrent as a seedbox's daemon reports it; also the stored copy's fields (store.ts `CopyRow`). */
export interface SeedboxTorrent {
  infohash: string
  name: string
  /** Mapped by the client at its edge (src/engines/<kind>.ts). */
  state: CopyState
  /**
   * The daemon's own status number where it has one (Transmission's tr_torrent_activity), else -1;
   * `nativeState` says it for every kind.
   */
  status: number
  /** The daemon's own word for the state (Transmission `6`, qBittorrent `stalledUP`, Deluge `Seeding`, ...). */
  nativeState?: string
  percentDone: number
  /**
   * `ERROR_CODE` of the error kind: 0 none, 2 a tracker's, 3 local (Transmission's tr_stat_errtype numbers).
   */
  error: number
  errorString: string
  peers: number
  rateUpload: number
  uploaded: number
  stalled: boolean
  /**
   * Largest figure any of its trackers reported in the daemon's last announce or scrape; null when none did.
   */
  seeders: number | null
  leechers: number | null
  downloads: number | null
}

export interface SeedboxPoll {
  kind: RemoteKind
  version: string
  /** The RPC's own version where it is a number (Transmission rpc-version, rTorrent API), else 0. */
  rpcVersion: number
  /** Round trip of the version call, in ms. */
  latencyMs: number
  /** Free bytes at the seedbox's path, or null when the daemon could not tell (`freeSpaceError`). */
  freeBytes: number | null
  freeSpaceError: string | null
  torrents: SeedboxTorrent[]
}

/** The environment variable holding a seedbox's RPC password: AACSEED_SEEDBOX_<NAME>_PASSWORD, `-` as `_`. */
/** The stored `error` number of each error kind: the same for every kind of daemon. */
export const ERROR_CODE: Record<ErrorKind, number> = { none: 0, tracker: 2, local: 3 }

export function seedboxPasswordEnv(name: string): string {
  return `AACSEED_SEEDBOX_${name.toUpperCase().replace(/-/g, '_')}_PASSWORD`
}

export interface SeedboxClientOptions {
  env?: NodeJS.ProcessEnv
  logger?: EngineLogger
  /** Labels set on pushed torrents. */
  labels?: string[]
  /** Retries of pushes and removals (default: 5 tries up to 4 s apart). */
  retry?: Partial<RetryPolicy>
  /** Retries of a poll: few, a poll runs again soon anyway (default 2 tries, 250 ms apart). */
  pollRetry?: Partial<RetryPolicy>
}

export class SeedboxClient {
  readonly name: string
  readonly kind: RemoteKind
  /** The RPC URL without credentials, for messages. */
  readonly url: string
  private readonly engine: RemoteEngine
  private readonly poller: RemoteEngine

  constructor(
    readonly config: SeedboxConfig,
    opts: SeedboxClientOptions = {},
  ) {
    this.name = config.name
    this.kind = config.kind
    const password =
      readSecret(
        seedboxPasswordEnv(config.name),
        config.password_file,
        opts.env ?? process.env,
        `seedbox-${config.name}`,
      ) ?? ''
    const url = new URL(config.url)
    url.username = ''
    url.password = ''
    url.search = ''
    url.hash = ''
    this.url = url.toString()
    const log = opts.logger ?? { info() {}, warn() {}, error() {} }
    const settings = {
      url: config.url,
      username: config.username,
      password,
      // The seedbox's path is already the daemon's view.
      pathMap: {},
      labels: opts.labels ?? [],
      timeoutMs: config.timeout_ms,
      daemon: config.daemon,
    }
    this.engine = createRemoteEngine(config.kind, settings, {
      logger: log,
      ...(opts.retry ? { retry: opts.retry } : {}),
    })
    // Polls retry less than pushes: the next poll comes soon anyway.
    this.poller = createRemoteEngine(config.kind, settings, {
      logger: log,
      retry: { attempts: 2, baseDelayMs: 250, maxDelayMs: 1000, ...opts.pollRetry },
    })
  }

  /** One health poll: the version (timed), every torrent in one call, and the free space at the path. */
  async poll(): Promise<SeedboxPoll> {
    const info = await this.poller.info()
    const list = await this.poller.list()
    let freeBytes: number | null = null
    let freeSpaceError: string | null = null
    try {
      freeBytes = await this.poller.freeSpace(this.config.path)
    } catch (e) {
      // A daemon that cannot measure its path (missing folder, old daemon) still holds and serves torrents.
      if (!(e instanceof EngineError && e.code === 'engine-rejected')) throw e
      freeSpaceError = e.message
    }
    return {
      kind: this.kind,
      version: info.version,
      rpcVersion: /^\d+$/.test(info.apiVersion) ? Number(info.apiVersion) : 0,
      latencyMs: info.latencyMs,
      freeBytes,
      freeSpaceError,
      torrents: list.map((t) => ({
        infohash: t.infoHash,
        name: t.name,
        state: t.state,
        status: /^\d+$/.test(t.native) ? Number(t.native) : -1,
        nativeState: t.native,
        percentDone: t.progress,
        error: ERROR_CODE[t.errorKind],
        errorString: t.error ?? '',
        peers: t.peers,
        rateUpload: t.rateUpload,
        uploaded: t.uploaded,
        stalled: t.stalled,
        seeders: t.seeders,
        leechers: t.leechers,
        downloads: t.downloads,
      })),
    }
  }

  /**
   * Adds the torrent unpaused with the seedbox's path as its save path: the daemon verifies what
   * is there and downloads the rest from the swarm. Already there: `duplicate`, nothing added.
   */
  async push(t: { torrent: Buffer; infoHash: string; name: string }): Promise<AddResult> {
    return await this.engine.add({
      torrent: t.torrent,
      infoHash: t.infoHash,
      name: t.name,
      dataDir: this.config.path,
      verify: false,
      download: true,
    })
  }

  /** Starts a stopped copy; `verify` first re-checks the data (after a local error such as missing files). */
  async start(infohash: string, verify: boolean): Promise<void> {
    await this.engine.resume(infohash, { verify })
  }

  async remove(infohash: string, deleteData: boolean): Promise<void> {
    await this.engine.remove(infohash, { deleteData })
  }

  async close(): Promise<void> {
    await Promise.all([this.engine.close(), this.poller.close()])
  }
}
