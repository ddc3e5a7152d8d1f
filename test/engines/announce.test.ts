/**
 * The embedded engine's tracker announces (src/engines/announcer.ts), against a real
 * bittorrent-tracker server: what it is sent, event by event, by a seeder and by a download.
 */
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { compactPeers } from '../../src/engines/announcer.js'
import { WebTorrentEngine } from '../../src/engines/webtorrent.js'
import { requireTool, tempDir, waitFor } from '../helpers.js'
import { infoHashOf, makeRelease, memoryLogger, mktorrent, readTree, startTracker } from './fixtures.js'

interface Heard {
  event: 'start' | 'complete' | 'update' | 'stop'
  addr: string
  infoHash: string
  left: number | undefined
}

async function startEngine(t: TestContext): Promise<WebTorrentEngine> {
  const engine = new WebTorrentEngine(
    { port: 0, host: '127.0.0.1', dht: false, lsd: false, trackers: [], max_connections: 55 },
    { logger: memoryLogger() },
  )
  t.after(() => engine.close())
  await engine.start()
  return engine
}

test('a complete torrent is announced once as a seeder (no `completed`, BEP 3); a download announces what it lacks, finds the seeder through the tracker, and sends `completed` once; remove sends `stopped`', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const tracker = await startTracker(t)
  const heard: Heard[] = []
  for (const event of ['start', 'complete', 'update', 'stop'] as const)
    tracker.server.on(event, (addr: string, params: { info_hash: string; left?: number }) =>
      heard.push({ event, addr, infoHash: params.info_hash, left: params.left }),
    )
  const dir = tempDir(t)
  const release = makeRelease(join(dir, 'seed'), [300_000, 1_000_001])
  const torrentPath = join(dir, 'r.torrent')
  const torrent = mktorrent(release.dir, tracker.announce, torrentPath)
  const infoHash = infoHashOf(torrent)
  const total = 1_300_001

  const seeder = await startEngine(t)
  const seederPort = seeder.address()!.port
  assert.equal(
    await seeder.add({ torrent, infoHash, name: release.name, dataDir: release.root, verify: false }),
    'added',
  )
  await waitFor('the seeder to be announced', () => heard.length >= 1)
  // Time for a second announce, had one been made at once (webtorrent's own announced
  // `completed` right after `started` for a torrent complete when added).
  await new Promise((r) => setTimeout(r, 500))
  const fromSeeder = heard.filter((h) => h.addr.endsWith(`:${seederPort}`))
  assert.deepEqual(
    fromSeeder.map((h) => [h.event, h.infoHash, Number(h.left)]),
    [['start', infoHash, 0]],
  )
  assert.equal(tracker.seeders(infoHash), 1)

  // A download into an empty folder: the tracker hands it the seeder, through `addPeer`.
  const downloader = await startEngine(t)
  const downloaderPort = downloader.address()!.port
  const into = join(dir, 'download')
  mkdirSync(into)
  assert.equal(
    await downloader.add({
      torrent,
      infoHash,
      name: release.name,
      dataDir: into,
      verify: true,
      download: true,
      absent: { pieceCount: Math.ceil(total / 2 ** 18) },
    }),
    'added',
  )
  await waitFor(
    'the download to complete',
    async () => (await downloader.list())[0]?.state === 'seeding',
    60_000,
  )
  const got = readTree(join(into, release.name))
  for (const [path, bytes] of readTree(release.dir))
    assert.ok(got.get(path)?.equals(bytes), `${path} differs`)
  await waitFor('the completed download to be announced', () =>
    heard.some((h) => h.event === 'complete' && h.addr.endsWith(`:${downloaderPort}`)),
  )
  await new Promise((r) => setTimeout(r, 300))
  const fromDownloader = heard.filter((h) => h.addr.endsWith(`:${downloaderPort}`))
  assert.deepEqual(
    fromDownloader.map((h) => [h.event, Number(h.left)]),
    [
      ['start', total],
      ['complete', 0],
    ],
  )
  assert.equal(tracker.seeders(infoHash), 2)
  assert.ok(
    !heard.some((h) => h.event === 'complete' && h.addr.endsWith(`:${seederPort}`)),
    'the seeder never sends completed',
  )

  await seeder.remove(infoHash)
  await waitFor('the removed torrent to be announced as stopped', () =>
    heard.some((h) => h.event === 'stop' && h.addr.endsWith(`:${seederPort}`)),
  )
  assert.equal(tracker.seeders(infoHash), 1)
})

test('a torrent with a UDP tracker (BEP 15) is announced to it as a seeder once, through the Client of bittorrent-tracker', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const { server, udp } = await startTracker(t, { udp: true, http: false })
  const heard: string[] = []
  for (const event of ['start', 'complete', 'update', 'stop'] as const)
    server.on(event, (_addr: string, params: { left?: number }) => heard.push(`${event}:${params.left}`))
  const dir = tempDir(t)
  const release = makeRelease(join(dir, 'seed'), [200_000])
  const torrent = mktorrent(release.dir, udp, join(dir, 'r.torrent'))
  const infoHash = infoHashOf(torrent)
  const engine = await startEngine(t)
  await engine.add({ torrent, infoHash, name: release.name, dataDir: release.root, verify: false })
  await waitFor('the UDP tracker to list the seeder', () => (server.torrents[infoHash]?.complete ?? 0) >= 1)
  await new Promise((r) => setTimeout(r, 500))
  assert.deepEqual(heard, ['start:0'])
  await engine.remove(infoHash)
  await waitFor('the UDP tracker to hear stopped', () => heard.includes('stop:0'))
})

test('compact peer lists: IPv4 (BEP 23) and IPv6 (BEP 7), a port of 0 skipped, a trailing partial entry ignored', () => {
  const v4 = Buffer.from([127, 0, 0, 1, 0x1a, 0xe1, 10, 1, 2, 3, 0, 0, 192, 168, 0, 9, 0, 80, 1, 2])
  assert.deepEqual(compactPeers(v4, 6), ['127.0.0.1:6881', '192.168.0.9:80'])
  const v6 = Buffer.alloc(18)
  v6[15] = 1
  v6.writeUInt16BE(51413, 16)
  assert.deepEqual(compactPeers(v6, 18), ['[0:0:0:0:0:0:0:1]:51413'])
  assert.deepEqual(compactPeers(undefined, 6), [])
  assert.deepEqual(compactPeers(42, 6), [])
})
