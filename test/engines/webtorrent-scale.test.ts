/**
 * WebTorrent at seedbox scale: adding an already-hashed 2 GiB release must not read it, and
 * 1,000 torrents (announcing, some verifying) must stay far below 2,000 open descriptors.
 */
import assert from 'node:assert/strict'
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import type { EngineTorrent, CopyState } from '../../src/engines/index.js'
import { WebTorrentEngine } from '../../src/engines/webtorrent.js'
import { tempDir, waitFor } from '../helpers.js'
import {
  bytesReadSoFar,
  infoHashOf,
  makeRelease,
  makeTorrent,
  openFds,
  startTracker,
  type Release,
} from './fixtures.js'

const GiB = 2 ** 30

test('adding an already-hashed 2 GiB release with verify=false reads none of it', async (t) => {
  const dir = tempDir(t)
  // Eight sparse 256 MiB files of zeros: a real, valid torrent whose pieces are all the same hash.
  const name = 'annas_archive_data__aacid__upload_files_big__20241105T000000Z--20241105T000001Z'
  mkdirSync(join(dir, name))
  const files = Array.from({ length: 8 }, (_, i) => ({
    path: `aacid__upload_files_big__20241105T000000Z__${i}__sparse`,
    size: 256 * 2 ** 20,
  }))
  for (const f of files) {
    writeFileSync(join(dir, name, f.path), '')
    truncateSync(join(dir, name, f.path), f.size)
  }
  const release: Release = { root: dir, name, dir: join(dir, name), files }
  const torrent = makeTorrent(release, { pieceLength: 4 * 2 ** 20, zeros: true })
  const infoHash = infoHashOf(torrent)
  const engine = new WebTorrentEngine({
    port: 0,
    host: '127.0.0.1',
    dht: false,
    lsd: false,
    trackers: [],
    max_connections: 55,
  })
  t.after(() => engine.close())
  await engine.start()

  const readBefore = bytesReadSoFar()
  const started = process.hrtime.bigint()
  assert.equal(await engine.add({ torrent, infoHash, name, dataDir: dir, verify: false }), 'added')
  const ms = Number(process.hrtime.bigint() - started) / 1e6
  const read = bytesReadSoFar() - readBefore
  const [s] = await engine.list()
  assert.equal(s?.state, 'seeding')
  assert.equal(s?.bytesPresent, 2 * GiB)
  assert.ok(read < 2 ** 20, `add read ${read} bytes`)
  assert.ok(ms < 2000, `add took ${ms} ms`)
  t.diagnostic(
    `add of an already-hashed 2 GiB torrent (512 pieces, 8 files) with verify=false: ${ms.toFixed(1)} ms, ${read} bytes read`,
  )
})

test('1,000 torrents announcing, 200 of them verifying, stay within a bounded number of open descriptors', async (t) => {
  const dir = tempDir(t)
  const tracker = await startTracker(t)
  const releases: Array<{ release: Release; torrent: Buffer; infoHash: string }> = []
  for (let i = 0; i < 1000; i++) {
    const release = makeRelease(join(dir, 'releases'), [3000, 5000, 7000], { collection: `scale${i}` })
    const torrent = makeTorrent(release, { pieceLength: 2 ** 15, announce: tracker.announce })
    releases.push({ release, torrent, infoHash: infoHashOf(torrent) })
  }
  const item = (r: (typeof releases)[number], verify: boolean): EngineTorrent => ({
    torrent: r.torrent,
    infoHash: r.infoHash,
    name: r.release.name,
    dataDir: r.release.root,
    verify,
  })
  const maxOpenFiles = 64
  const maxTrackerSockets = 8
  const engine = new WebTorrentEngine(
    { port: 0, host: '127.0.0.1', dht: false, lsd: false, trackers: [], max_connections: 55 },
    { maxOpenFiles, maxTrackerSockets, maxConcurrentAnnounces: 8, maxConcurrentVerifications: 2 },
  )
  t.after(() => engine.close())
  await engine.start()

  const base = openFds()
  let peak = base
  const sampler = setInterval(() => (peak = Math.max(peak, openFds())), 2)
  t.after(() => clearInterval(sampler))

  const started = Date.now()
  const results = await Promise.all(releases.map((r) => engine.add(item(r, false))))
  const addMs = Date.now() - started
  assert.equal(results.filter((r) => r === 'added').length, 1000)
  await waitFor(
    'the tracker to know all 1,000 seeders',
    () => releases.every((r) => tracker.seeders(r.infoHash) >= 1),
    120_000,
    50,
  )
  const peakAnnouncing = peak

  // 200 of them again, verified: 600 files are read through the shared handle pool.
  const again = releases.slice(0, 200)
  await Promise.all(again.map((r) => engine.remove(r.infoHash)))
  const adds = Promise.all(again.map((r) => engine.add(item(r, true))))
  const states = new Set<CopyState>((await engine.list()).map((s) => s.state))
  assert.ok(
    states.has('checking'),
    `torrents waiting for a verification slot are checking (saw ${[...states].join(', ')})`,
  )
  await adds
  clearInterval(sampler)
  const list = await engine.list()
  assert.equal(list.length, 1000)
  assert.ok(
    list.every((s) => s.state === 'seeding' && s.bytesPresent === 15000),
    'every torrent seeds all its data',
  )

  t.diagnostic(
    `1,000 adds (verify=false) took ${addMs} ms; open descriptors: ${base} before, peak ${peakAnnouncing} while announcing, peak ${peak} with 200 verifying (pool ${maxOpenFiles}, tracker sockets ${maxTrackerSockets})`,
  )
  // Tracker sockets on both ends (the tracker runs in this process) plus the pool plus slack.
  assert.ok(peak - base <= maxOpenFiles + 2 * maxTrackerSockets + 40, `peak ${peak} vs base ${base}`)
})
