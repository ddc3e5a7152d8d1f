/**
 * One seedbox's Transmission daemon, for the fleet: pushes and removals go through
 * `TransmissionEngine` (bounded retries, 409 session handling, duplicates, the SIGKILL-reload
 * download-dir fix); the health poll and `free-space` use the same bounded transport directly,
 * because they need raw fields (`trackerStats`) that `Engine.list()` does not carry.
 *
 * Speaks the legacy RPC protocol, which Transmission 2.x, 3.00 and 4.x all answer (4.1's
 * JSON-RPC 2.0 is optional). Every field of `torrent-get` is read defensively: a field an
 * older daemon lacks gets its neutral value instead of failing the poll.
 */
import type { Config } from '../config/index.js'
import { readSecret } from '../config/index.js'
import { EngineError, type AddResult, type EngineLogger } from '../engines/index.js'
import type { CopyState } from '../engines/engine.js'
import {
  RpcClient,
  TransmissionEngine,
  transmissionState,
  type RetryPolicy,
} from '../engines/transmission.js'
import { FleetError } from './errors.js'

export type SeedboxConfig = Config['fleet']['seedboxes'][number]

/** The `torrent-get` fields of the health poll, and only those. */
export const POLL_FIELDS = [
  'hashString',
  'name',
  'status',
  'percentDone',
  'error',
  'errorString',
  'peersConnected',
  'rateUpload',
  'uploadedEver',
  'isStalled',
  'trackerStats',
] as const

/** One torrent as a seedbox's daemon reports it; also the stored copy's fields (store.ts `CopyRow`). */
export interface SeedboxTorrent {
  infohash: string
  name: string
  /** Mapped by the client at its edge (Transmission: `transmissionState`). */
  state: CopyState
  /** The daemon's own status number, kept for display (Transmission's tr_torrent_activity). */
  status: number
  percentDone: number
  error: number
  errorString: string
  peers: number
  rateUpload: number
  uploaded: number
  stalled: boolean
  /** Largest figure any of its trackers reported in the daemon's last announce or scrape; null when none did. */
  seeders: number | null
  leechers: number | null
  downloads: number | null
}

export interface SeedboxPoll {
  version: string
  rpcVersion: number
  /** Round trip of `session-get`, in ms. */
  latencyMs: number
  /** Free bytes at the seedbox's path, or null when the daemon could not tell (`freeSpaceError`). */
  freeBytes: number | null
  freeSpaceError: string | null
  torrents: SeedboxTorrent[]
}

/** The environment variable holding a seedbox's RPC password: AACSEED_SEEDBOX_<NAME>_PASSWORD, `-` as `_`. */
export function seedboxPasswordEnv(name: string): string {
  return `AACSEED_SEEDBOX_${name.toUpperCase().replace(/-/g, '_')}_PASSWORD`
}

export interface SeedboxClientOptions {
  env?: NodeJS.ProcessEnv
  logger?: EngineLogger
  /** Labels set on pushed torrents. */
  labels?: string[]
  /** Retries of pushes and removals (default: TransmissionEngine's, 5 tries up to 4 s apart). */
  retry?: Partial<RetryPolicy>
  /** Retries of a poll: few, a poll runs again soon anyway (default 2 tries, 250 ms apart). */
  pollRetry?: Partial<RetryPolicy>
}

export class SeedboxClient {
  readonly name: string
  /** The RPC URL without credentials, for messages. */
  readonly url: string
  private readonly engine: TransmissionEngine
  private readonly rpc: RpcClient
  private started = false

  constructor(
    readonly config: SeedboxConfig,
    opts: SeedboxClientOptions = {},
  ) {
    this.name = config.name
    const url = new URL(config.url)
    const username = config.username || decodeURIComponent(url.username)
    const password =
      readSecret(
        seedboxPasswordEnv(config.name),
        config.password_file,
        opts.env ?? process.env,
        `seedbox-${config.name}`,
      ) ?? decodeURIComponent(url.password)
    url.username = ''
    url.password = ''
    url.search = ''
    url.hash = ''
    this.url = url.toString()
    const log = opts.logger ?? { info() {}, warn() {}, error() {} }
    // The engine reads its password from this one variable; handing it over this way keeps the
    // seedbox's secret out of every config object.
    this.engine = new TransmissionEngine(
      {
        url: this.url,
        username,
        password_file: '',
        path_map: {},
        labels: opts.labels ?? [],
        timeout_ms: config.timeout_ms,
      },
      {
        env: { AACSEED_TRANSMISSION_PASSWORD: password },
        logger: log,
        ...(opts.retry ? { retry: opts.retry } : {}),
      },
    )
    const pollRetry: RetryPolicy = { attempts: 2, baseDelayMs: 250, maxDelayMs: 1000, ...opts.pollRetry }
    this.rpc = new RpcClient(url, username, password, config.timeout_ms, pollRetry, log)
  }

  /** One health poll: `session-get` (timed), one batched `torrent-get` of POLL_FIELDS, and `free-space` of the path. */
  async poll(): Promise<SeedboxPoll> {
    const t0 = performance.now()
    const session = rpcArgs('session-get', await this.rpc.call('session-get')) as {
      version?: unknown
      'rpc-version'?: unknown
    }
    const latencyMs = performance.now() - t0
    const got = rpcArgs('torrent-get', await this.rpc.call('torrent-get', { fields: POLL_FIELDS })) as {
      torrents?: unknown
    }
    if (!Array.isArray(got.torrents))
      throw new FleetError(
        'fleet-bad-reply',
        `seedbox ${this.name}: torrent-get answered without a torrents list`,
      )
    const torrents = got.torrents.flatMap((raw: unknown) => {
      const t = parseTorrent(raw)
      return t ? [t] : []
    })
    let freeBytes: number | null = null
    let freeSpaceError: string | null = null
    try {
      const fs = rpcArgs('free-space', await this.rpc.call('free-space', { path: this.config.path })) as {
        'size-bytes'?: unknown
      }
      if (typeof fs['size-bytes'] === 'number' && fs['size-bytes'] >= 0) freeBytes = fs['size-bytes']
      else freeSpaceError = 'free-space answered without size-bytes'
    } catch (e) {
      // A daemon that cannot measure its path (missing folder, old daemon) still holds and serves torrents.
      if (!(e instanceof EngineError && e.code === 'engine-rejected')) throw e
      freeSpaceError = e.message
    }
    return {
      version: typeof session.version === 'string' ? session.version : 'unknown',
      rpcVersion: typeof session['rpc-version'] === 'number' ? session['rpc-version'] : 0,
      latencyMs,
      freeBytes,
      freeSpaceError,
      torrents,
    }
  }

  /**
   * Adds the torrent unpaused with the seedbox's path as download-dir: the daemon verifies what
   * is there and downloads the rest from the swarm. Already there: `duplicate`, nothing added.
   */
  async push(t: { torrent: Buffer; infoHash: string; name: string }): Promise<AddResult> {
    await this.ensureStarted()
    return await this.engine.add({
      torrent: t.torrent,
      infoHash: t.infoHash,
      name: t.name,
      dataDir: this.config.path,
      verify: false,
    })
  }

  /** Starts a stopped copy; `verify` first re-checks the data (after a local error such as missing files). */
  async start(infohash: string, verify: boolean): Promise<void> {
    if (verify) rpcArgs('torrent-verify', await this.rpc.call('torrent-verify', { ids: [infohash] }))
    rpcArgs('torrent-start', await this.rpc.call('torrent-start', { ids: [infohash] }))
  }

  async remove(infohash: string, deleteData: boolean): Promise<void> {
    rpcArgs(
      'torrent-remove',
      await this.rpc.call('torrent-remove', { ids: [infohash], 'delete-local-data': deleteData }),
    )
  }

  async close(): Promise<void> {
    await this.engine.close()
  }

  private async ensureStarted(): Promise<void> {
    if (this.started) return
    await this.engine.start()
    this.started = true
  }
}

function rpcArgs(method: string, reply: unknown): Record<string, unknown> {
  const r = reply as { result?: unknown; arguments?: unknown } | null
  if (typeof r !== 'object' || r === null || typeof r.result !== 'string')
    throw new EngineError(
      'engine-rejected',
      `transmission: ${method}: the answer is not a Transmission RPC reply`,
    )
  if (r.result !== 'success') throw new EngineError('engine-rejected', `transmission: ${method}: ${r.result}`)
  return (typeof r.arguments === 'object' && r.arguments !== null ? r.arguments : {}) as Record<
    string,
    unknown
  >
}

const num = (v: unknown, dflt = 0): number => (typeof v === 'number' && Number.isFinite(v) ? v : dflt)

/** Largest non-negative value of a trackerStats key (Transmission reports -1 for "unknown"). */
function bestOf(stats: unknown, key: string): number | null {
  if (!Array.isArray(stats)) return null
  let best: number | null = null
  for (const s of stats) {
    const v = (s as Record<string, unknown> | null)?.[key]
    if (typeof v === 'number' && v >= 0 && (best === null || v > best)) best = v
  }
  return best
}

function parseTorrent(raw: unknown): SeedboxTorrent | null {
  if (typeof raw !== 'object' || raw === null) return null
  const t = raw as Record<string, unknown>
  if (typeof t.hashString !== 'string' || !/^[0-9a-fA-F]{40}$/.test(t.hashString)) return null
  const status = num(t.status, -1)
  const percentDone = num(t.percentDone)
  const error = num(t.error)
  return {
    infohash: t.hashString.toLowerCase(),
    name: typeof t.name === 'string' ? t.name : '',
    state: transmissionState(status, percentDone, error),
    status,
    percentDone,
    error,
    errorString: typeof t.errorString === 'string' ? t.errorString : '',
    peers: num(t.peersConnected),
    rateUpload: num(t.rateUpload),
    uploaded: num(t.uploadedEver),
    stalled: t.isStalled === true,
    seeders: bestOf(t.trackerStats, 'seederCount'),
    leechers: bestOf(t.trackerStats, 'leecherCount'),
    downloads: bestOf(t.trackerStats, 'downloadCount'),
  }
}
