/**
 * A Deluge daemon through deluge-web's JSON-RPC (`POST .../json`): a small client of our own
 * (see rpc.ts for why not @ctrl/deluge).
 *
 * Quirks, checked against Deluge 2.0.3:
 * - two processes: deluge-web holds the session, deluged holds the torrents. `auth.login` takes
 *   the web password only (no user) and sets a `_session_id` cookie; then `web.connected` says
 *   whether the web UI is attached to a daemon. If not, we pick one from `web.get_hosts`: the
 *   configured `daemon` (`host:port`), else the only one listed, and `web.connect` to it. The
 *   web UI forgets that connection when it restarts, and a restarted daemon is reconnected the
 *   same way;
 * - the session expires (`session_timeout`, an hour by default) and then every call answers
 *   the error code 1 "Not authenticated": we log in again, once;
 * - a call to a core method while no daemon is attached answers error code 2 "Unknown method";
 * - adding a torrent already in the session raises "Torrent already in session", so we look
 *   for the infohash first; just after a restart, while deluged re-adds its saved torrents, the
 *   same add raises "Torrent already being added": both mean a duplicate. `seed_mode` skips the
 *   hash check (only for data known unchanged);
 * - deluged saves its torrents' state (paused or not) from its own `state`, which for a new
 *   torrent still says `Paused` until libtorrent's resumed alert arrives; killed (SIGKILL) in
 *   that moment, it brings the torrent back paused at 0%, and a duplicate add leaves it so. A
 *   duplicate that is paused and incomplete, whose data we hold, is started (`resume_torrent`);
 * - the label is the Label plugin's (`label.add`, `label.set_torrent`; lowercase only). If the
 *   plugin cannot be enabled, torrents go unlabelled and we say so once;
 * - Debian's 2.0.3 on libtorrent 2.0 fails in its tracker_error_alert handler (a Python binding
 *   mismatch) and its logging then fails too (`Logging.findCaller()` on Python 3.11): a torrent
 *   whose tracker errors can leave deluged or deluge-web no longer answering. We see that as
 *   `engine-timeout`, and the fleet as a seedbox that is failing; upgrade Deluge where possible;
 * - `progress` is a percentage; `state` is a word (`Seeding`, `Paused`, `Queued`, ...); a
 *   tracker's trouble is in `tracker_status` ("Error: ...") while `message` carries a local one.
 */
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
  type RemoteEngineOptions,
  type RemoteSettings,
  type RetryPolicy,
} from './rpc.js'

export const DELUGE_FIELDS = [
  'name',
  'state',
  'progress',
  'total_done',
  'total_wanted',
  'total_uploaded',
  'ratio',
  'upload_payload_rate',
  'num_peers',
  'num_seeds',
  'total_seeds',
  'total_peers',
  'message',
  'tracker_status',
  'is_finished',
] as const

/** Deluge's state words in the copy-state vocabulary; `Queued` is judged by progress. */
const STATES: Record<string, CopyState> = {
  Seeding: 'seeding',
  Downloading: 'downloading',
  Allocating: 'downloading',
  Paused: 'stopped',
  Checking: 'checking',
  Moving: 'checking',
  Error: 'error',
}

export function delugeState(state: string, progress: number): CopyState {
  const s = STATES[state] ?? (progress >= 1 ? 'seeding' : 'downloading')
  return s === 'seeding' && progress < 1 ? 'downloading' : s
}

export function parseDelugeTorrent(hash: string, raw: unknown): RemoteTorrentStatus | null {
  if (typeof raw !== 'object' || raw === null || !/^[0-9a-fA-F]{40}$/.test(hash)) return null
  const t = raw as Record<string, unknown>
  const native = typeof t.state === 'string' ? t.state : 'unknown'
  const progress = num(t.progress) / 100
  const state = delugeState(native, progress)
  const tracker = typeof t.tracker_status === 'string' ? t.tracker_status : ''
  const message = typeof t.message === 'string' ? t.message : ''
  const errorKind: ErrorKind = native === 'Error' ? 'local' : tracker.startsWith('Error') ? 'tracker' : 'none'
  const seeds = num(t.total_seeds, -1)
  const peers = num(t.total_peers, -1)
  return {
    infoHash: hash.toLowerCase(),
    name: typeof t.name === 'string' ? t.name : '',
    state,
    bytesPresent: num(t.total_done),
    totalBytes: num(t.total_wanted),
    uploaded: num(t.total_uploaded),
    peers: num(t.num_peers) + num(t.num_seeds),
    error:
      errorKind === 'local' ? message || 'error' : errorKind === 'tracker' ? `tracker: ${tracker}` : null,
    progress,
    // Deluge says -1 for "infinite" (uploaded with nothing downloaded).
    ratio: Math.max(0, num(t.ratio)),
    rateUpload: num(t.upload_payload_rate),
    stalled: state === 'seeding' && num(t.upload_payload_rate) === 0,
    errorKind,
    seeders: seeds >= 0 ? seeds : null,
    leechers: peers >= 0 ? peers : null,
    downloads: null,
    native,
  }
}

/** deluge-web's error code 1: our session is unknown to it (expired, or deluge-web restarted). */
class SessionExpired extends Error {
  constructor() {
    super('deluge: deluge-web does not know our session (it expired, or deluge-web restarted)')
  }
}

interface JsonReply {
  result: unknown
  error: { message?: string; code?: number } | null
}

export class DelugeEngine implements RemoteEngine {
  readonly kind = 'deluge' as const
  private readonly log: EngineLogger
  private readonly tap: NonNullable<RemoteEngineOptions['wireTap']>
  private readonly endpoint: string
  private readonly display: string
  private readonly password: string
  private readonly retry: RetryPolicy
  private cookie: string | null = null
  private attached = false
  private labelPlugin: Promise<boolean> | null = null
  private nextId = 1
  private closed = false

  constructor(
    private readonly settings: RemoteSettings,
    opts: RemoteEngineOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger
    this.tap = opts.wireTap ?? (() => {})
    const { url, password } = splitCredentials(settings.url, settings.username, settings.password)
    this.endpoint = url.toString()
    this.display = displayUrl(url)
    this.password = password
    this.retry = { ...DEFAULT_RETRY, ...opts.retry }
  }

  async start(): Promise<void> {
    const i = await this.info()
    this.log.info({ url: this.display, version: i.version }, 'deluge: connected')
  }

  async ping(): Promise<void> {
    await this.info()
  }

  async info(): Promise<RemoteInfo> {
    const t0 = performance.now()
    const version = await this.core('daemon.get_version', [])
    this.tap('info', version)
    return {
      version: typeof version === 'string' ? version : 'unknown',
      apiVersion: '',
      latencyMs: performance.now() - t0,
    }
  }

  async add(t: EngineTorrent): Promise<AddResult> {
    checkEngineTorrent(this.kind, t)
    const dir = mapPath(t.dataDir, this.settings.pathMap)
    let result: AddResult = 'added'
    const known = await this.statusOf(t.infoHash, ['state', 'progress'])
    if (known) {
      result = 'duplicate'
      // Our data is there, but a deluged killed just after the add brought the torrent back paused
      // and empty (see the header): start it; with no resume data, libtorrent checks the files first.
      if (!t.download && known.state === 'Paused' && num(known.progress) < 100) {
        this.log.warn(
          { infoHash: t.infoHash, name: t.name, progress: num(known.progress) },
          'deluge: duplicate torrent was paused and incomplete; starting it',
        )
        await this.core('core.resume_torrent', [[t.infoHash]])
      }
    } else {
      try {
        const id = await this.core('core.add_torrent_file', [
          `${t.infoHash}.torrent`,
          t.torrent.toString('base64'),
          {
            download_location: dir,
            add_paused: false,
            // Skipping the check is safe only for data that has not changed since it was hashed here.
            seed_mode: !t.verify && t.download !== true,
          },
        ])
        if (typeof id === 'string' && id.toLowerCase() !== t.infoHash) {
          await this.core('core.remove_torrent', [id, false])
          throw new EngineError(
            'engine-rejected',
            `deluge: the .torrent for ${t.name} has infohash ${id.toLowerCase()}, not ${t.infoHash}`,
          )
        }
      } catch (e) {
        // "being added": after a restart deluged is still re-adding it from its saved state; it will be
        // in the session, as a duplicate would.
        if (!(e instanceof EngineError && /already (in session|being added)/i.test(e.message))) throw e
        result = 'duplicate'
      }
    }
    await this.label(t.infoHash, [...this.settings.labels, ...(t.labels ?? [])])
    this.log.debug?.({ infoHash: t.infoHash, name: t.name, dir }, `deluge: torrent ${result}`)
    return result
  }

  async list(): Promise<RemoteTorrentStatus[]> {
    const all = await this.core('core.get_torrents_status', [{}, DELUGE_FIELDS])
    this.tap('list', all)
    if (typeof all !== 'object' || all === null)
      throw new EngineError('engine-rejected', `deluge: ${this.display}: get_torrents_status is not a map`)
    return Object.entries(all).flatMap(([hash, raw]) => {
      const t = parseDelugeTorrent(hash, raw)
      return t ? [t] : []
    })
  }

  async freeSpace(path: string): Promise<number> {
    const free = await this.core('core.get_free_space', [path])
    this.tap('freeSpace', free)
    if (typeof free !== 'number' || free < 0)
      throw new EngineError(
        'engine-rejected',
        `deluge: ${this.display}: cannot tell the free space of ${path}`,
      )
    return free
  }

  async resume(infoHash: string, opts: { verify?: boolean } = {}): Promise<void> {
    await this.requireKnown(infoHash)
    if (opts.verify) await this.core('core.force_recheck', [[infoHash]])
    await this.core('core.resume_torrent', [[infoHash]])
  }

  async pause(infoHash: string): Promise<void> {
    await this.requireKnown(infoHash)
    await this.core('core.pause_torrent', [[infoHash]])
  }

  async remove(infoHash: string, opts: { deleteData?: boolean } = {}): Promise<void> {
    if (!(await this.has(infoHash))) return
    await this.core('core.remove_torrent', [infoHash, opts.deleteData === true])
    this.log.debug?.({ infoHash, deleteData: opts.deleteData === true }, 'deluge: torrent removed')
  }

  async close(): Promise<void> {
    this.closed = true
    this.cookie = null
  }

  private async has(infoHash: string): Promise<boolean> {
    return (await this.statusOf(infoHash, ['name'])) !== null
  }

  /** The torrent's status fields, or null when deluged does not have it. */
  private async statusOf(infoHash: string, fields: string[]): Promise<Record<string, unknown> | null> {
    const s = await this.core('core.get_torrent_status', [infoHash, fields])
    return typeof s === 'object' && s !== null && Object.keys(s).length > 0
      ? (s as Record<string, unknown>)
      : null
  }

  private async requireKnown(infoHash: string): Promise<void> {
    if (!(await this.has(infoHash)))
      throw new EngineError('engine-rejected', `deluge: ${this.display} has no torrent ${infoHash}`)
  }

  /** Sets the Label plugin's label; without the plugin, says so once and goes on. */
  private async label(infoHash: string, labels: string[], again = false): Promise<void> {
    const label = labels[0]?.toLowerCase()
    if (!label) return
    this.labelPlugin ??= (async () => {
      try {
        await this.core('core.enable_plugin', ['Label'])
        const have = await this.core('label.get_labels', [])
        if (!Array.isArray(have) || !have.includes(label)) await this.core('label.add', [label])
        return true
      } catch (e) {
        this.log.warn(
          { err: (e as Error).message },
          'deluge: the Label plugin is not available; torrents go unlabelled',
        )
        return false
      }
    })()
    if (!(await this.labelPlugin)) return
    try {
      await this.core('label.set_torrent', [infoHash, label])
    } catch (e) {
      // A daemon killed before it saved its config comes back without the plugin: enable it again, once.
      if (again || !(e instanceof EngineError && /unknown method/i.test(e.message))) throw e
      this.labelPlugin = null
      return await this.label(infoHash, labels, true)
    }
  }

  /** A call that needs the daemon: logs in and attaches deluge-web to the daemon first. */
  private async core(method: string, params: unknown[]): Promise<unknown> {
    if (this.closed) throw new EngineError('engine-closed', 'deluge: the engine is closed')
    return await retrying('deluge', method, this.retry, this.log, async () => {
      // Up to two recoveries: a restarted deluge-web may first lack its daemon (code 2), then our session
      // (code 1).
      for (let again = 0; ; again++) {
        if (this.cookie === null) await this.login()
        if (!this.attached) {
          try {
            await this.attach()
          } catch (e) {
            // A restarted deluge-web does not know our session.
            if (!(e instanceof SessionExpired) || again >= 2) throw e
            this.cookie = null
            continue
          }
        }
        const r = await this.send(method, params)
        if (r.error === null) return r.result
        // 1: the session expired; 2: the web UI lost its daemon (a restart of either).
        if (again < 2 && r.error.code === 1) {
          this.cookie = null
          this.attached = false
          continue
        }
        if (again < 2 && r.error.code === 2) {
          this.attached = false
          continue
        }
        throw new EngineError('engine-rejected', `deluge: ${method}: ${r.error.message ?? 'error'}`)
      }
    })
  }

  private async login(): Promise<void> {
    const r = await this.send('auth.login', [this.password])
    if (r.error !== null || r.result !== true || this.cookie === null)
      throw new EngineError('engine-auth', `deluge: ${this.display}: login failed: wrong web UI password`)
  }

  private async attach(): Promise<void> {
    const connected = await this.send('web.connected', [])
    if (connected.result === true && !this.settings.daemon) {
      this.attached = true
      return
    }
    if (connected.error?.code === 1) throw new SessionExpired()
    const reply = await this.send('web.get_hosts', [])
    if (reply.error?.code === 1) throw new SessionExpired()
    if (reply.error !== null)
      throw new EngineError('engine-rejected', `deluge: web.get_hosts: ${reply.error.message ?? 'error'}`)
    const hosts = reply.result
    const list = Array.isArray(hosts) ? (hosts as unknown[][]) : []
    const want = this.settings.daemon
    const pick = want
      ? list.find((h) => `${String(h[1])}:${String(h[2])}` === want)
      : list.length === 1
        ? list[0]
        : undefined
    if (!pick) {
      throw new EngineError(
        'engine-unreachable',
        want
          ? `deluge: ${this.display}: deluge-web has no daemon ${want} in its host list`
          : `deluge: ${this.display}: deluge-web is connected to no daemon and lists ${list.length}; set daemon = "host:port"`,
      )
    }
    if (connected.result === true) {
      // Connected, but perhaps to another daemon than the configured one.
      const status = (await this.send('web.get_host_status', [pick[0]])).result
      if (Array.isArray(status) && status[1] === 'Connected') {
        this.attached = true
        return
      }
    }
    const r = await this.send('web.connect', [pick[0]])
    if (r.error !== null)
      throw new EngineError(
        'engine-unreachable',
        `deluge: web.connect to ${String(pick[1])}:${String(pick[2])}: ${r.error.message ?? ''}`,
        {
          transient: true,
        },
      )
    const ok = await this.send('web.connected', [])
    if (ok.result !== true)
      throw new EngineError(
        'engine-unreachable',
        `deluge: ${this.display}: deluge-web could not connect to its daemon ${String(pick[1])}:${String(pick[2])}`,
        { transient: true },
      )
    this.attached = true
  }

  private async send(method: string, params: unknown[]): Promise<JsonReply> {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (this.cookie) headers.cookie = this.cookie
    const res = await httpExchange(
      'deluge',
      this.display,
      this.endpoint,
      { method: 'POST', headers, body: JSON.stringify({ method, params, id: this.nextId++ }) },
      this.settings.timeoutMs,
      method,
    )
    if (res.status !== 200) throw statusError('deluge', this.display, res.status, method)
    const sid = /_session_id=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')
    if (sid) this.cookie = `_session_id=${sid[1]}`
    let data: unknown
    try {
      data = JSON.parse(res.text)
    } catch {
      throw new EngineError(
        'engine-rejected',
        `deluge: ${this.display}: the answer to ${method} is not JSON; is this deluge-web's /json URL?`,
      )
    }
    const r = data as Partial<JsonReply> | null
    if (typeof r !== 'object' || r === null || !('result' in r))
      throw new EngineError('engine-rejected', `deluge: ${this.display}: ${method}: not a JSON-RPC reply`)
    return { result: r.result, error: r.error ?? null }
  }
}
