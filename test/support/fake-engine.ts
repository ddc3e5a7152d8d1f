/**
 * A FAKE torrent engine for unit tests of mirror sync: it moves data only when the test says
 * so, by copying a release from a folder the test names (as if peers had sent it), so tests
 * can stop at any point of a download and "restart" by building a new one. Never used by
 * production code; the real engines are tested against real peers.
 */
import { cpSync, mkdirSync, openSync, closeSync, readFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import type { AddResult, Engine, EngineTorrent, EngineTorrentStatus } from '../../src/engines/index.js'
import { parseTorrent } from '../../src/torrents/index.js'

interface Held {
  t: EngineTorrent
  total: number
  present: number
  error: string | null
}

export class FakeEngine implements Engine {
  readonly kind = 'webtorrent' as const
  readonly added: EngineTorrent[] = []
  readonly removed: string[] = []
  private readonly held = new Map<string, Held>()

  async start(): Promise<void> {}
  async ping(): Promise<void> {}
  async close(): Promise<void> {}

  async add(t: EngineTorrent): Promise<AddResult> {
    this.added.push(t)
    if (this.held.has(t.infoHash)) return 'duplicate'
    const total = parseTorrent(t.torrent).totalSize
    this.held.set(t.infoHash, { t, total, present: 0, error: null })
    if (t.download) mkdirSync(t.dataDir, { recursive: true })
    return 'added'
  }

  async remove(infoHash: string): Promise<void> {
    this.removed.push(infoHash)
    this.held.delete(infoHash)
  }

  async list(): Promise<EngineTorrentStatus[]> {
    return [...this.held.values()].map((h) => ({
      infoHash: h.t.infoHash,
      name: h.t.name,
      state: h.error ? 'error' : h.present === h.total ? 'seeding' : 'downloading',
      bytesPresent: h.present,
      totalBytes: h.total,
      uploaded: 0,
      peers: 0,
      error: h.error,
    }))
  }

  has(infoHash: string): boolean {
    return this.held.has(infoHash)
  }

  /** "Downloads" the whole release: copies `from/<name>` into the torrent's data folder. */
  complete(infoHash: string, from: string): void {
    const h = this.held.get(infoHash)!
    cpSync(join(from, h.t.name), join(h.t.dataDir, h.t.name), { recursive: true })
    h.present = h.total
  }

  /** Writes the first half of the first file only, as an interrupted download leaves it. */
  partial(infoHash: string, from: string): void {
    const h = this.held.get(infoHash)!
    const parsed = parseTorrent(h.t.torrent)
    const first = parsed.files[0]!
    const src = parsed.kind === 'file' ? join(from, h.t.name) : join(from, h.t.name, first.path)
    const dest =
      parsed.kind === 'file' ? join(h.t.dataDir, h.t.name) : join(h.t.dataDir, h.t.name, first.path)
    mkdirSync(join(dest, '..'), { recursive: true })
    const bytes = readFileSync(src).subarray(0, Math.floor(first.length / 2))
    const fd = openSync(dest, 'w')
    writeSync(fd, bytes)
    closeSync(fd)
    h.present = 0
  }

  fail(infoHash: string, error: string): void {
    this.held.get(infoHash)!.error = error
  }
}
