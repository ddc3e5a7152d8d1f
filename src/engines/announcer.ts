/**
 * Tracker announces for the embedded engine, made here instead of inside webtorrent.
 *
 * webtorrent 3.0.21 announces through bittorrent-tracker, and at 10,000 torrents that was the
 * largest part of `serve`'s start (#14 §4: tracker announces about 40% of its main thread):
 * - every torrent announced twice at start: `started`, then at once `completed`, because
 *   webtorrent calls `discovery.complete()` when a torrent that was complete when added turns
 *   `done`. BEP 3 sends `completed` only when a download completes, and none happened.
 * - each HTTP announce went through `fetch` with its own AbortController and a 15 s timer that
 *   kept it alive, and was aborted (a DOMException with a stack) after every answer.
 * Neither has an option. So the client is built with `tracker: false` (documented) and this
 * module announces: `started` when a torrent is ready (with `left` from its verified pieces, so
 * a complete torrent is a seeder from its first announce), `completed` only when a download
 * finishes, a regular announce at the tracker's interval, `stopped` when it is removed. Peers
 * from answers go to the torrent through its documented `addPeer`.
 *
 * HTTP(S) trackers are asked with Node's `http` client through one keep-alive agent per
 * protocol (at most `maxSockets` connections to one tracker; further requests wait for one
 * without their timeout running). UDP trackers (BEP 15) still go through bittorrent-tracker's
 * documented `Client`, which this module starts and completes itself, so they announce as
 * BEP 3 says too. WebSocket trackers serve only WebRTC peers, which this engine has none of.
 */
import http from 'node:http'
import https from 'node:https'
import { decode, type Decoded, type DecodedDict } from '../torrents/bencode.js'
import type { TrackerTrouble } from './tracker-log.js'

/** What the announcer needs of a torrent. */
export interface AnnounceTarget {
  /** 40 hex digits. */
  readonly infoHash: string
  /** The numbers an announce reports now. */
  numbers(): { uploaded: number; downloaded: number; left: number }
  /** A peer a tracker named, "ip:port" or "[ip6]:port". */
  addPeer(addr: string): void
}

export interface AnnounceHooks {
  /** `tracker` answered (the first answer releases the torrent's announce slot). */
  onAnswer?(tracker: string): void
  /**
   * An announce failed, or its answer refused or warned: which tracker and what kind of trouble,
   * so the engine can log a tracker that is down once rather than once per torrent (tracker-log.ts).
   */
  onTrouble?(trouble: TrackerTrouble): void
}

/** An HTTP announce that failed; `reason` leaves the URL out. */
class AnnounceFailure extends Error {
  constructor(
    tracker: string,
    readonly kind: 'unreachable' | 'refused',
    readonly reason: string,
  ) {
    super(`${tracker}: ${reason}`)
  }
}

export interface AnnouncerOptions {
  /** This client's peer id, 40 hex digits. */
  peerId: string
  /** The port peers connect to. */
  port: number
  /** Connections to one HTTP(S) tracker at once. */
  maxSockets: number
  userAgent?: string
  /** Tracker answers are short; anything longer is refused (default 1 MiB). */
  maxAnswerBytes?: number
  /** A request that started and then hears nothing this long fails (default 15 s). */
  timeoutMs?: number
}

/** How long leaving the swarms waits for the trackers' answers (bittorrent-tracker's DESTROY_TIMEOUT). */
const STOP_WAIT_MS = 1000
/** Peers asked for per announce (bittorrent-tracker's default). */
const NUMWANT = 50
/** Until a tracker says otherwise. */
const DEFAULT_INTERVAL_MS = 30 * 60_000
/**
 * Trackers asking for announces more often than this are announced to this often. As a tracker
 * asks otherwise (a test tracker asks every 2 s, so that a seeder hears of a peer that cannot
 * dial it); this only keeps a broken answer from looping.
 */
const MIN_INTERVAL_MS = 1000
/** A failed announce is tried again after this, doubling up to the interval. */
const FIRST_RETRY_MS = 30_000

type Event = 'started' | 'completed' | 'stopped' | undefined

/** A torrent's announces to all its trackers. */
export interface Announcement {
  /** A download finished: `completed` to every tracker (once). */
  complete(): void
  /**
   * Leaves the swarms (`stopped`) and stops all timers; resolves once the trackers answered the
   * `stopped`s, or after at most a second (bittorrent-tracker's own wait), whichever is first.
   */
  stop(): Promise<void>
}

/** The parts of bittorrent-tracker's documented Client that are used here. */
interface TrackerClient {
  on(event: 'update', fn: (data: { announce?: string } | undefined) => void): void
  on(event: 'warning' | 'error', fn: (err: Error) => void): void
  on(event: 'peer', fn: (addr: string) => void): void
  start(): void
  complete(): void
  stop(): void
  destroy(cb?: () => void): void
}
type TrackerClientClass = new (opts: Record<string, unknown>) => TrackerClient

export class Announcer {
  private readonly agents: { http: http.Agent; https: https.Agent }
  private readonly peerIdQuery: string
  private readonly live = new Set<Announcement>()
  private readonly urls = new Map<string, URL | null>()
  private trackerClient: Promise<TrackerClientClass> | null = null
  private closed = false
  /** Requests in flight, so `close` can wait a moment for the last `stopped`s. */
  private readonly inFlight = new Set<Promise<void>>()

  constructor(private readonly opts: AnnouncerOptions) {
    const agentOpts = {
      keepAlive: true,
      maxSockets: opts.maxSockets,
      maxFreeSockets: opts.maxSockets,
      scheduling: 'lifo' as const,
    }
    this.agents = { http: new http.Agent(agentOpts), https: new https.Agent(agentOpts) }
    this.peerIdQuery = encodeBytes(Buffer.from(opts.peerId, 'hex'))
  }

  /**
   * Starts announcing `target` to `urls` (`started` now). Duplicate URLs (also with and without
   * a trailing slash) are announced to once.
   */
  start(target: AnnounceTarget, urls: readonly string[], hooks: AnnounceHooks = {}): Announcement {
    const unique = [...new Set(urls.map((u) => (u.endsWith('/') ? u.slice(0, -1) : u)))]
    const infoHashQuery = encodeBytes(Buffer.from(target.infoHash, 'hex'))
    const http: HttpTrackerState[] = []
    const other: string[] = []
    for (const u of unique) {
      const url = this.parse(u)
      if (url && (url.protocol === 'http:' || url.protocol === 'https:'))
        http.push(new HttpTrackerState(u, url))
      else if (url && url.protocol === 'udp:') other.push(u)
      else
        queueMicrotask(() =>
          hooks.onTrouble?.({ tracker: u, kind: 'unsupported', message: 'unsupported tracker protocol' }),
        )
    }
    let stopped = false
    let stopping: Promise<void> | null = null
    let completed = false
    let client: TrackerClient | null = null
    const announce = (s: HttpTrackerState, event: Event): Promise<void> => {
      if (stopped && event !== 'stopped') return Promise.resolve()
      clearTimeout(s.timer)
      s.timer = undefined
      s.sent = true
      const n = target.numbers()
      const query =
        `info_hash=${infoHashQuery}&peer_id=${this.peerIdQuery}&port=${this.opts.port}` +
        `&uploaded=${n.uploaded}&downloaded=${n.downloaded}&left=${n.left}&compact=1` +
        `&numwant=${event === 'stopped' ? 0 : NUMWANT}` +
        (event ? `&event=${event}` : '') +
        (s.trackerId !== null ? `&trackerid=${encodeURIComponent(s.trackerId)}` : '')
      const done = this.request(s, query).then(
        (answer) => {
          if (stopped) return
          s.failures = 0
          if (!s.started) s.started = true
          hooks.onAnswer?.(s.announce)
          const peers = this.onAnswer(s, answer, hooks)
          for (const p of peers) target.addPeer(p)
          schedule(s, s.intervalMs)
        },
        (err: unknown) => {
          if (stopped) return
          hooks.onTrouble?.(
            err instanceof AnnounceFailure
              ? { tracker: s.announce, kind: err.kind, message: err.reason }
              : { tracker: s.announce, kind: 'unreachable', message: errorText(err) },
          )
          s.failures++
          schedule(s, Math.min(s.intervalMs, FIRST_RETRY_MS * 2 ** (s.failures - 1)))
        },
      )
      this.track(done)
      return done
    }
    const schedule = (s: HttpTrackerState, ms: number): void => {
      clearTimeout(s.timer)
      // Until `started` was answered, every try is a `started` (BEP 3: the first request).
      s.timer = setTimeout(() => void announce(s, s.started ? undefined : 'started'), ms)
      s.timer.unref()
    }
    const announcement: Announcement = {
      complete: () => {
        if (stopped || completed) return
        completed = true
        for (const s of http) void announce(s, 'completed')
        client?.complete()
      },
      stop: () => {
        if (stopping) return stopping
        stopped = true
        this.live.delete(announcement)
        const sent: Array<Promise<void>> = []
        for (const s of http) {
          clearTimeout(s.timer)
          // Once anything was sent, the tracker may list us (an answer still on its way).
          if (s.sent) sent.push(announce(s, 'stopped'))
        }
        if (client) {
          const c = client
          c.stop()
          sent.push(new Promise<void>((resolve) => c.destroy(() => resolve())))
        }
        stopping = settledWithin(sent, STOP_WAIT_MS)
        return stopping
      },
    }
    this.live.add(announcement)
    for (const s of http) void announce(s, 'started')
    if (other.length > 0) {
      // UDP through bittorrent-tracker's Client: loaded only when a torrent has such a tracker.
      this.trackerClient ??= import('bittorrent-tracker').then(
        (m) => (m as unknown as { default: TrackerClientClass }).default,
      )
      void this.trackerClient.then(
        (Client) => {
          if (stopped) return
          const c = new Client({
            infoHash: target.infoHash,
            peerId: this.opts.peerId,
            announce: other,
            port: this.opts.port,
            getAnnounceOpts: () => target.numbers(),
          })
          c.on('update', (data) => hooks.onAnswer?.(data?.announce ?? other[0]!))
          const trouble = (err: Error): void => hooks.onTrouble?.(udpTrouble(err, other))
          c.on('warning', trouble)
          c.on('error', trouble)
          c.on('peer', (addr) => target.addPeer(addr))
          client = c
          c.start()
          if (completed) c.complete()
        },
        (err: unknown) =>
          hooks.onTrouble?.({ tracker: other[0]!, kind: 'unreachable', message: errorText(err) }),
      )
    }
    return announcement
  }

  /**
   * Sends `stopped` for every torrent still announced, waits up to `waitMs` for those requests,
   * then closes all connections.
   */
  async close(waitMs = STOP_WAIT_MS): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const a of [...this.live]) void a.stop()
    await settledWithin([...this.inFlight], waitMs)
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p)
    void p.finally(() => this.inFlight.delete(p))
  }

  private parse(u: string): URL | null {
    let url = this.urls.get(u)
    if (url === undefined) {
      try {
        url = new URL(u)
      } catch {
        url = null
      }
      this.urls.set(u, url)
    }
    return url
  }

  /** One GET of the announce URL with `query`; resolves with the decoded answer. */
  private request(s: HttpTrackerState, query: string): Promise<DecodedDict> {
    const url = s.url
    const secure = url.protocol === 'https:'
    const limit = this.opts.maxAnswerBytes ?? 2 ** 20
    const timeoutMs = this.opts.timeoutMs ?? 15_000
    return new Promise<DecodedDict>((resolve, reject) => {
      const fail = (message: string, kind: 'unreachable' | 'refused' = 'unreachable'): void =>
        reject(new AnnounceFailure(s.announce, kind, message))
      const req = (secure ? https : http).request(
        {
          protocol: url.protocol,
          hostname: url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname,
          port: url.port || undefined,
          path: `${url.pathname}${url.search ? `${url.search}&` : '?'}${query}`,
          method: 'GET',
          agent: secure ? this.agents.https : this.agents.http,
          headers: this.opts.userAgent ? { 'user-agent': this.opts.userAgent } : {},
        },
        (res) => {
          const chunks: Buffer[] = []
          let size = 0
          res.on('data', (chunk: Buffer) => {
            size += chunk.length
            if (size > limit) {
              res.destroy()
              return fail(`the tracker's answer is longer than ${limit} bytes`)
            }
            chunks.push(chunk)
          })
          res.on('error', (err) => fail(err.message))
          res.on('end', () => {
            if (size > limit) return
            if (res.statusCode !== 200) return fail(`the tracker answered HTTP ${res.statusCode}`)
            let answer: Decoded
            try {
              answer = decode(Buffer.concat(chunks, size), { allowUnsortedKeys: true, byteKeys: true })
            } catch (e) {
              return fail(`the tracker's answer is not bencoded: ${(e as Error).message}`)
            }
            if (!isDict(answer)) return fail("the tracker's answer is not a dictionary")
            const failure = answer['failure reason']
            if (Buffer.isBuffer(failure)) return fail(failure.toString('utf8'), 'refused')
            resolve(answer)
          })
        },
      )
      req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)))
      req.on('error', (err) => fail(err.message))
      req.end()
    })
  }

  /** Takes the interval and tracker id of an answer; returns the peers it names. */
  private onAnswer(s: HttpTrackerState, answer: DecodedDict, hooks: AnnounceHooks): string[] {
    const warning = answer['warning message']
    if (Buffer.isBuffer(warning))
      hooks.onTrouble?.({ tracker: s.announce, kind: 'warning', message: warning.toString('utf8') })
    const interval = answer.interval ?? answer['min interval']
    if (typeof interval === 'number' && interval > 0)
      s.intervalMs = Math.max(MIN_INTERVAL_MS, Math.min(interval * 1000, 2 ** 31 - 1))
    const trackerId = answer['tracker id']
    if (Buffer.isBuffer(trackerId)) s.trackerId = trackerId.toString('latin1')
    return [...compactPeers(answer.peers, 6), ...compactPeers(answer.peers6, 18), ...listPeers(answer.peers)]
  }
}

class HttpTrackerState {
  timer: NodeJS.Timeout | undefined = undefined
  started = false
  /** An announce was sent (answered or not). */
  sent = false
  failures = 0
  intervalMs = DEFAULT_INTERVAL_MS
  trackerId: string | null = null
  constructor(
    readonly announce: string,
    readonly url: URL,
  ) {}
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}

/**
 * bittorrent-tracker's UDP client appends ` (<announce URL>)` to the errors of a tracker that
 * did not answer; an error answer (BEP 15 action 3, the tracker's failure for this torrent)
 * comes without it.
 */
function udpTrouble(err: Error, urls: readonly string[]): TrackerTrouble {
  const m = / \(([a-z]+:\/\/[^)]*)\)$/i.exec(err.message)
  if (m) return { tracker: m[1]!, kind: 'unreachable', message: err.message.slice(0, m.index) }
  return { tracker: urls[0]!, kind: urls.length === 1 ? 'refused' : 'warning', message: err.message }
}

/** Resolves once every promise settled, or after `ms`, whichever is first. */
async function settledWithin(promises: ReadonlyArray<Promise<unknown>>, ms: number): Promise<void> {
  if (promises.length === 0) return
  let timer: NodeJS.Timeout | undefined
  await Promise.race([
    Promise.allSettled(promises),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms)
    }),
  ])
  clearTimeout(timer)
}

function isDict(v: Decoded | undefined): v is DecodedDict {
  return typeof v === 'object' && v !== null && !Buffer.isBuffer(v) && !Array.isArray(v)
}

/** BEP 23 (IPv4, 6 bytes a peer) and BEP 7 (IPv6, 18 bytes a peer) compact peer lists. */
export function compactPeers(v: Decoded | undefined, width: 6 | 18): string[] {
  if (!Buffer.isBuffer(v)) return []
  const out: string[] = []
  for (let i = 0; i + width <= v.length; i += width) {
    const port = v.readUInt16BE(i + width - 2)
    if (port === 0) continue
    if (width === 6) out.push(`${v[i]}.${v[i + 1]}.${v[i + 2]}.${v[i + 3]}:${port}`)
    else {
      const groups: string[] = []
      for (let g = 0; g < 16; g += 2) groups.push(v.readUInt16BE(i + g).toString(16))
      out.push(`[${groups.join(':')}]:${port}`)
    }
  }
  return out
}

/** BEP 3's original peer list: dictionaries with `ip` and `port`. */
function listPeers(v: Decoded | undefined): string[] {
  if (!Array.isArray(v)) return []
  const out: string[] = []
  for (const p of v) {
    if (!isDict(p)) continue
    const ip = p.ip
    const port = p.port
    if (!Buffer.isBuffer(ip) || typeof port !== 'number' || port <= 0 || port > 65535) continue
    const host = ip.toString('utf8')
    out.push(host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`)
  }
  return out
}

/** Each byte as a query string writes it: RFC 3986 unreserved bytes as they are, others as %XX. */
const QUERY_BYTE = Array.from({ length: 256 }, (_, byte) => {
  const c = String.fromCharCode(byte)
  return /[A-Za-z0-9.\-_~]/.test(c) ? c : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`
})

/** Percent-encodes raw bytes for a query string. */
function encodeBytes(b: Buffer): string {
  let out = ''
  for (const byte of b) out += QUERY_BYTE[byte]
  return out
}
