/**
 * Tracker scrapes: seeders, leechers and completed downloads for many infohashes per request.
 *
 * - HTTP(S), BEP 48: the scrape URL is the announce URL with its last path component
 *   `announce` replaced by `scrape` (a tracker whose announce path does not end so has no
 *   scrape); `info_hash` is repeated once per torrent; the answer is a bencoded
 *   `{ files: { <20-byte infohash>: { complete, downloaded, incomplete } } }` or
 *   `{ "failure reason": ... }`.
 * - UDP, BEP 15: `connect` (protocol id 0x41727101980) gives a connection id valid for a
 *   minute; `scrape` (action 2) carries up to 74 infohashes and is answered with
 *   (seeders, completed, leechers) per infohash in the order asked; action 3 is an error.
 *   Requests are re-sent once when unanswered (BEP 15 retransmits; we give up sooner).
 *
 * A torrent the tracker does not list gets zeros: the tracker knows no peer of it.
 */
import { createSocket, type Socket } from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { redactUrl } from '../log/redact.js'
import { FleetError } from './errors.js'
import { decode, type Decoded, type DecodedDict } from '../torrents/bencode.js'

export interface ScrapeResult {
  infohash: string
  seeders: number
  leechers: number
  completed: number
}

export interface ScrapeOptions {
  timeoutMs: number
  /** Infohashes per request (UDP: at most 74). */
  batch: number
  signal?: AbortSignal
}

/**
 * A UDP scrape packet holds at most 74 infohashes (BEP 15: 16 + 20 × 74 = 1496 bytes, under a typical MTU).
 */
export const UDP_MAX_HASHES = 74

/** BEP 48: the scrape URL of an HTTP announce URL, or null when the tracker has none. */
export function scrapeUrl(announce: string): string | null {
  const u = new URL(announce)
  const slash = u.pathname.lastIndexOf('/')
  const last = u.pathname.slice(slash + 1)
  if (!last.startsWith('announce')) return null
  u.pathname = u.pathname.slice(0, slash + 1) + 'scrape' + last.slice('announce'.length)
  return u.toString()
}

/** Percent-encodes raw bytes for a query string (RFC 3986 unreserved bytes stay as they are). */
function encodeBytes(b: Buffer): string {
  let out = ''
  for (const byte of b) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9.\-_~]/.test(c) ? c : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`
  }
  return out
}

/**
 * Scrapes one tracker for all `infohashes`, `batch` per request. Throws FleetError `scrape-failed` (results
 * so far in `partial`).
 */
export async function scrapeTracker(
  tracker: string,
  infohashes: readonly string[],
  opts: ScrapeOptions,
): Promise<ScrapeResult[]> {
  const protocol = new URL(tracker).protocol
  if (protocol === 'udp:') return await udpScrape(tracker, infohashes, opts)
  if (protocol === 'http:' || protocol === 'https:') return await httpScrape(tracker, infohashes, opts)
  throw new FleetError('scrape-failed', `${redactUrl(tracker)}: cannot scrape ${protocol} trackers`)
}

export class ScrapeError extends FleetError {
  constructor(
    message: string,
    readonly partial: ScrapeResult[],
  ) {
    super('scrape-failed', message)
  }
}

export async function httpScrape(
  announce: string,
  infohashes: readonly string[],
  opts: ScrapeOptions,
): Promise<ScrapeResult[]> {
  const url = scrapeUrl(announce)
  const shown = redactUrl(announce)
  if (!url)
    throw new ScrapeError(`${shown}: no scrape URL (BEP 48: the announce path must end in "announce")`, [])
  const out: ScrapeResult[] = []
  for (let i = 0; i < infohashes.length; i += opts.batch) {
    const batch = infohashes.slice(i, i + opts.batch)
    const query = batch.map((h) => `info_hash=${encodeBytes(Buffer.from(h, 'hex'))}`).join('&')
    const full = url + (url.includes('?') ? '&' : '?') + query
    let body: Buffer
    try {
      const signals = [AbortSignal.timeout(opts.timeoutMs), ...(opts.signal ? [opts.signal] : [])]
      const res = await fetch(full, { signal: AbortSignal.any(signals) })
      body = Buffer.from(await res.arrayBuffer())
      if (!res.ok) throw new Error(`HTTP ${res.status}`)
    } catch (e) {
      const why =
        e instanceof Error && e.name === 'TimeoutError'
          ? `no answer within ${opts.timeoutMs} ms`
          : e instanceof Error
            ? ((e.cause as { code?: string } | undefined)?.code ?? e.message)
            : String(e)
      throw new ScrapeError(`${shown}: scrape failed: ${why}`, out)
    }
    let files: Map<string, { complete: number; incomplete: number; downloaded: number }>
    try {
      files = parseScrapeResponse(body)
    } catch (e) {
      throw new ScrapeError(`${shown}: ${(e as Error).message}`, out)
    }
    for (const h of batch) {
      const f = files.get(h)
      out.push({
        infohash: h,
        seeders: f?.complete ?? 0,
        leechers: f?.incomplete ?? 0,
        completed: f?.downloaded ?? 0,
      })
    }
  }
  return out
}

/**
 * Reads a BEP 48 scrape answer. `files` is keyed by raw 20-byte infohashes, which are not text,
 * so the keys are decoded as byte strings; trackers are not all canonical about key order.
 */
export function parseScrapeResponse(
  buf: Buffer,
): Map<string, { complete: number; incomplete: number; downloaded: number }> {
  let top: Decoded
  try {
    top = decode(buf, { byteKeys: true, allowUnsortedKeys: true, maxDepth: 8 })
  } catch (e) {
    throw new Error(`bad scrape answer: ${(e as Error).message}`)
  }
  if (!isDict(top)) throw new Error('scrape answer is not a dictionary')
  const failure = top['failure reason']
  if (Buffer.isBuffer(failure)) throw new Error(`tracker refused the scrape: ${failure.toString('utf8')}`)
  const files = top.files
  const out = new Map<string, { complete: number; incomplete: number; downloaded: number }>()
  if (!isDict(files)) return out
  for (const [key, f] of Object.entries(files)) {
    const hash = infohashKey(Buffer.from(key, 'latin1'))
    if (hash === null || !isDict(f)) continue
    const n = (k: string): number => {
      const v = f[k]
      return typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : 0
    }
    out.set(hash, { complete: n('complete'), incomplete: n('incomplete'), downloaded: n('downloaded') })
  }
  return out
}

function isDict(v: Decoded | undefined): v is DecodedDict {
  return v !== undefined && typeof v === 'object' && !Buffer.isBuffer(v) && !Array.isArray(v)
}

/**
 * A `files` key as a hex infohash, or null when it is not one. BEP 48 keys are the 20 raw
 * bytes; some trackers send the 40 hex digits, and the bittorrent-tracker npm server sends the
 * raw bytes UTF-8-encoded as if they were characters (so 0xAB arrives as C2 AB).
 */
function infohashKey(k: Buffer): string | null {
  if (k.length === 20) return k.toString('hex')
  if (k.length === 40 && /^[0-9a-fA-F]{40}$/.test(k.toString('latin1')))
    return k.toString('latin1').toLowerCase()
  if (k.length > 20 && k.length <= 40) {
    const chars = [...k.toString('utf8')]
    if (chars.length === 20 && chars.every((c) => c.codePointAt(0)! <= 0xff))
      return Buffer.from(chars.map((c) => c.codePointAt(0)!)).toString('hex')
  }
  return null
}

const PROTOCOL_ID = 0x41727101980n
const ACTION_CONNECT = 0
const ACTION_SCRAPE = 2
const ACTION_ERROR = 3

export async function udpScrape(
  announce: string,
  infohashes: readonly string[],
  opts: ScrapeOptions,
): Promise<ScrapeResult[]> {
  const u = new URL(announce)
  const shown = redactUrl(announce)
  const port = Number(u.port)
  if (!port) throw new ScrapeError(`${shown}: a udp tracker URL needs a port`, [])
  const host = u.hostname.replace(/^\[|\]$/g, '')
  let address: { address: string; family: number }
  try {
    address = await lookup(host)
  } catch (e) {
    throw new ScrapeError(
      `${shown}: cannot resolve ${host}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      [],
    )
  }
  const socket = createSocket(address.family === 6 ? 'udp6' : 'udp4')
  const inbox = new UdpInbox(socket)
  const out: ScrapeResult[] = []
  try {
    await new Promise<void>((res, rej) => {
      socket.once('error', rej)
      socket.bind(0, address.family === 6 ? '::' : '0.0.0.0', () => {
        socket.off('error', rej)
        res()
      })
    })
    const request = async (packet: Buffer, tid: number): Promise<Buffer> => {
      // Sent twice at most, half the time budget each.
      for (let attempt = 0; attempt < 2; attempt++) {
        if (opts.signal?.aborted) throw new ScrapeError(`${shown}: scrape aborted`, out)
        socket.send(packet, port, address.address)
        const reply = await inbox.wait(tid, opts.timeoutMs / 2)
        if (reply) return reply
      }
      throw new ScrapeError(`${shown}: no answer within ${opts.timeoutMs} ms`, out)
    }
    const connect = async (): Promise<{ id: Buffer; at: number }> => {
      const tid = randomBytes(4).readUInt32BE(0)
      const p = Buffer.alloc(16)
      p.writeBigUInt64BE(PROTOCOL_ID, 0)
      p.writeUInt32BE(ACTION_CONNECT, 8)
      p.writeUInt32BE(tid, 12)
      const r = await request(p, tid)
      checkAction(r, ACTION_CONNECT, shown, out)
      if (r.length < 16) throw new ScrapeError(`${shown}: short connect answer`, out)
      return { id: Buffer.from(r.subarray(8, 16)), at: Date.now() }
    }
    let conn = await connect()
    const size = Math.min(opts.batch, UDP_MAX_HASHES)
    for (let i = 0; i < infohashes.length; i += size) {
      const batch = infohashes.slice(i, i + size)
      // A connection id lives one minute (BEP 15); renew it a little before.
      if (Date.now() - conn.at > 50_000) conn = await connect()
      const tid = randomBytes(4).readUInt32BE(0)
      const p = Buffer.alloc(16 + 20 * batch.length)
      conn.id.copy(p, 0)
      p.writeUInt32BE(ACTION_SCRAPE, 8)
      p.writeUInt32BE(tid, 12)
      batch.forEach((h, j) => Buffer.from(h, 'hex').copy(p, 16 + 20 * j))
      const r = await request(p, tid)
      checkAction(r, ACTION_SCRAPE, shown, out)
      if (r.length < 8 + 12 * batch.length)
        throw new ScrapeError(
          `${shown}: short scrape answer (${r.length} bytes for ${batch.length} torrents)`,
          out,
        )
      batch.forEach((h, j) => {
        const at = 8 + 12 * j
        out.push({
          infohash: h,
          seeders: r.readUInt32BE(at),
          completed: r.readUInt32BE(at + 4),
          leechers: r.readUInt32BE(at + 8),
        })
      })
    }
    return out
  } catch (e) {
    if (e instanceof ScrapeError) throw e
    throw new ScrapeError(`${shown}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, out)
  } finally {
    inbox.close()
  }
}

function checkAction(r: Buffer, want: number, shown: string, partial: ScrapeResult[]): void {
  const action = r.readUInt32BE(0)
  if (action === ACTION_ERROR)
    throw new ScrapeError(`${shown}: tracker error: ${r.subarray(8).toString('utf8')}`, partial)
  if (action !== want) throw new ScrapeError(`${shown}: unexpected action ${action} in the answer`, partial)
}

/** Matches UDP answers to requests by transaction id; stray packets are dropped. */
class UdpInbox {
  private readonly waiting = new Map<number, (b: Buffer) => void>()

  constructor(private readonly socket: Socket) {
    socket.on('message', (msg: Buffer) => {
      if (msg.length < 8) return
      const resolve = this.waiting.get(msg.readUInt32BE(4))
      if (resolve) resolve(msg)
    })
    socket.on('error', () => {})
  }

  wait(tid: number, ms: number): Promise<Buffer | null> {
    return new Promise((res) => {
      const timer = setTimeout(() => {
        this.waiting.delete(tid)
        res(null)
      }, ms)
      this.waiting.set(tid, (b) => {
        clearTimeout(timer)
        this.waiting.delete(tid)
        res(b)
      })
    })
  }

  close(): void {
    try {
      this.socket.close()
    } catch {
      // already closed
    }
  }
}
