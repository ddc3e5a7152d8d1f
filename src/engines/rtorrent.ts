/**
 * An rTorrent daemon over XML-RPC: straight to its SCGI port (`scgi://host:port`, from
 * `network.scgi.open_port`), or through the HTTP endpoint a web server puts in front of it
 * (`https://host/RPC2`, usually behind ruTorrent's nginx with basic auth).
 *
 * Quirks, checked against rTorrent 0.9.8 (xmlrpc-c, API version 10):
 * - the SCGI port has no authentication at all: only ever open it on 127.0.0.1 or a unix socket
 *   and reach it through an SSH tunnel, or use the web server's authenticated endpoint;
 * - one `d.multicall2("", "main", "d.hash=", ...)` reads every torrent's fields in one call;
 * - `load.raw_start_verbose("", <bytes>, "d.directory.set=...", "d.custom1.set=...")` adds and
 *   starts a torrent in one call: `d.directory` is the folder that CONTAINS the torrent's name
 *   (rTorrent appends the name of a multi-file torrent), and `d.custom1` is where ruTorrent
 *   keeps its label. Loading a torrent already there does nothing and says nothing, so we look
 *   for the infohash first; a call naming an unknown infohash answers a fault;
 * - a torrent whose directory does not exist stays started but inactive, with no message, so a
 *   download first makes the directory (`execute.throw mkdir -p`);
 * - a .torrent without an `announce` URL is refused, silently: the load answers 0 and no torrent
 *   appears (we report that as `engine-rejected`);
 * - its idea of "complete": `d.complete` is 1 once every chunk has passed its hash check, and a
 *   torrent added over existing data stays 0 (0 bytes done) until its check has run, which it
 *   does by itself when the torrent starts; the check cannot be skipped;
 * - stopped (`d.state` 0) and paused (`d.state` 1 but not `d.is_active`) are both `stopped`
 *   here; `d.message` holds a tracker's failure ("Tracker: [...]") or a local one;
 * - rTorrent cannot delete data by itself: a removal with data runs `rm -rf` on the torrent's
 *   path through `execute.throw` (the daemon's own user), and free space comes from `df`
 *   through `execute.capture`; both need `execute` allowed (it is by default).
 */
import { errorMessage } from '../errors.js'
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
  networkError,
  num,
  retrying,
  splitCredentials,
  statusError,
  HEX40_ANY_CASE,
  type RemoteEngineOptions,
  type RemoteSettings,
  type RetryPolicy,
} from './rpc.js'
import { decodeResponse, encodeCall, scgiExchange, XmlRpcFault, type XmlRpcValue } from './xmlrpc.js'

/** The fields of `list()`, in the order `parseRTorrentRow` reads them. */
export const MULTICALL_FIELDS = [
  'd.hash=',
  'd.name=',
  'd.state=',
  'd.is_active=',
  'd.complete=',
  'd.hashing=',
  'd.completed_bytes=',
  'd.size_bytes=',
  'd.up.total=',
  'd.ratio=',
  'd.up.rate=',
  'd.peers_connected=',
  'd.message=',
  'd.is_open=',
] as const

export function rtorrentState(f: {
  state: number
  active: number
  complete: number
  hashing: number
  open: number
  localError: boolean
}): CopyState {
  if (f.hashing !== 0) return 'checking'
  if (f.localError) return 'error'
  if (f.state === 0 || f.active === 0 || f.open === 0) return 'stopped'
  return f.complete === 1 ? 'seeding' : 'downloading'
}

export function parseRTorrentRow(row: unknown): RemoteTorrentStatus | null {
  if (!Array.isArray(row) || row.length < MULTICALL_FIELDS.length) return null
  const [hash, name, state, active, complete, hashing, done, size, up, ratio, rate, peers, message, open] =
    row as unknown[]
  if (typeof hash !== 'string' || !HEX40_ANY_CASE.test(hash)) return null
  const msg = typeof message === 'string' ? message : ''
  const tracker = /^tracker:/i.test(msg)
  const errorKind: ErrorKind = msg === '' ? 'none' : tracker ? 'tracker' : 'local'
  const s = rtorrentState({
    state: num(state),
    active: num(active),
    complete: num(complete),
    hashing: num(hashing),
    open: num(open),
    localError: errorKind === 'local',
  })
  const total = num(size)
  return {
    infoHash: hash.toLowerCase(),
    name: typeof name === 'string' ? name : '',
    state: s,
    bytesPresent: num(done),
    totalBytes: total,
    uploaded: num(up),
    peers: num(peers),
    error: msg || null,
    progress: total > 0 ? num(done) / total : num(complete),
    // rTorrent's ratio is in thousandths.
    ratio: num(ratio) / 1000,
    rateUpload: num(rate),
    stalled: s === 'seeding' && num(rate) === 0,
    errorKind,
    seeders: null,
    leechers: null,
    downloads: null,
    native: `state=${num(state)} active=${num(active)} complete=${num(complete)} hashing=${num(hashing)}`,
  }
}

/** A scalar answer as text ('' for anything else). */
function text(v: XmlRpcValue): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : ''
}

/** An rTorrent command argument: quoted, so commas and spaces in a path stay one argument. */
function quoted(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`
}

export class RTorrentEngine implements RemoteEngine {
  readonly kind = 'rtorrent' as const
  private readonly log: EngineLogger
  private readonly tap: NonNullable<RemoteEngineOptions['wireTap']>
  private readonly url: URL
  private readonly display: string
  private readonly authorization: string | null
  private readonly retry: RetryPolicy
  private closed = false

  constructor(
    private readonly settings: RemoteSettings,
    opts: RemoteEngineOptions = {},
  ) {
    this.log = opts.logger ?? silentLogger
    this.tap = opts.wireTap ?? (() => {})
    const { url, username, password } = splitCredentials(settings.url, settings.username, settings.password)
    this.url = url
    this.display = displayUrl(url)
    this.authorization =
      username || password ? `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` : null
    this.retry = { ...DEFAULT_RETRY, ...opts.retry }
  }

  async start(): Promise<void> {
    const i = await this.info()
    this.log.info({ url: this.display, version: i.version, api: i.apiVersion }, 'rtorrent: connected')
  }

  async ping(): Promise<void> {
    await this.info()
  }

  async info(): Promise<RemoteInfo> {
    const t0 = performance.now()
    const version = await this.call('system.client_version', [])
    const latencyMs = performance.now() - t0
    const api = await this.call('system.api_version', []).catch(() => '')
    this.tap('info', { 'system.client_version': version, 'system.api_version': api })
    return { version: text(version) || 'unknown', apiVersion: text(api), latencyMs }
  }

  async add(t: EngineTorrent): Promise<AddResult> {
    checkEngineTorrent(this.kind, t)
    const dir = mapPath(t.dataDir, this.settings.pathMap)
    if (await this.has(t.infoHash)) {
      this.log.debug?.({ infoHash: t.infoHash, name: t.name }, 'rtorrent: torrent already present')
      return 'duplicate'
    }
    const labels = [...new Set([...this.settings.labels, ...(t.labels ?? [])])]
    const commands = [`d.directory.set=${quoted(dir)}`]
    if (labels.length > 0) commands.push(`d.custom1.set=${quoted(labels.join(','))}`)
    // rTorrent leaves a torrent whose directory does not exist started but inactive, saying nothing.
    if (t.download) await this.call('execute.throw', ['', 'mkdir', '-p', '--', dir])
    await this.call('load.raw_start_verbose', ['', t.torrent, ...commands])
    for (let i = 0; i < 50; i++) {
      if (await this.has(t.infoHash)) {
        this.log.debug?.({ infoHash: t.infoHash, name: t.name, dir }, 'rtorrent: torrent added')
        return 'added'
      }
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new EngineError(
      'engine-rejected',
      `rtorrent: ${this.display}: load.raw_start of ${t.name} left no torrent ${t.infoHash} (a corrupt .torrent, or another infohash)`,
    )
  }

  async list(): Promise<RemoteTorrentStatus[]> {
    const rows = await this.call('d.multicall2', ['', 'main', ...MULTICALL_FIELDS])
    this.tap('list', rows)
    if (!Array.isArray(rows))
      throw new EngineError('engine-rejected', `rtorrent: ${this.display}: d.multicall2 is not a list`)
    return rows.flatMap((r) => {
      const t = parseRTorrentRow(r)
      return t ? [t] : []
    })
  }

  async freeSpace(path: string): Promise<number> {
    const out = await this.call('execute.capture', ['', 'df', '-P', '-k', '--', path])
    this.tap('freeSpace', out)
    const line = text(out).trim().split('\n').at(-1) ?? ''
    const avail = Number(line.split(/\s+/)[3])
    if (!Number.isFinite(avail))
      throw new EngineError(
        'engine-rejected',
        `rtorrent: ${this.display}: cannot read df's answer for ${path}`,
      )
    return avail * 1024
  }

  async resume(infoHash: string, opts: { verify?: boolean } = {}): Promise<void> {
    await this.requireKnown(infoHash)
    if (opts.verify) await this.call('d.check_hash', [infoHash])
    await this.call('d.open', [infoHash])
    await this.call('d.start', [infoHash])
    // "Paused" in ruTorrent's sense: started but not active.
    if (num(await this.call('d.is_active', [infoHash])) === 0) await this.call('d.resume', [infoHash])
  }

  async pause(infoHash: string): Promise<void> {
    await this.requireKnown(infoHash)
    await this.call('d.stop', [infoHash])
  }

  async remove(infoHash: string, opts: { deleteData?: boolean } = {}): Promise<void> {
    if (!(await this.has(infoHash))) return
    let path = ''
    if (opts.deleteData) {
      const multi = num(await this.call('d.is_multi_file', [infoHash]))
      const dir = text(await this.call('d.directory', [infoHash]))
      const name = text(await this.call('d.name', [infoHash]))
      // d.directory of a multi-file torrent already ends in its name.
      path = multi ? dir : `${dir.replace(/\/+$/, '')}/${name}`
    }
    await this.call('d.erase', [infoHash])
    if (opts.deleteData) {
      if (!path.startsWith('/') || path.split('/').filter(Boolean).length < 2)
        throw new EngineError('engine-rejected', `rtorrent: refusing to delete ${JSON.stringify(path)}`)
      await this.call('execute.throw', ['', 'rm', '-rf', '--', path])
    }
    this.log.debug?.({ infoHash, deleteData: opts.deleteData === true }, 'rtorrent: torrent removed')
  }

  async close(): Promise<void> {
    this.closed = true
  }

  private async has(infoHash: string): Promise<boolean> {
    try {
      await this.call('d.hash', [infoHash.toUpperCase()])
      return true
    } catch (e) {
      if (e instanceof EngineError && e.code === 'engine-rejected' && /info-hash|not find/i.test(e.message))
        return false
      throw e
    }
  }

  private async requireKnown(infoHash: string): Promise<void> {
    if (!(await this.has(infoHash)))
      throw new EngineError('engine-rejected', `rtorrent: ${this.display} has no torrent ${infoHash}`)
  }

  private async call(method: string, params: XmlRpcValue[]): Promise<XmlRpcValue> {
    if (this.closed) throw new EngineError('engine-closed', 'rtorrent: the engine is closed')
    // rTorrent knows infohashes in upper case.
    const args = params.map((p) => (typeof p === 'string' && HEX40_ANY_CASE.test(p) ? p.toUpperCase() : p))
    const body = encodeCall(method, args)
    return await retrying('rtorrent', method, this.retry, this.log, async () => {
      let status: number
      let text: string
      if (this.url.protocol === 'scgi:') {
        try {
          const r = await scgiExchange(
            this.url.hostname,
            Number(this.url.port) || 5000,
            body,
            this.settings.timeoutMs,
          )
          status = r.status
          text = r.body
        } catch (e) {
          throw networkError('rtorrent', this.display, method, this.settings.timeoutMs, e)
        }
      } else {
        const headers: Record<string, string> = { 'content-type': 'text/xml' }
        if (this.authorization) headers.authorization = this.authorization
        const r = await httpExchange(
          'rtorrent',
          this.display,
          this.url.toString(),
          { method: 'POST', headers, body },
          this.settings.timeoutMs,
          method,
        )
        status = r.status
        text = r.text
      }
      if (status === 0)
        // The daemon closed the connection without answering: it is going down.
        throw new EngineError('engine-unreachable', `rtorrent: ${this.display}: no answer to ${method}`, {
          transient: true,
        })
      if (status !== 200) throw statusError('rtorrent', this.display, status, method)
      try {
        return decodeResponse(text)
      } catch (e) {
        if (e instanceof XmlRpcFault)
          throw new EngineError(
            'engine-rejected',
            `rtorrent: ${method}: ${e.faultString} (fault ${e.faultCode})`,
          )
        throw new EngineError(
          'engine-rejected',
          `rtorrent: ${this.display}: the answer to ${method} is not XML-RPC: ${errorMessage(e)}`,
        )
      }
    })
  }
}
