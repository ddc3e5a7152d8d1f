/**
 * A FAKE Transmission daemon: an HTTP server on 127.0.0.1 speaking the subset of the RPC
 * aacseed's fleet uses (session-get, torrent-get, free-space, torrent-add, torrent-set,
 * torrent-start, torrent-verify, torrent-remove, torrent-set-location), with the session-id
 * handshake (409) and optional basic auth. For tests of failure handling and for the fleet
 * benchmark's 50 simulated seedboxes; never used by production code. It moves no data:
 * a torrent is whatever state the test sets.
 */
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { decodeDict } from '../../src/torrents/index.js'

export interface FakeTorrent {
  hashString: string
  name: string
  status: number
  percentDone: number
  error: number
  errorString: string
  peersConnected: number
  rateUpload: number
  uploadedEver: number
  isStalled: boolean
  /** The figures tests set; the rest of each tracker stat is filled as 3.00 answers it. */
  trackerStats: Array<{ seederCount: number; leecherCount: number; downloadCount: number }>
  totalSize: number
  downloadDir: string
  labels: string[]
}

export interface FakeOptions {
  auth?: { user: string; pass: string }
  version?: string
  rpcVersion?: number
  freeBytes?: number
  /** Leave fields out of torrent-get answers, as an older or newer daemon might. */
  omitFields?: string[]
}

export class FakeTransmission {
  readonly torrents = new Map<string, FakeTorrent>()
  freeBytes: number
  /** Methods called, in order (the 409 handshakes not counted). */
  readonly calls: string[] = []
  /** Set to make the next requests misbehave: `hang` never answers, `500` answers HTTP 500. */
  mode: 'ok' | 'hang' | '500' = 'ok'
  private sessionId = 'fake-session-1'
  private server: Server | null = null
  private readonly hanging = new Set<ServerResponse>()
  url = ''

  constructor(readonly opts: FakeOptions = {}) {
    this.freeBytes = opts.freeBytes ?? 1e15
  }

  async listen(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res))
    this.server.keepAliveTimeout = 60_000
    await new Promise<void>((res) => this.server!.listen(0, '127.0.0.1', res))
    const port = (this.server.address() as { port: number }).port
    this.url = `http://127.0.0.1:${port}/transmission/rpc`
    return this.url
  }

  /** A new session id: the next request gets a 409, as after a daemon restart. */
  rotateSession(): void {
    this.sessionId = `fake-session-${Date.now()}-${Math.random().toString(36).slice(2)}`
  }

  /** A torrent in a given state (defaults: seeding, complete). */
  put(t: Partial<FakeTorrent> & { hashString: string }): FakeTorrent {
    const full: FakeTorrent = {
      name: `torrent-${t.hashString.slice(0, 8)}`,
      status: 6,
      percentDone: 1,
      error: 0,
      errorString: '',
      peersConnected: 0,
      rateUpload: 0,
      uploadedEver: 0,
      isStalled: false,
      trackerStats: [{ seederCount: 3, leecherCount: 1, downloadCount: 10 }],
      totalSize: 1_000_000,
      downloadDir: '/downloads',
      labels: [],
      ...t,
    }
    this.torrents.set(full.hashString, full)
    return full
  }

  async close(): Promise<void> {
    for (const r of this.hanging) r.destroy()
    this.hanging.clear()
    const s = this.server
    this.server = null
    if (!s) return
    s.closeAllConnections()
    await new Promise<void>((res) => s.close(() => res()))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const c of req) chunks.push(c as Buffer)
    if (this.mode === 'hang') {
      this.hanging.add(res)
      return
    }
    if (this.mode === '500') return this.send(res, 500, 'boom')
    if (this.opts.auth) {
      const want = `Basic ${Buffer.from(`${this.opts.auth.user}:${this.opts.auth.pass}`).toString('base64')}`
      if (req.headers.authorization !== want) return this.send(res, 401, '<h1>401: Unauthorized</h1>')
    }
    if (req.headers['x-transmission-session-id'] !== this.sessionId) {
      res.setHeader('x-transmission-session-id', this.sessionId)
      return this.send(res, 409, '<h1>409: Conflict</h1>')
    }
    let body: { method?: string; arguments?: Record<string, unknown> }
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body
    } catch {
      return this.send(res, 400, 'bad json')
    }
    const method = body.method ?? ''
    this.calls.push(method)
    const args = body.arguments ?? {}
    const reply = (result: string, a: Record<string, unknown> = {}) =>
      this.send(res, 200, JSON.stringify({ result, arguments: a }), 'application/json')
    const ids = (args.ids as string[] | undefined)?.map((h) => h.toLowerCase())
    const selected = ids
      ? ids.flatMap((h) => (this.torrents.has(h) ? [this.torrents.get(h)!] : []))
      : [...this.torrents.values()]
    switch (method) {
      case 'session-get': {
        const all: Record<string, unknown> = {
          version: this.opts.version ?? '3.00 (fake)',
          'rpc-version': this.opts.rpcVersion ?? 16,
          'download-dir': '/downloads',
        }
        // Like the daemon: only the fields asked for, when some are.
        const fields = args.fields as string[] | undefined
        return reply('success', fields ? Object.fromEntries(fields.map((f) => [f, all[f]])) : all)
      }
      case 'torrent-get': {
        const fields = ((args.fields as string[] | undefined) ?? ['hashString']).filter(
          (f) => !this.opts.omitFields?.includes(f),
        )
        const torrents = selected.map((t) => {
          const o: Record<string, unknown> = {}
          const full = wireTorrent(t)
          for (const f of fields) o[f] = full[f]
          return o
        })
        return reply('success', { torrents })
      }
      case 'free-space':
        // 3.00's answer (4.x adds total_size).
        return reply('success', { path: args.path, 'size-bytes': this.freeBytes })
      case 'torrent-add': {
        let hash: string
        let name: string
        try {
          const { dict, raw } = decodeDict(Buffer.from((args.metainfo as string | undefined) ?? '', 'base64'))
          hash = createHash('sha1').update(raw.get('info')!).digest('hex')
          const info = dict.info as { name?: Buffer }
          name = info.name?.toString('utf8') ?? hash
        } catch {
          return reply('invalid or corrupt torrent file')
        }
        const existing = this.torrents.get(hash)
        if (existing)
          return reply('success', { 'torrent-duplicate': { hashString: hash, id: 1, name: existing.name } })
        this.put({
          hashString: hash,
          name,
          status: args.paused ? 0 : 4,
          percentDone: 0,
          downloadDir: (args['download-dir'] as string | undefined) ?? '/downloads',
          trackerStats: [],
        })
        return reply('success', { 'torrent-added': { hashString: hash, id: this.torrents.size, name } })
      }
      case 'torrent-set':
        for (const t of selected) if (Array.isArray(args.labels)) t.labels = args.labels as string[]
        return reply('success')
      case 'torrent-set-location':
        for (const t of selected) t.downloadDir = String(args.location)
        return reply('success')
      case 'torrent-start':
        for (const t of selected) t.status = t.percentDone >= 1 ? 6 : 4
        return reply('success')
      case 'torrent-verify':
        for (const t of selected) {
          t.error = 0
          t.errorString = ''
        }
        return reply('success')
      case 'torrent-remove':
        for (const t of selected) this.torrents.delete(t.hashString)
        return reply('success')
      default:
        return reply('method name not recognized')
    }
  }

  private send(res: ServerResponse, status: number, body: string, type = 'text/html'): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }
}

/** A torrent's torrent-get fields as transmission-daemon 3.00 answers them (test/fixtures/wire/transmission.json). */
function wireTorrent(t: FakeTorrent): Record<string, unknown> {
  const have = Math.round(t.totalSize * t.percentDone)
  return {
    ...t,
    haveValid: have,
    sizeWhenDone: t.totalSize,
    uploadRatio: have > 0 ? t.uploadedEver / have : -1,
    trackerStats: t.trackerStats.map((x, id) => ({
      announce: 'http://tracker.invalid/announce',
      announceState: 1,
      hasAnnounced: true,
      hasScraped: true,
      host: 'http://tracker.invalid:80',
      id,
      isBackup: false,
      lastAnnouncePeerCount: x.seederCount + x.leecherCount,
      lastAnnounceResult: 'Success',
      lastAnnounceStartTime: 0,
      lastAnnounceSucceeded: true,
      lastAnnounceTime: 0,
      lastAnnounceTimedOut: false,
      lastScrapeResult: '',
      lastScrapeStartTime: 0,
      lastScrapeSucceeded: true,
      lastScrapeTime: 0,
      lastScrapeTimedOut: false,
      nextAnnounceTime: 0,
      nextScrapeTime: 0,
      scrape: 'http://tracker.invalid/scrape',
      scrapeState: 1,
      tier: 0,
      ...x,
    })),
  }
}
