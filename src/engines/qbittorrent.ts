/**
 * A qBittorrent daemon (qbittorrent-nox) over its WebUI API v2: a small client of our own (see
 * rpc.ts for why not @ctrl/qbittorrent).
 *
 * Quirks, checked against qBittorrent 4.5.2 (WebAPI 2.8.19):
 * - auth is a cookie: `POST /api/v2/auth/login` answers 200 with the body `Ok.` and a `SID`
 *   cookie, or 200 with `Fails.` for wrong credentials (never 401); once the session expires,
 *   or after a restart, every call answers 403, so a 403 logs in again, once. Too many failed
 *   logins ban the address for a while (also a 403 on the login itself);
 * - the CSRF check: a request whose Origin or Referer names another host is refused with 401, so
 *   both are set to the WebUI's own origin (a reverse proxy in front must pass Host through);
 * - `torrents/add` answers `Ok.` or `Fails.` and nothing else: a duplicate and a corrupt file
 *   both say `Fails.`, so we look for the infohash before and after adding;
 * - 5.0 (WebAPI 2.11) renamed `pause`/`resume` to `stop`/`start`, the `paused` add field to
 *   `stopped`, and the states `pausedUP`/`pausedDL` to `stoppedUP`/`stoppedDL`; we pick by
 *   the WebAPI version and accept both sets of states. A version we do not know is driven as
 *   the newest we do;
 * - free space is known only for the default save path (`server_state.free_space_on_disk` of
 *   `sync/maindata`), and is -1 until the daemon has measured it once;
 * - the label is a tag (`aacseed`), set at add; categories would need creating first.
 */
import {
  checkEngineTorrent,
  EngineError,
  silentLogger,
  type AddResult,
  type EngineLogger,
  type EngineTorrent,
  type CopyState,
  type RemoteEngine,
  type RemoteInfo,
  type RemoteTorrentStatus,
} from './engine.js'
import {
  DEFAULT_RETRY,
  displayUrl,
  HEX40_ANY_CASE,
  httpExchange,
  mapPath,
  num,
  retrying,
  splitCredentials,
  statusError,
  type HttpAnswer,
  type RemoteEngineOptions,
  type RemoteSettings,
  type RetryPolicy,
} from './rpc.js'

/**
 * qBittorrent's torrent states (4.x and 5.x names) in the copy-state vocabulary. Queued and
 * stalled seeds serve (or will, in turn); `missingFiles` is the one client that tells missing
 * data from other local errors.
 */
const STATES: Record<string, CopyState> = {
  error: 'error',
  missingFiles: 'missing',
  uploading: 'seeding',
  stalledUP: 'seeding',
  forcedUP: 'seeding',
  queuedUP: 'seeding',
  pausedUP: 'stopped',
  stoppedUP: 'stopped',
  pausedDL: 'stopped',
  stoppedDL: 'stopped',
  downloading: 'downloading',
  stalledDL: 'downloading',
  forcedDL: 'downloading',
  metaDL: 'downloading',
  forcedMetaDL: 'downloading',
  allocating: 'downloading',
  queuedDL: 'downloading',
  checkingUP: 'checking',
  checkingDL: 'checking',
  checkingResumeData: 'checking',
  moving: 'checking',
}

/** A state we do not know (a newer daemon) is judged by its progress rather than called an error. */
export function qbittorrentState(state: string, progress: number): CopyState {
  const s = STATES[state] ?? (progress >= 1 ? 'seeding' : 'downloading')
  // A seed with unverified pieces is not a complete copy.
  return s === 'seeding' && progress < 1 ? 'downloading' : s
}

export function parseQBittorrentTorrent(raw: unknown): RemoteTorrentStatus | null {
  if (typeof raw !== 'object' || raw === null) return null
  const t = raw as Record<string, unknown>
  if (typeof t.hash !== 'string' || !HEX40_ANY_CASE.test(t.hash)) return null
  const native = typeof t.state === 'string' ? t.state : 'unknown'
  const progress = num(t.progress)
  const state = qbittorrentState(native, progress)
  const size = num(t.size, num(t.total_size))
  const local = native === 'error' || native === 'missingFiles'
  return {
    infoHash: t.hash.toLowerCase(),
    name: typeof t.name === 'string' ? t.name : '',
    state,
    bytesPresent: num(t.completed, Math.round(progress * size)),
    totalBytes: size,
    uploaded: num(t.uploaded),
    peers: num(t.num_seeds) + num(t.num_leechs),
    error: local ? (native === 'missingFiles' ? 'files missing' : 'error') : null,
    progress,
    ratio: Math.max(0, num(t.ratio)),
    rateUpload: num(t.upspeed),
    stalled: native === 'stalledUP' || native === 'stalledDL',
    errorKind: local ? 'local' : 'none',
    // -1: the trackers have not said.
    seeders: num(t.num_complete, -1) >= 0 ? num(t.num_complete) : null,
    leechers: num(t.num_incomplete, -1) >= 0 ? num(t.num_incomplete) : null,
    downloads: null,
    native,
  }
}

export class QBittorrentEngine implements RemoteEngine {
  readonly kind = 'qbittorrent' as const
  private readonly log: EngineLogger
  private readonly tap: NonNullable<RemoteEngineOptions['wireTap']>
  private readonly base: URL
  private readonly display: string
  private readonly username: string
  private readonly password: string
  private readonly retry: RetryPolicy
  private cookie: string | null = null
  private apiVersion: number[] | null = null
  private closed = false

  constructor(
    private readonly settings: RemoteSettings,
    opts: RemoteEngineOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger
    this.tap = opts.wireTap ?? (() => {})
    const { url, username, password } = splitCredentials(settings.url, settings.username, settings.password)
    if (!url.pathname.endsWith('/')) url.pathname += '/'
    this.base = url
    this.display = displayUrl(url)
    this.username = username || 'admin'
    this.password = password
    this.retry = { ...DEFAULT_RETRY, ...opts.retry }
  }

  async start(): Promise<void> {
    const i = await this.info()
    this.log.info({ url: this.display, version: i.version, webapi: i.apiVersion }, 'qbittorrent: connected')
  }

  async ping(): Promise<void> {
    await this.info()
  }

  async info(): Promise<RemoteInfo> {
    const t0 = performance.now()
    const version = (await this.get('app/version')).trim()
    const latencyMs = performance.now() - t0
    const api = (await this.get('app/webapiVersion')).trim()
    this.tap('info', { 'app/version': version, 'app/webapiVersion': api })
    this.apiVersion = api.split('.').map((x) => Number(x) || 0)
    return { version, apiVersion: api, latencyMs }
  }

  async add(t: EngineTorrent): Promise<AddResult> {
    checkEngineTorrent(this.kind, t)
    const savepath = mapPath(t.dataDir, this.settings.pathMap)
    if (await this.has(t.infoHash)) {
      this.log.debug?.({ infoHash: t.infoHash, name: t.name }, 'qbittorrent: torrent already present')
      return 'duplicate'
    }
    const v5 = await this.isV5()
    const form = new FormData()
    form.append(
      'torrents',
      new Blob([t.torrent], { type: 'application/x-bittorrent' }),
      `${t.infoHash}.torrent`,
    )
    form.append('savepath', savepath)
    form.append(v5 ? 'stopped' : 'paused', 'false')
    // Skipping the check is safe only for data that has not changed since it was hashed here.
    form.append('skip_checking', String(!t.verify && t.download !== true))
    form.append('autoTMM', 'false')
    const labels = [...new Set([...this.settings.labels, ...(t.labels ?? [])])]
    if (labels.length > 0) form.append('tags', labels.join(','))
    const answer = (await this.post('torrents/add', form)).trim()
    // `Fails.` is also a duplicate that arrived between our look and the add; the daemon adds asynchronously.
    for (let i = 0; i < 50; i++) {
      if (await this.has(t.infoHash)) {
        this.log.debug?.({ infoHash: t.infoHash, name: t.name, savepath }, 'qbittorrent: torrent added')
        return answer === 'Ok.' ? 'added' : 'duplicate'
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new EngineError(
      'engine-rejected',
      `qbittorrent: ${this.display}: torrents/add of ${t.name} answered ${JSON.stringify(answer)} and no torrent ${t.infoHash} appeared (a corrupt .torrent, or another infohash)`,
    )
  }

  async list(): Promise<RemoteTorrentStatus[]> {
    const text = await this.get('torrents/info')
    const raw = parseJson(text, 'torrents/info', this.display)
    this.tap('list', raw)
    if (!Array.isArray(raw))
      throw new EngineError('engine-rejected', `qbittorrent: ${this.display}: torrents/info is not a list`)
    return raw.flatMap((x: unknown) => {
      const t = parseQBittorrentTorrent(x)
      return t ? [t] : []
    })
  }

  async freeSpace(_path: string): Promise<number> {
    const data = parseJson(await this.get('sync/maindata'), 'sync/maindata', this.display) as {
      server_state?: { free_space_on_disk?: unknown }
    }
    // Only the part we read: the rest of maindata (torrents, categories, tags) is the list's business.
    this.tap('freeSpace', { server_state: data.server_state })
    const free = data.server_state?.free_space_on_disk
    if (typeof free !== 'number' || free < 0)
      throw new EngineError(
        'engine-rejected',
        `qbittorrent: ${this.display}: free space not measured yet (free_space_on_disk ${String(free)})`,
      )
    return free
  }

  async resume(infoHash: string, opts: { verify?: boolean } = {}): Promise<void> {
    if (opts.verify) await this.post('torrents/recheck', form({ hashes: infoHash }))
    await this.post((await this.isV5()) ? 'torrents/start' : 'torrents/resume', form({ hashes: infoHash }))
  }

  async pause(infoHash: string): Promise<void> {
    await this.post((await this.isV5()) ? 'torrents/stop' : 'torrents/pause', form({ hashes: infoHash }))
  }

  async remove(infoHash: string, opts: { deleteData?: boolean } = {}): Promise<void> {
    await this.post(
      'torrents/delete',
      form({ hashes: infoHash, deleteFiles: String(opts.deleteData === true) }),
    )
    this.log.debug?.({ infoHash, deleteData: opts.deleteData === true }, 'qbittorrent: torrent removed')
  }

  async close(): Promise<void> {
    this.closed = true
    if (this.cookie) await this.request('auth/logout', 'POST', form({}), false).catch(() => {})
    this.cookie = null
  }

  private async has(infoHash: string): Promise<boolean> {
    const raw = parseJson(await this.get(`torrents/info?hashes=${infoHash}`), 'torrents/info', this.display)
    return Array.isArray(raw) && raw.length > 0
  }

  private async isV5(): Promise<boolean> {
    if (!this.apiVersion) await this.info()
    const [major = 0, minor = 0] = this.apiVersion ?? []
    return major > 2 || (major === 2 && minor >= 11)
  }

  private async get(path: string): Promise<string> {
    return await this.request(path, 'GET', undefined, true)
  }

  private async post(path: string, body: FormData | URLSearchParams): Promise<string> {
    return await this.request(path, 'POST', body, true)
  }

  private async request(
    path: string,
    method: 'GET' | 'POST',
    body: FormData | URLSearchParams | undefined,
    relogin: boolean,
  ): Promise<string> {
    if (this.closed && relogin) throw new EngineError('engine-closed', 'qbittorrent: the engine is closed')
    return await retrying('qbittorrent', path, this.retry, this.log, async () => {
      if (this.cookie === null && relogin) await this.login()
      let res = await this.send(path, method, body)
      if (res.status === 403 && relogin) {
        // The session expired, or the daemon restarted: log in again, once.
        this.cookie = null
        await this.login()
        res = await this.send(path, method, body)
      }
      if (res.status === 403)
        throw statusError('qbittorrent', this.display, 403, path, 'not logged in, or this address is banned')
      if (res.status === 401)
        throw statusError(
          'qbittorrent',
          this.display,
          401,
          path,
          'the WebUI refused the Origin/Referer (a proxy changing Host?)',
        )
      if (res.status === 415)
        throw new EngineError(
          'engine-rejected',
          `qbittorrent: ${this.display}: ${path}: not a valid .torrent`,
        )
      if (res.status !== 200) throw statusError('qbittorrent', this.display, res.status, path)
      return res.text
    })
  }

  private async login(): Promise<void> {
    const res = await this.send(
      'auth/login',
      'POST',
      new URLSearchParams({ username: this.username, password: this.password }),
    )
    if (res.status === 403)
      throw new EngineError(
        'engine-auth',
        `qbittorrent: ${this.display}: login refused (403): this address is banned after too many failed logins`,
      )
    if (res.status !== 200) throw statusError('qbittorrent', this.display, res.status, 'auth/login')
    const sid = /(?:^|[;,]\s*)(SID|QBT_SID_\d+)=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')
    if (res.text.trim() !== 'Ok.' || !sid)
      throw new EngineError(
        'engine-auth',
        `qbittorrent: ${this.display}: login failed for user ${JSON.stringify(this.username)}: wrong username or password`,
      )
    this.cookie = `${sid[1]}=${sid[2]}`
  }

  private async send(
    path: string,
    method: 'GET' | 'POST',
    body: FormData | URLSearchParams | undefined,
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { referer: this.base.toString(), origin: this.base.origin }
    if (this.cookie) headers.cookie = this.cookie
    return await httpExchange(
      'qbittorrent',
      this.display,
      new URL(`api/v2/${path}`, this.base).toString(),
      { method, headers, ...(body ? { body } : {}) },
      this.settings.timeoutMs,
      path,
    )
  }
}

function form(fields: Record<string, string>): URLSearchParams {
  return new URLSearchParams(fields)
}

function parseJson(text: string, what: string, display: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new EngineError(
      'engine-rejected',
      `qbittorrent: ${display}: the answer to ${what} is not JSON; is this a qBittorrent WebUI URL?`,
    )
  }
}
