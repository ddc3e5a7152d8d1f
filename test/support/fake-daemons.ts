/**
 * FAKE qBittorrent, Deluge and rTorrent daemons, beside the FAKE Transmission
 * (fake-transmission.ts): local servers on 127.0.0.1 answering the calls of aacseed's health poll
 * (version, every torrent in one call, free space) in each kind's real wire format — qBittorrent's
 * WebUI API v2 with its SID cookie, deluge-web's JSON-RPC with its session cookie, rTorrent's
 * XML-RPC over SCGI. For the fleet benchmark's mixed fleet of 50 simulated seedboxes; never used
 * by production code. They move no data and answer no other call (an add or a removal is an
 * error). Their answers are held to the shape the contract suite recorded from the real daemons
 * (test/fixtures/wire/<kind>.json) by test/engines/wire-shapes.test.ts.
 *
 * `fakeSeedbox(kind)` gives one of the four behind one small interface.
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net'
import type { RemoteKind } from '../../src/engines/index.js'
import { encodeResponse, type XmlRpcValue } from '../../src/engines/xmlrpc.js'
import { FakeTransmission } from './fake-transmission.js'

/** One torrent on a fake seedbox, in kind-neutral terms; each fake renders it in its own format. */
export interface FakeCopy {
  hash: string
  name: string
  size: number
  /** 0..1 */
  progress: number
  state: 'seeding' | 'downloading' | 'stopped'
  uploaded: number
  rateUpload: number
  peers: number
  seeders: number
  leechers: number
  downloads: number
  savePath: string
}

export interface FakeSeedbox {
  readonly kind: RemoteKind
  /** The RPC URL, after listen(). */
  readonly url: string
  readonly username: string
  readonly password: string
  put(c: Partial<FakeCopy> & { hash: string }): void
  /** Changes one copy in place (a steady-state poll sees some copies change). */
  touch(hash: string, change: Partial<FakeCopy>): void
  listen(): Promise<string>
  close(): Promise<void>
}

function fullCopy(c: Partial<FakeCopy> & { hash: string }): FakeCopy {
  return {
    name: `torrent-${c.hash.slice(0, 8)}`,
    size: 1_000_000,
    progress: 1,
    state: 'seeding',
    uploaded: 0,
    rateUpload: 0,
    peers: 0,
    seeders: 0,
    leechers: 0,
    downloads: 0,
    savePath: '/downloads',
    ...c,
  }
}

abstract class FakeHttp {
  readonly copies = new Map<string, FakeCopy>()
  protected server: Server | null = null
  url = ''

  constructor(readonly freeBytes: number) {}

  put(c: Partial<FakeCopy> & { hash: string }): void {
    this.copies.set(c.hash, fullCopy(c))
  }

  touch(hash: string, change: Partial<FakeCopy>): void {
    Object.assign(this.copies.get(hash)!, change)
  }

  protected abstract path: string
  protected abstract handle(req: IncomingMessage, body: string, res: ServerResponse): void

  async listen(): Promise<string> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = []
      req.on('data', (c: Buffer) => chunks.push(c))
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res))
    })
    this.server.keepAliveTimeout = 60_000
    await new Promise<void>((res) => this.server!.listen(0, '127.0.0.1', res))
    this.url = `http://127.0.0.1:${(this.server.address() as { port: number }).port}${this.path}`
    return this.url
  }

  async close(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>((res) => s.close(() => res()))
  }

  protected send(
    res: ServerResponse,
    status: number,
    body: string,
    type: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), ...headers })
    res.end(body)
  }
}

/**
 * qBittorrent 4.5.2 (WebAPI 2.8.19): `auth/login` sets `SID`, every other call without it is a 403;
 * `torrents/info` and `sync/maindata` answer with 4.5.2's keys.
 */
export class FakeQBittorrent extends FakeHttp implements FakeSeedbox {
  readonly kind = 'qbittorrent' as const
  readonly username = 'admin'
  readonly password = 'fake-qbt-pw'
  protected path = '/'
  private readonly sid = randomBytes(16).toString('hex')

  protected handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://x')
    const text = (s: string, headers: Record<string, string> = {}) =>
      this.send(res, 200, s, 'text/plain; charset=UTF-8', headers)
    if (url.pathname === '/api/v2/auth/login') {
      const form = new URLSearchParams(body)
      if (form.get('username') !== this.username || form.get('password') !== this.password)
        return text('Fails.')
      return text('Ok.', { 'set-cookie': `SID=${this.sid}; HttpOnly; path=/; SameSite=Strict` })
    }
    if (req.headers.cookie !== `SID=${this.sid}`) return this.send(res, 403, 'Forbidden', 'text/plain')
    const json = (v: unknown) => this.send(res, 200, JSON.stringify(v), 'application/json')
    switch (url.pathname) {
      case '/api/v2/app/version':
        return text('v4.5.2')
      case '/api/v2/app/webapiVersion':
        return text('2.8.19')
      case '/api/v2/auth/logout':
        return text('')
      case '/api/v2/torrents/info': {
        const only = url.searchParams.get('hashes')?.split('|')
        const list = only
          ? only.flatMap((h) => (this.copies.has(h) ? [this.copies.get(h)!] : []))
          : [...this.copies.values()]
        return json(list.map(qbtTorrent))
      }
      case '/api/v2/sync/maindata':
        return json({
          full_update: true,
          rid: 1,
          server_state: {
            alltime_dl: 0,
            alltime_ul: 0,
            average_time_queue: 0,
            connection_status: 'connected',
            dht_nodes: 0,
            dl_info_data: 0,
            dl_info_speed: 0,
            dl_rate_limit: 0,
            free_space_on_disk: this.freeBytes,
            global_ratio: '0.00',
            queued_io_jobs: 0,
            queueing: false,
            read_cache_hits: '0',
            read_cache_overload: '0',
            refresh_interval: 1500,
            total_buffers_size: 0,
            total_peer_connections: 0,
            total_queued_size: 0,
            total_wasted_session: 0,
            up_info_data: 0,
            up_info_speed: 0,
            up_rate_limit: 0,
            use_alt_speed_limits: false,
            write_cache_overload: '0',
          },
          // The real answer also lists every torrent, its categories and tags: its size grows with them.
          torrents: Object.fromEntries([...this.copies.values()].map((c) => [c.hash, qbtTorrent(c)])),
        })
      default:
        return this.send(res, 404, 'Not Found', 'text/plain')
    }
  }
}

function qbtTorrent(c: FakeCopy): Record<string, unknown> {
  const state =
    c.state === 'seeding'
      ? c.rateUpload > 0
        ? 'uploading'
        : 'stalledUP'
      : c.state === 'stopped'
        ? c.progress >= 1
          ? 'pausedUP'
          : 'pausedDL'
        : 'downloading'
  const done = Math.round(c.size * c.progress)
  return {
    added_on: 1796418661,
    amount_left: c.size - done,
    auto_tmm: false,
    availability: -1,
    category: '',
    completed: done,
    completion_on: c.progress >= 1 ? 1796418662 : 0,
    content_path: `${c.savePath}/${c.name}`,
    dl_limit: 0,
    dlspeed: 0,
    download_path: '',
    downloaded: 0,
    downloaded_session: 0,
    eta: 8640000,
    f_l_piece_prio: false,
    force_start: false,
    hash: c.hash,
    infohash_v1: c.hash,
    infohash_v2: '',
    last_activity: 1796418661,
    magnet_uri: `magnet:?xt=urn:btih:${c.hash}&dn=${encodeURIComponent(c.name)}`,
    max_ratio: -1,
    max_seeding_time: -1,
    name: c.name,
    num_complete: c.seeders,
    num_incomplete: c.leechers,
    num_leechs: 0,
    num_seeds: c.peers,
    priority: 0,
    progress: c.progress,
    ratio: done > 0 ? c.uploaded / done : 0,
    ratio_limit: -2,
    save_path: c.savePath,
    seeding_time: 1,
    seeding_time_limit: -2,
    seen_complete: 0,
    seq_dl: false,
    size: c.size,
    state,
    super_seeding: false,
    tags: 'aacseed',
    time_active: 0,
    total_size: c.size,
    tracker: '',
    trackers_count: 1,
    up_limit: 0,
    uploaded: c.uploaded,
    uploaded_session: c.uploaded,
    upspeed: c.rateUpload,
  }
}

/**
 * deluge-web 2.0.3's JSON-RPC at `/json`: `auth.login` sets `_session_id`; without it a call answers
 * error code 1. `web.connected` is true (one daemon, attached); `core.get_torrents_status` answers
 * the fields asked for, keyed by infohash.
 */
export class FakeDeluge extends FakeHttp implements FakeSeedbox {
  readonly kind = 'deluge' as const
  readonly username = ''
  readonly password = 'fake-deluge-pw'
  protected path = '/json'
  private readonly session = randomBytes(16).toString('hex')

  protected handle(req: IncomingMessage, body: string, res: ServerResponse): void {
    let call: { method?: string; params?: unknown[]; id?: number }
    try {
      call = JSON.parse(body) as typeof call
    } catch {
      return this.send(res, 400, 'bad json', 'text/plain')
    }
    const reply = (result: unknown, error: { message: string; code: number } | null = null, headers = {}) =>
      this.send(res, 200, JSON.stringify({ result, error, id: call.id ?? null }), 'application/json', headers)
    if (call.method === 'auth.login') {
      if (call.params?.[0] !== this.password) return reply(false)
      return reply(true, null, { 'set-cookie': `_session_id=${this.session}; Path=/json` })
    }
    if (req.headers.cookie !== `_session_id=${this.session}`)
      return reply(null, { message: 'Not authenticated', code: 1 })
    switch (call.method ?? '') {
      case 'web.connected':
        return reply(true)
      case 'daemon.get_version':
        return reply('2.0.3')
      case 'core.get_free_space':
        return reply(this.freeBytes)
      case 'core.get_torrents_status': {
        const fields = (call.params?.[1] as string[] | undefined) ?? []
        const out: Record<string, Record<string, unknown>> = {}
        for (const c of this.copies.values()) {
          const all = delugeTorrent(c)
          out[c.hash] = Object.fromEntries(fields.map((f) => [f, all[f]]))
        }
        return reply(out)
      }
      default:
        return reply(null, { message: `Unknown method`, code: 2 })
    }
  }
}

function delugeTorrent(c: FakeCopy): Record<string, unknown> {
  const done = Math.round(c.size * c.progress)
  return {
    name: c.name,
    state: c.state === 'seeding' ? 'Seeding' : c.state === 'stopped' ? 'Paused' : 'Downloading',
    progress: c.progress * 100,
    total_done: done,
    total_wanted: c.size,
    total_uploaded: c.uploaded,
    ratio: done > 0 ? c.uploaded / done : 0,
    upload_payload_rate: c.rateUpload,
    num_peers: c.peers,
    num_seeds: 0,
    total_seeds: c.seeders,
    total_peers: c.leechers,
    message: 'OK',
    tracker_status: 'Announce OK',
    is_finished: c.progress >= 1,
  }
}

/**
 * rTorrent 0.9.8's XML-RPC over SCGI (`scgi://host:port`, no authentication): `system.client_version`,
 * `system.api_version`, `d.multicall2` with the `d.*=` fields asked for (one row per torrent, hashes
 * in upper case), and `execute.capture` of `df -P -k` for free space.
 */
export class FakeRTorrent implements FakeSeedbox {
  readonly kind = 'rtorrent' as const
  readonly username = ''
  readonly password = ''
  readonly copies = new Map<string, FakeCopy>()
  private server: TcpServer | null = null
  private readonly sockets = new Set<Socket>()
  url = ''

  constructor(readonly freeBytes: number) {}

  put(c: Partial<FakeCopy> & { hash: string }): void {
    this.copies.set(c.hash, fullCopy(c))
  }

  touch(hash: string, change: Partial<FakeCopy>): void {
    Object.assign(this.copies.get(hash)!, change)
  }

  async listen(): Promise<string> {
    this.server = createTcpServer((socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
      const chunks: Buffer[] = []
      socket.on('data', (d: Buffer) => {
        chunks.push(d)
        const all = Buffer.concat(chunks)
        const colon = all.indexOf(0x3a)
        if (colon < 0) return
        const headLen = Number(all.subarray(0, colon).toString())
        const head = all.subarray(colon + 1, colon + 1 + headLen).toString()
        const length = Number(/CONTENT_LENGTH\0(\d+)\0/.exec(head)?.[1] ?? -1)
        const body = all.subarray(colon + 1 + headLen + 1)
        if (length < 0 || body.length < length) return
        const xml = this.answer(body.subarray(0, length).toString('utf8'))
        socket.end(
          `Status: 200 OK\r\nContent-Type: text/xml\r\nContent-Length: ${Buffer.byteLength(xml)}\r\n\r\n${xml}`,
        )
      })
      socket.on('error', () => {})
    })
    await new Promise<void>((res) => this.server!.listen(0, '127.0.0.1', res))
    this.url = `scgi://127.0.0.1:${(this.server.address() as { port: number }).port}`
    return this.url
  }

  async close(): Promise<void> {
    const s = this.server
    this.server = null
    if (!s) return
    for (const c of this.sockets) c.destroy()
    await new Promise<void>((res) => s.close(() => res()))
  }

  private answer(xml: string): string {
    const method = /<methodName>([^<]*)<\/methodName>/.exec(xml)?.[1] ?? ''
    const strings = [...xml.matchAll(/<string>([^<]*)<\/string>/g)].map((m) => m[1]!)
    const fault = (code: number, s: string) =>
      `<?xml version="1.0"?><methodResponse><fault><value><struct><member><name>faultCode</name><value><i4>${code}</i4></value></member><member><name>faultString</name><value><string>${s}</string></value></member></struct></value></fault></methodResponse>`
    switch (method) {
      case 'system.client_version':
        return encodeResponse('0.9.8')
      case 'system.api_version':
        return encodeResponse('10')
      case 'execute.capture': {
        const kb = Math.floor(this.freeBytes / 1024)
        return encodeResponse(
          `Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/fake      ${kb * 2} ${kb} ${kb}      50% /\n`,
        )
      }
      case 'd.multicall2': {
        const fields = strings.filter((s) => s.endsWith('='))
        const rows: XmlRpcValue[] = [...this.copies.values()].map((c) => {
          const all = rtorrentFields(c)
          return fields.map((f) => all[f] ?? 0)
        })
        return encodeResponse(rows)
      }
      default:
        return fault(-506, `Method '${method}' not defined`)
    }
  }
}

function rtorrentFields(c: FakeCopy): Record<string, XmlRpcValue> {
  const done = Math.round(c.size * c.progress)
  return {
    'd.hash=': c.hash.toUpperCase(),
    'd.name=': c.name,
    'd.state=': c.state === 'stopped' ? 0 : 1,
    'd.is_active=': c.state === 'stopped' ? 0 : 1,
    'd.complete=': c.progress >= 1 ? 1 : 0,
    'd.hashing=': 0,
    'd.completed_bytes=': done,
    'd.size_bytes=': c.size,
    'd.up.total=': c.uploaded,
    'd.ratio=': done > 0 ? Math.round((c.uploaded / done) * 1000) : 0,
    'd.up.rate=': c.rateUpload,
    'd.peers_connected=': c.peers,
    'd.message=': '',
    'd.is_open=': c.state === 'stopped' ? 0 : 1,
  }
}

/** The FAKE Transmission behind the same interface. */
class FakeTransmissionSeedbox implements FakeSeedbox {
  readonly kind = 'transmission' as const
  readonly username = 'aacseed'
  readonly password = 'fake-tr-pw'
  readonly fake: FakeTransmission

  constructor(freeBytes: number) {
    this.fake = new FakeTransmission({ freeBytes, auth: { user: this.username, pass: this.password } })
  }

  get url(): string {
    return this.fake.url
  }

  put(c: Partial<FakeCopy> & { hash: string }): void {
    const f = fullCopy(c)
    this.fake.put({
      hashString: f.hash,
      name: f.name,
      status: f.state === 'seeding' ? 6 : f.state === 'stopped' ? 0 : 4,
      percentDone: f.progress,
      totalSize: f.size,
      uploadedEver: f.uploaded,
      rateUpload: f.rateUpload,
      peersConnected: f.peers,
      trackerStats: [{ seederCount: f.seeders, leecherCount: f.leechers, downloadCount: f.downloads }],
      downloadDir: f.savePath,
    })
  }

  touch(hash: string, change: Partial<FakeCopy>): void {
    const t = this.fake.torrents.get(hash)!
    if (change.rateUpload !== undefined) t.rateUpload = change.rateUpload
    if (change.uploaded !== undefined) t.uploadedEver = change.uploaded
    if (change.peers !== undefined) t.peersConnected = change.peers
  }

  listen(): Promise<string> {
    return this.fake.listen()
  }

  close(): Promise<void> {
    return this.fake.close()
  }
}

/** A fake seedbox of `kind`, not yet listening. */
export function fakeSeedbox(kind: RemoteKind, opts: { freeBytes?: number } = {}): FakeSeedbox {
  const free = opts.freeBytes ?? 4e12
  switch (kind) {
    case 'transmission':
      return new FakeTransmissionSeedbox(free)
    case 'qbittorrent':
      return new FakeQBittorrent(free)
    case 'deluge':
      return new FakeDeluge(free)
    case 'rtorrent':
      return new FakeRTorrent(free)
  }
}
