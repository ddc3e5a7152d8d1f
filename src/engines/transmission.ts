/**
 * A Transmission daemon over its RPC: a small client of our own (see rpc.ts for why not
 * @ctrl/transmission).
 *
 * Speaks the legacy protocol (`{ method, arguments }` → `{ result, arguments }`), which
 * Transmission 2.x, 3.00 and 4.x all answer; 4.1's JSON-RPC 2.0 is not needed.
 *
 * Quirks, checked against Transmission 3.00 (rpc-version 16):
 * - the session-id handshake: the first call (and the first after a restart) answers 409 with
 *   the id to send; we take it and retry, twice at most;
 * - adding a torrent over existing data verifies it by itself; there is no way to skip that;
 * - `torrent-add` of a torrent already there answers `torrent-duplicate` (success);
 * - `labels` exist from rpc-version 16 (3.00 included), set with `torrent-set`;
 * - after SIGKILL the daemon reloads torrents added since its last save from its `torrents/`
 *   folder but without their resume file, i.e. with the session's default download-dir and as
 *   empty downloads (it checks only a torrent it has never seen); so a duplicate whose
 *   download-dir is not ours is moved back (`torrent-set-location`, move false), and one that is
 *   neither complete nor checking is verified;
 * - a restarted daemon answers RPC before it has loaded its torrents (3.00's daemon starts the RPC
 *   server in `tr_sessionInit`, then saves settings.json, then loads `torrents/*.torrent`). A
 *   `torrent-add` in that gap of a torrent whose .torrent is still in `torrents/` is `torrent-added`,
 *   but the daemon takes it for one it knows (`isNewTorrent` is "no .torrent file yet") and starts
 *   it as an empty download without a check; so an added torrent that is neither complete nor
 *   checking is verified too;
 * - `error` is tr_stat_errtype: 1 tracker warning, 2 tracker error, 3 local error; only 3
 *   stops the torrent from serving.
 */
import type { Config } from '../config/schema.js'
import { readSecret } from '../config/load.js'
import {
  checkEngineTorrent,
  EngineError,
  silentLogger,
  type AddResult,
  type EngineLogger,
  type EngineTorrent,
  type CopyState,
  type ErrorKind,
  type RemoteEngine,
  type RemoteInfo,
  type RemoteTorrentStatus,
} from './engine.js'
import {
  DEFAULT_RETRY,
  displayUrl,
  httpExchange,
  mapPath,
  num,
  retrying,
  splitCredentials,
  statusError,
  stripSlash,
  HEX40_ANY_CASE,
  type RemoteEngineOptions,
  type RemoteSettings,
  type RetryPolicy,
} from './rpc.js'

export type TransmissionConfig = Config['engine']['transmission']

/** The `torrent-get` fields of `list()`, and only those. */
export const LIST_FIELDS = [
  'hashString',
  'name',
  'status',
  'error',
  'errorString',
  'haveValid',
  'totalSize',
  'sizeWhenDone',
  'percentDone',
  'uploadedEver',
  'uploadRatio',
  'rateUpload',
  'peersConnected',
  'isStalled',
  'trackerStats',
] as const

interface AddedTorrent {
  hashString: string
  id: number
  name: string
}

export class TransmissionEngine implements RemoteEngine {
  readonly kind = 'transmission' as const
  private readonly rpc: TransmissionRpc
  private readonly log: EngineLogger
  private readonly labels: readonly string[]
  private readonly pathMap: Readonly<Record<string, string>>
  private session: Promise<{ rpcVersion: number; version: string }> | null = null
  private closed = false

  private readonly tap: NonNullable<RemoteEngineOptions['wireTap']>

  constructor(settings: RemoteSettings, opts: RemoteEngineOptions = {}) {
    this.log = opts.logger ?? silentLogger
    this.tap = opts.wireTap ?? (() => {})
    this.labels = settings.labels
    this.pathMap = settings.pathMap
    const { url, username, password } = splitCredentials(settings.url, settings.username, settings.password)
    this.rpc = new TransmissionRpc(
      url,
      username,
      password,
      settings.timeoutMs,
      {
        ...DEFAULT_RETRY,
        ...opts.retry,
      },
      this.log,
    )
  }

  /** `[engine.transmission]` with its password from AACSEED_TRANSMISSION_PASSWORD or `password_file`. */
  static fromConfig(
    config: TransmissionConfig,
    opts: RemoteEngineOptions & { env?: NodeJS.ProcessEnv } = {},
  ): TransmissionEngine {
    const password = readSecret(
      'AACSEED_TRANSMISSION_PASSWORD',
      config.password_file,
      opts.env,
      // The systemd units' LoadCredential= name.
      'transmission-password',
    )
    return new TransmissionEngine(
      {
        url: config.url,
        username: config.username,
        password: password ?? decodeURIComponent(new URL(config.url).password),
        pathMap: config.path_map,
        labels: config.labels ?? [],
        timeoutMs: config.timeout_ms,
      },
      opts,
    )
  }

  async start(): Promise<void> {
    const s = await this.ensureSession()
    this.log.info(
      { url: this.rpc.display, version: s.version, rpcVersion: s.rpcVersion },
      'transmission: connected',
    )
  }

  async ping(): Promise<void> {
    await this.info()
  }

  async info(): Promise<RemoteInfo> {
    const t0 = performance.now()
    const args = await this.rpc.call('session-get', { fields: ['version', 'rpc-version'] })
    this.tap('info', args)
    const latencyMs = performance.now() - t0
    const version = typeof args.version === 'string' ? args.version : 'unknown'
    const rpcVersion = typeof args['rpc-version'] === 'number' ? args['rpc-version'] : 0
    // A fresh answer is the session for the calls that follow (one session-get per poll).
    if (!this.closed) this.session = Promise.resolve({ rpcVersion, version })
    return { version, apiVersion: rpcVersion ? String(rpcVersion) : '', latencyMs }
  }

  async add(t: EngineTorrent): Promise<AddResult> {
    checkEngineTorrent(this.kind, t)
    const session = await this.ensureSession()
    const dir = mapPath(t.dataDir, this.pathMap)
    const args = (await this.rpc.call('torrent-add', {
      metainfo: t.torrent.toString('base64'),
      'download-dir': dir,
      paused: false,
    })) as { 'torrent-added'?: AddedTorrent; 'torrent-duplicate'?: AddedTorrent }
    const added = args['torrent-added']
    const duplicate = args['torrent-duplicate']
    const found = added ?? duplicate
    if (!found)
      throw new EngineError(
        'engine-rejected',
        `transmission: torrent-add of ${t.name} answered neither torrent-added nor torrent-duplicate`,
      )
    const hash = found.hashString.toLowerCase()
    if (hash !== t.infoHash) {
      if (added) await this.rpc.call('torrent-remove', { ids: [hash], 'delete-local-data': false })
      throw new EngineError(
        'engine-rejected',
        `transmission: the .torrent for ${t.name} has infohash ${hash}, not ${t.infoHash}`,
      )
    }
    const labels = [...new Set([...this.labels, ...(t.labels ?? [])])]
    const canLabel = session.rpcVersion >= 16 && labels.length > 0
    const fields = { infoHash: hash, name: t.name, downloadDir: dir }
    if (added) {
      if (canLabel) await this.rpc.call('torrent-set', { ids: [hash], labels })
      // A new torrent is checked (status 1 or 2 from the moment it is added) unless the daemon
      // took it for one it knew: see the header (a restarted daemon that has not loaded its
      // torrents yet). One torrent-get per add tells which; a torrent whose check already ended
      // short of 100% is checked once more, which costs little (its data is missing or partial).
      if (!t.download) {
        const [now] = await this.getTorrents([hash], ['percentDone', 'status'])
        if (needsCheck(now)) {
          this.log.warn(
            { ...fields, status: now?.status, percentDone: now?.percentDone },
            'transmission: the daemon took the torrent without checking our data; verifying it',
          )
          await this.rpc.call('torrent-verify', { ids: [hash] })
        }
      }
      this.log.debug?.(fields, 'transmission: torrent added')
      return 'added'
    }
    // Already there: make sure it seeds from our data and carries our labels.
    const existing = await this.getTorrents(
      [hash],
      ['downloadDir', 'percentDone', 'status', ...(session.rpcVersion >= 16 ? ['labels'] : [])],
    )
    const current = existing[0] as
      { downloadDir?: string; labels?: string[]; percentDone?: number; status?: number } | undefined
    let verify = t.verify
    // Our data is there, but the daemon does not know it: a daemon killed before its first check
    // was saved resumes the torrent as an empty download, with no peer to finish it. Check again.
    if (!t.download && needsCheck(current)) verify = true
    if (current?.downloadDir !== undefined && stripSlash(current.downloadDir) !== stripSlash(dir)) {
      this.log.warn(
        { ...fields, was: current.downloadDir },
        'transmission: duplicate torrent had another download-dir; moving it back (data untouched)',
      )
      await this.rpc.call('torrent-set-location', { ids: [hash], location: dir, move: false })
      verify = true
    }
    if (canLabel) {
      const have = current?.labels ?? []
      const merged = [...new Set([...have, ...labels])]
      if (merged.length !== have.length) await this.rpc.call('torrent-set', { ids: [hash], labels: merged })
    }
    if (verify) await this.rpc.call('torrent-verify', { ids: [hash] })
    this.log.debug?.({ ...fields, verify }, 'transmission: torrent already present')
    return 'duplicate'
  }

  async remove(infoHash: string, opts: { deleteData?: boolean } = {}): Promise<void> {
    await this.ensureSession()
    await this.rpc.call('torrent-remove', { ids: [infoHash], 'delete-local-data': opts.deleteData === true })
    this.log.debug?.({ infoHash, deleteData: opts.deleteData === true }, 'transmission: torrent removed')
  }

  async resume(infoHash: string, opts: { verify?: boolean } = {}): Promise<void> {
    await this.ensureSession()
    if (opts.verify) await this.rpc.call('torrent-verify', { ids: [infoHash] })
    await this.rpc.call('torrent-start', { ids: [infoHash] })
  }

  async pause(infoHash: string): Promise<void> {
    await this.ensureSession()
    await this.rpc.call('torrent-stop', { ids: [infoHash] })
  }

  async freeSpace(path: string): Promise<number> {
    const args = await this.rpc.call('free-space', { path })
    this.tap('freeSpace', args)
    const size = args['size-bytes']
    if (typeof size !== 'number' || size < 0)
      throw new EngineError(
        'engine-rejected',
        `transmission: free-space of ${path} answered without size-bytes`,
      )
    return size
  }

  async list(): Promise<RemoteTorrentStatus[]> {
    await this.ensureSession()
    const torrents = await this.getTorrents(undefined, LIST_FIELDS)
    this.tap('list', { torrents })
    return torrents.flatMap((raw) => {
      const t = parseTransmissionTorrent(raw)
      return t ? [t] : []
    })
  }

  async close(): Promise<void> {
    this.closed = true
    this.session = null
  }

  private async getTorrents(
    ids: string[] | undefined,
    fields: readonly string[],
  ): Promise<Array<Record<string, unknown>>> {
    const args: Record<string, unknown> = { fields: ['hashString', ...fields] }
    if (ids) args.ids = ids
    const reply = await this.rpc.call('torrent-get', args)
    const torrents = reply.torrents
    if (!Array.isArray(torrents))
      throw new EngineError('engine-rejected', 'transmission: torrent-get answered without a torrents list')
    return torrents as Array<Record<string, unknown>>
  }

  private async ensureSession(): Promise<{ rpcVersion: number; version: string }> {
    if (this.closed) throw new EngineError('engine-closed', 'transmission: the engine is closed')
    this.session ??= this.info()
      .then(() => this.session!)
      .catch((e: unknown) => {
        this.session = null
        throw e
      })
    return await this.session
  }
}

/**
 * A torrent whose data we hold but which the daemon counts as incomplete and is not checking
 * (status 1: waiting to check, 2: checking): nothing but a `torrent-verify` will make it seed.
 */
function needsCheck(t: Record<string, unknown> | undefined): boolean {
  if (typeof t?.percentDone !== 'number' || t.percentDone >= 1) return false
  return t.status !== 1 && t.status !== 2
}

/** Transmission's error kinds (tr_stat_errtype): 1 tracker warning, 2 tracker error, 3 local error. */
export const TR_LOCAL_ERROR = 3

/** Transmission's torrent status numbers (tr_torrent_activity, the same in 2.x, 3.00 and 4.x). */
const KNOWN_STATUS = new Set([0, 1, 2, 3, 4, 5, 6])

/**
 * Transmission's `status`, `percentDone` and `error` in the copy-state vocabulary, for the local
 * engine and the seedboxes alike. Only a local error (3: missing or unreadable data, disk full)
 * makes the state `error`; tracker warnings and errors (1, 2) do not stop seeding to other
 * peers, so they keep the state. Queued to download (3) is `downloading`, queued to seed (5)
 * `seeding`, queued to verify (1) `checking`; a seeding status with unverified pieces (files
 * left out) is still `downloading`.
 */
export function transmissionState(status: number, percentDone: number, error: number): CopyState {
  if (error === TR_LOCAL_ERROR) return 'error'
  switch (status) {
    case 0:
      return 'stopped'
    case 1:
    case 2:
      return 'checking'
    case 3:
    case 4:
      return 'downloading'
    case 5:
    case 6:
      return percentDone >= 1 ? 'seeding' : 'downloading'
    default:
      return 'error'
  }
}

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

/** One `torrent-get` entry, read defensively: a field an older daemon lacks gets its neutral value. */
export function parseTransmissionTorrent(raw: unknown): RemoteTorrentStatus | null {
  if (typeof raw !== 'object' || raw === null) return null
  const t = raw as Record<string, unknown>
  if (typeof t.hashString !== 'string' || !HEX40_ANY_CASE.test(t.hashString)) return null
  const status = num(t.status, -1)
  const errNo = num(t.error)
  const errorString = typeof t.errorString === 'string' ? t.errorString : ''
  const state = transmissionState(status, num(t.percentDone), errNo)
  const errorKind: ErrorKind = errNo === TR_LOCAL_ERROR ? 'local' : errNo !== 0 ? 'tracker' : 'none'
  let error: string | null = null
  if (errorKind === 'local') error = errorString || 'local error'
  else if (errorKind === 'tracker') error = `tracker: ${errorString}`
  else if (!KNOWN_STATUS.has(status)) error = `unknown Transmission status ${status}`
  const totalBytes = num(t.totalSize)
  return {
    infoHash: t.hashString.toLowerCase(),
    name: typeof t.name === 'string' ? t.name : '',
    state,
    bytesPresent: num(t.haveValid),
    totalBytes,
    uploaded: num(t.uploadedEver),
    peers: num(t.peersConnected),
    error,
    progress: num(t.percentDone),
    ratio: Math.max(0, num(t.uploadRatio)),
    rateUpload: num(t.rateUpload),
    stalled: t.isStalled === true,
    errorKind,
    seeders: bestOf(t.trackerStats, 'seederCount'),
    leechers: bestOf(t.trackerStats, 'leecherCount'),
    downloads: bestOf(t.trackerStats, 'downloadCount'),
    native: String(status),
  }
}

/**
 * The RPC transport: the session-id handshake (twice at most), HTTP errors as `EngineError`s,
 * the RPC `result` checked, and transient failures retried with capped backoff.
 */
class TransmissionRpc {
  readonly display: string
  private readonly endpoint: string
  private readonly authorization: string | null
  private sessionId = ''

  constructor(
    url: URL,
    username: string,
    password: string,
    private readonly timeoutMs: number,
    private readonly retry: RetryPolicy,
    private readonly log: EngineLogger,
  ) {
    this.endpoint = url.toString()
    this.display = displayUrl(url)
    this.authorization =
      username || password ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : null
  }

  /** One RPC call; its `arguments` once `result` is `success`. */
  async call(method: string, args: object = {}): Promise<Record<string, unknown>> {
    return await retrying('transmission', method, this.retry, this.log, () => this.once(method, args))
  }

  private async once(method: string, args: object): Promise<Record<string, unknown>> {
    const body = JSON.stringify({ method, arguments: args })
    for (let sessionTries = 0; ; sessionTries++) {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      if (this.sessionId) headers['x-transmission-session-id'] = this.sessionId
      if (this.authorization) headers.authorization = this.authorization
      const res = await httpExchange(
        'transmission',
        this.display,
        this.endpoint,
        { method: 'POST', headers, body },
        this.timeoutMs,
        method,
      )
      if (res.status === 409 && sessionTries < 2) {
        // The session-id handshake: the daemon names the id to send (a new one after a restart).
        this.sessionId = res.headers.get('x-transmission-session-id') ?? ''
        continue
      }
      if (res.status === 403)
        throw statusError(
          'transmission',
          this.display,
          403,
          method,
          "this address is not in the daemon's rpc-whitelist",
        )
      if (res.status === 421)
        throw new EngineError(
          'engine-auth',
          `transmission: ${this.display}: 421 Misdirected Request: the host name is not in the daemon's rpc-host-whitelist`,
        )
      if (res.status !== 200) throw statusError('transmission', this.display, res.status, method)
      let data: unknown
      try {
        data = JSON.parse(res.text)
      } catch {
        throw new EngineError(
          'engine-rejected',
          `transmission: ${this.display}: the answer to ${method} is not JSON; is this a Transmission RPC URL?`,
        )
      }
      const r = data as { result?: unknown; arguments?: unknown } | null
      if (typeof r !== 'object' || r === null || typeof r.result !== 'string')
        throw new EngineError(
          'engine-rejected',
          `transmission: ${method}: the answer is not a Transmission RPC reply`,
        )
      if (r.result !== 'success')
        throw new EngineError('engine-rejected', `transmission: ${method}: ${r.result}`)
      return (typeof r.arguments === 'object' && r.arguments !== null ? r.arguments : {}) as Record<
        string,
        unknown
      >
    }
  }
}
