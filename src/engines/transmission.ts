/**
 * A Transmission daemon over its RPC, through @ctrl/transmission.
 *
 * Its typed methods (`addTorrent`, `setTorrent`, `verifyTorrent`, `removeTorrent`, `getSession`)
 * are used as they are; its one transport method, `request`, is replaced, because in 7.4.0 it
 * (1) retries HTTP 409 (the session-id handshake) without a limit, (2) reads
 * `error.response.status` even when there is no response, so a refused connection or a
 * timeout surfaces as an unrelated TypeError, and (3) never checks the RPC `result`.
 *
 * Speaks the legacy protocol (`{ method, arguments }` → `{ result, arguments }`), which
 * Transmission 2.x, 3.00 and 4.x all answer; 4.1's JSON-RPC 2.0 is not needed.
 *
 * Facts checked against Transmission 3.00 (rpc-version 16):
 * - adding a torrent over existing data verifies it by itself; there is no way to skip that;
 * - `torrent-add` of a torrent already there answers `torrent-duplicate` (success);
 * - `labels` exist from rpc-version 16 (3.00 included), set with `torrent-set`;
 * - after SIGKILL the daemon reloads torrents added since its last save from its `torrents/`
 *   folder but without their resume file, i.e. with the session's default download-dir; so a
 *   duplicate whose download-dir is not ours is moved back (`torrent-set-location`, move false)
 *   and verified.
 */
import { posix } from 'node:path'
import { Transmission } from '@ctrl/transmission'
import type { Config } from '../config/schema.js'
import { readSecret } from '../config/load.js'
import { errorMessage } from '../errors.js'
import { redactUrl } from '../log/index.js'
import { withRetry } from '../retry.js'
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

export type TransmissionConfig = Config['engine']['transmission']

export interface RetryPolicy {
  /** Tries in all, including the first (default 5). */
  attempts: number
  /** Wait before the second try; doubled for each further try (default 250 ms). */
  baseDelayMs: number
  /** Longest wait between tries (default 4 s). */
  maxDelayMs: number
}

export interface TransmissionEngineOptions {
  logger?: EngineLogger
  /** Where AACSEED_TRANSMISSION_PASSWORD is read (default process.env). */
  env?: NodeJS.ProcessEnv
  retry?: Partial<RetryPolicy>
}

/** The fields `list()` asks for, and only those. */
const LIST_FIELDS = [
  'hashString',
  'name',
  'status',
  'percentDone',
  'error',
  'errorString',
  'haveValid',
  'totalSize',
  'uploadedEver',
  'peersConnected',
] as const

interface RawTorrent {
  hashString: string
  name: string
  status: number
  percentDone: number
  error: number
  errorString: string
  /** Bytes of pieces that passed their hash check. */
  haveValid: number
  totalSize: number
  uploadedEver: number
  peersConnected: number
}

interface AddedTorrent {
  hashString: string
  id: number
  name: string
}

interface RpcReply<A> {
  result: string
  arguments: A
}

export class TransmissionEngine implements Engine {
  readonly kind = 'transmission' as const
  private readonly rpc: RpcClient
  private readonly log: EngineLogger
  private readonly labels: string[]
  private session: Promise<{ rpcVersion: number; version: string }> | null = null
  private closed = false

  constructor(
    private readonly config: TransmissionConfig,
    opts: TransmissionEngineOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger
    this.labels = config.labels
    const url = new URL(config.url)
    // Credentials in the URL are moved to the Authorization header: fetch refuses them in a URL,
    // and the URL is shown in messages.
    const username = config.username || decodeURIComponent(url.username)
    const password =
      readSecret(
        'AACSEED_TRANSMISSION_PASSWORD',
        config.password_file,
        opts.env,
        // The systemd units' LoadCredential= name; a seedbox's engine gets an env without it.
        'transmission-password',
      ) ?? decodeURIComponent(url.password)
    url.username = ''
    url.password = ''
    url.search = ''
    url.hash = ''
    const retry: RetryPolicy = { attempts: 5, baseDelayMs: 250, maxDelayMs: 4000, ...opts.retry }
    this.rpc = new RpcClient(url, username, password, config.timeout_ms, retry, this.log)
  }

  async start(): Promise<void> {
    const s = await this.ensureSession()
    this.log.info(
      { url: this.rpc.display, version: s.version, rpcVersion: s.rpcVersion },
      'transmission: connected',
    )
  }

  /** The daemon's version and rpc-version, asked afresh (for `aacseed doctor`). */
  async info(): Promise<{ version: string; apiVersion: string; latencyMs: number }> {
    const t0 = performance.now()
    this.session = null
    const s = await this.ensureSession()
    return { version: s.version, apiVersion: String(s.rpcVersion), latencyMs: performance.now() - t0 }
  }

  async add(t: EngineTorrent): Promise<AddResult> {
    checkEngineTorrent(this.kind, t)
    const session = await this.ensureSession()
    const dir = mapPath(t.dataDir, this.config.path_map)
    const reply = checkResult(
      'torrent-add',
      await this.rpc.addTorrent(t.torrent.toString('base64'), { 'download-dir': dir, paused: false }),
    )
    const args = reply.arguments as { 'torrent-added'?: AddedTorrent; 'torrent-duplicate'?: AddedTorrent }
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
      if (added) await this.rpc.removeTorrent([hash], false)
      throw new EngineError(
        'engine-rejected',
        `transmission: the .torrent for ${t.name} has infohash ${hash}, not ${t.infoHash}`,
      )
    }
    const labels = [...new Set([...this.labels, ...(t.labels ?? [])])]
    const canLabel = session.rpcVersion >= 16 && labels.length > 0
    const fields = { infoHash: hash, name: t.name, downloadDir: dir }
    if (added) {
      if (canLabel) checkResult('torrent-set', await this.rpc.setTorrent([hash], { labels }))
      this.log.info(fields, 'transmission: torrent added')
      return 'added'
    }
    // Already there: make sure it seeds from our data and carries our labels.
    const existing = await this.getTorrents(
      [hash],
      ['downloadDir', ...(session.rpcVersion >= 16 ? ['labels'] : [])],
    )
    const current = existing[0] as { downloadDir?: string; labels?: string[] } | undefined
    let verify = t.verify
    if (current?.downloadDir !== undefined && stripSlash(current.downloadDir) !== stripSlash(dir)) {
      this.log.warn(
        { ...fields, was: current.downloadDir },
        'transmission: duplicate torrent had another download-dir; moving it back (data untouched)',
      )
      checkResult(
        'torrent-set-location',
        await this.rpc.call('torrent-set-location', { ids: [hash], location: dir, move: false }),
      )
      verify = true
    }
    if (canLabel) {
      const have = current?.labels ?? []
      const merged = [...new Set([...have, ...labels])]
      if (merged.length !== have.length)
        checkResult('torrent-set', await this.rpc.setTorrent([hash], { labels: merged }))
    }
    if (verify) checkResult('torrent-verify', await this.rpc.verifyTorrent([hash]))
    this.log.info({ ...fields, verify }, 'transmission: torrent already present')
    return 'duplicate'
  }

  async remove(infoHash: string, _opts?: { deleteData?: false }): Promise<void> {
    await this.ensureSession()
    checkResult('torrent-remove', await this.rpc.removeTorrent([infoHash], false))
    this.log.info({ infoHash }, 'transmission: torrent removed')
  }

  async list(): Promise<EngineTorrentStatus[]> {
    await this.ensureSession()
    const torrents = (await this.getTorrents(undefined, LIST_FIELDS)) as unknown as RawTorrent[]
    return torrents.map(toStatus)
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
    const reply = checkResult('torrent-get', await this.rpc.call('torrent-get', args))
    const torrents = (reply.arguments as { torrents?: unknown }).torrents
    if (!Array.isArray(torrents))
      throw new EngineError('engine-rejected', 'transmission: torrent-get answered without a torrents list')
    return torrents as Array<Record<string, unknown>>
  }

  private async ensureSession(): Promise<{ rpcVersion: number; version: string }> {
    if (this.closed) throw new EngineError('engine-closed', 'transmission: the engine is closed')
    this.session ??= this.rpc
      .getSession()
      .then((reply) => {
        const args = checkResult('session-get', reply).arguments as {
          'rpc-version'?: number
          version?: string
        }
        return { rpcVersion: args['rpc-version'] ?? 0, version: args.version ?? 'unknown' }
      })
      .catch((e: unknown) => {
        this.session = null
        throw e
      })
    return await this.session
  }
}

/** Transmission's error kinds (tr_stat_errtype): 1 tracker warning, 2 tracker error, 3 local error. */
export const TR_LOCAL_ERROR = 3

/** Transmission's torrent status numbers (tr_torrent_activity, the same in 3.00 and 4.x). */
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

function toStatus(t: RawTorrent): EngineTorrentStatus {
  const state = transmissionState(t.status, t.percentDone, t.error)
  let error: string | null = null
  if (t.error !== 0) error = t.error === TR_LOCAL_ERROR ? t.errorString : `tracker: ${t.errorString}`
  else if (!KNOWN_STATUS.has(t.status)) error = `unknown Transmission status ${t.status}`
  return {
    infoHash: t.hashString.toLowerCase(),
    name: t.name,
    state,
    bytesPresent: t.haveValid,
    totalBytes: t.totalSize,
    uploaded: t.uploadedEver,
    peers: t.peersConnected,
    error,
  }
}

/**
 * Maps a local path to the daemon's view of it: the longest `path_map` prefix wins, matched
 * on whole path components (`/srv/rel` does not map `/srv/release`). Unmapped paths pass as they are.
 */
export function mapPath(local: string, pathMap: Readonly<Record<string, string>>): string {
  const path = stripSlash(posix.normalize(local))
  let best: { from: string; to: string } | null = null
  for (const [rawFrom, to] of Object.entries(pathMap)) {
    const from = stripSlash(posix.normalize(rawFrom))
    const matches = from === '/' || path === from || path.startsWith(`${from}/`)
    if (matches && (best === null || from.length > best.from.length)) best = { from, to }
  }
  if (!best) return path
  const rest = best.from === '/' ? path : path.slice(best.from.length)
  return stripSlash(posix.normalize(`${stripSlash(best.to)}/${rest}`))
}

function stripSlash(p: string): string {
  return p.length > 1 && p.endsWith('/') ? p.replace(/\/+$/, '') || '/' : p
}

function checkResult<A = unknown>(method: string, reply: unknown): RpcReply<A> {
  const r = reply as Partial<RpcReply<A>> | null | undefined
  if (typeof r !== 'object' || r === null || typeof r.result !== 'string') {
    throw new EngineError(
      'engine-rejected',
      `transmission: ${method}: the answer is not a Transmission RPC reply`,
    )
  }
  if (r.result !== 'success') throw new EngineError('engine-rejected', `transmission: ${method}: ${r.result}`)
  return { result: r.result, arguments: (r.arguments ?? {}) as A }
}

/** What the base class declares `request` to return (a Promise of a Promise, as 7.4.0 types it). */
declare const baseClient: Transmission
type BaseRequestResult<T> = ReturnType<typeof baseClient.request<T>>

const TRANSIENT_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
])

/**
 * @ctrl/transmission's client with a bounded, typed transport: a session-id refresh is tried
 * twice at most, transient failures (a daemon restarting) are retried with capped exponential
 * backoff, and every failure is an `EngineError` whose message holds no credentials.
 */
export class RpcClient extends Transmission {
  readonly display: string
  private readonly endpoint: string
  private readonly authorization: string | null

  constructor(
    url: URL,
    username: string,
    password: string,
    private readonly timeoutMs: number,
    private readonly retry: RetryPolicy,
    private readonly log: EngineLogger,
  ) {
    super({ baseUrl: url.origin, path: url.pathname, username, password, timeout: timeoutMs })
    this.endpoint = url.toString()
    this.display = redactUrl(this.endpoint)
    this.authorization =
      username || password ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : null
    // The base class keeps the credentials in `config`; they are not needed there any more.
    this.config = { ...this.config, username: '', password: '' }
  }

  /** The base class's methods (`addTorrent`, `getSession`, ...) all come through here. */
  override request<T>(method: string, args: object = {}): BaseRequestResult<T> {
    return this.requestWithRetry<T>(method, args) as unknown as BaseRequestResult<T>
  }

  /** One RPC call; the parsed reply, not yet checked for `result`. */
  async call(method: string, args: object = {}): Promise<unknown> {
    return (await this.requestWithRetry<unknown>(method, args))._data
  }

  private async requestWithRetry<T>(method: string, args: object): Promise<Response & { _data?: T }> {
    return withRetry(() => this.requestOnce<T>(method, args), {
      attempts: this.retry.attempts,
      backoff: { baseMs: this.retry.baseDelayMs, maxMs: this.retry.maxDelayMs },
      retryable: (e) => e instanceof EngineError && e.transient,
      onRetry: (attempt, e, delayMs) =>
        this.log.warn({ method, attempt, delayMs, err: errorMessage(e) }, 'transmission: retrying'),
    })
  }

  private async requestOnce<T>(method: string, args: object): Promise<Response & { _data?: T }> {
    const body = JSON.stringify({ method, arguments: args })
    for (let sessionTries = 0; ; sessionTries++) {
      const headers: Record<string, string> = { 'content-type': 'application/json' }
      const sessionId = this.state.auth?.sessionId
      if (sessionId) headers['x-transmission-session-id'] = sessionId
      if (this.authorization) headers.authorization = this.authorization
      let res: Response
      let text: string
      try {
        res = await fetch(this.endpoint, {
          method: 'POST',
          headers,
          body,
          signal: AbortSignal.timeout(this.timeoutMs),
        })
        text = await res.text()
      } catch (e) {
        throw this.networkError(method, e)
      }
      if (res.status === 409 && sessionTries < 2) {
        // The session-id handshake: the daemon names the id to send (a new one after a restart).
        this.state.auth = { sessionId: res.headers.get('x-transmission-session-id') ?? '' }
        continue
      }
      if (res.status === 401)
        throw new EngineError(
          'engine-auth',
          `transmission: ${this.display}: 401 Unauthorized: wrong username or password`,
        )
      if (res.status === 403)
        throw new EngineError(
          'engine-auth',
          `transmission: ${this.display}: 403 Forbidden: this address is not in the daemon's rpc-whitelist`,
        )
      if (res.status === 421)
        throw new EngineError(
          'engine-auth',
          `transmission: ${this.display}: 421 Misdirected Request: the host name is not in the daemon's rpc-host-whitelist`,
        )
      if (res.status >= 500)
        throw new EngineError(
          'engine-unreachable',
          `transmission: ${this.display}: HTTP ${res.status} for ${method}`,
          { transient: res.status >= 502 },
        )
      if (!res.ok)
        throw new EngineError(
          'engine-rejected',
          `transmission: ${this.display}: HTTP ${res.status} for ${method}`,
        )
      let data: unknown
      try {
        data = JSON.parse(text)
      } catch {
        throw new EngineError(
          'engine-rejected',
          `transmission: ${this.display}: the answer to ${method} is not JSON; is this a Transmission RPC URL?`,
        )
      }
      return Object.assign(res, { _data: data as T })
    }
  }

  private networkError(method: string, e: unknown): EngineError {
    if (e instanceof Error && (e.name === 'TimeoutError' || e.name === 'AbortError')) {
      return new EngineError(
        'engine-timeout',
        `transmission: ${this.display}: no answer to ${method} within ${this.timeoutMs} ms`,
      )
    }
    const code = errnoCode(e)
    const what = code ?? errorMessage(e)
    return new EngineError('engine-unreachable', `transmission: cannot reach ${this.display}: ${what}`, {
      transient: code !== undefined && TRANSIENT_CODES.has(code),
    })
  }
}

/** The errno-like code of a failed fetch: undici puts it on `cause`, or on `cause.errors[]` when several addresses failed. */
function errnoCode(e: unknown): string | undefined {
  const cause = (e as { cause?: unknown } | null)?.cause as
    { code?: unknown; errors?: Array<{ code?: unknown }> } | undefined
  if (typeof cause?.code === 'string') return cause.code
  const inner = cause?.errors?.find((x) => typeof x.code === 'string')?.code
  return typeof inner === 'string' ? inner : undefined
}
