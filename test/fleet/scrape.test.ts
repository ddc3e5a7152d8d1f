/**
 * Tracker scrapes: BEP 48 (HTTP) and BEP 15 (UDP) against a real bittorrent-tracker server on
 * 127.0.0.1, many infohashes per request; the stored time series; and the figures in the
 * published torrent list (`seeders`, `leechers`, `completed`, `stats_scraped_at`,
 * `aa_currently_seeding`).
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createSocket } from 'node:dgram'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { torrentList } from '../../src/publish/index.js'
import { openDatabase } from '../../src/db/index.js'
import { FleetStore, scrapeSwarm } from '../../src/fleet/index.js'
import { parseScrapeResponse, scrapeTracker, scrapeUrl, ScrapeError } from '../../src/fleet/scrape.js'
import { encode } from '../../src/torrents/index.js'
import { freePort, tempDir } from '../helpers.js'
import { fleetConfig, insertTorrent } from './support.js'
import { startTracker } from '../engines/fixtures.js'

const hash = (i: number): string => createHash('sha1').update(`scrape ${i}`).digest('hex')

async function tracker(
  t: TestContext,
): Promise<{ http: string; udp: string; announce(h: string, seeder: boolean, n: number): Promise<void> }> {
  const { port, udp } = await startTracker(t, { udp: true })
  const enc = (hex: string) =>
    [...Buffer.from(hex, 'hex')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('')
  let peer = 0
  return {
    http: `http://127.0.0.1:${port}/announce`,
    udp,
    async announce(h, seeder, n) {
      for (let i = 0; i < n; i++) {
        const id = createHash('sha1').update(`peer ${peer++}`).digest('hex')
        const r = await fetch(
          `http://127.0.0.1:${port}/announce?info_hash=${enc(h)}&peer_id=${enc(id)}&port=${10000 + peer}&uploaded=0&downloaded=0&left=${seeder ? 0 : 1000}&event=started&compact=1`,
        )
        await r.arrayBuffer()
      }
    },
  }
}

test('scrapeUrl: BEP 48, the last path component "announce" becomes "scrape"', () => {
  assert.equal(scrapeUrl('http://example.com/announce'), 'http://example.com/scrape')
  assert.equal(scrapeUrl('http://example.com/x/announce'), 'http://example.com/x/scrape')
  assert.equal(scrapeUrl('http://example.com/announce.php'), 'http://example.com/scrape.php')
  assert.equal(scrapeUrl('http://example.com/announce?passkey=abc'), 'http://example.com/scrape?passkey=abc')
  assert.equal(scrapeUrl('http://example.com/a'), null)
  assert.equal(scrapeUrl('http://example.com/announce/x'), null)
})

test('parseScrapeResponse: raw, hex and UTF-8-mangled infohash keys; failure reasons', () => {
  const h = hash(1)
  const figures = { complete: 5, downloaded: 50, incomplete: 2 }
  const raw = Buffer.concat([
    Buffer.from('d5:filesd20:'),
    Buffer.from(h, 'hex'),
    encode(figures),
    Buffer.from('ee'),
  ])
  assert.deepEqual(parseScrapeResponse(raw).get(h), figures)
  const hex = encode({ files: { [h]: figures } })
  assert.deepEqual(parseScrapeResponse(hex).get(h), figures)
  const mangled = Buffer.from(Buffer.from(h, 'hex').toString('latin1'), 'utf8')
  const utf8 = Buffer.concat([
    Buffer.from(`d5:filesd${mangled.length}:`),
    mangled,
    encode(figures),
    Buffer.from('ee'),
  ])
  assert.deepEqual(parseScrapeResponse(utf8).get(h), figures)
  assert.throws(() => parseScrapeResponse(encode({ 'failure reason': 'not allowed' })), /not allowed/)
  assert.throws(() => parseScrapeResponse(Buffer.from('<html>')), /bad scrape answer|not a dictionary/)
})

test('HTTP and UDP scrapes of a real tracker agree, many infohashes per request', async (t) => {
  const tr = await tracker(t)
  const hashes = Array.from({ length: 100 }, (_, i) => hash(i))
  await tr.announce(hashes[0]!, true, 3)
  await tr.announce(hashes[0]!, false, 2)
  await tr.announce(hashes[77]!, true, 1)
  const viaHttp = await scrapeTracker(tr.http, hashes, { timeoutMs: 5000, batch: 30 })
  const viaUdp = await scrapeTracker(tr.udp, hashes, { timeoutMs: 5000, batch: 500 })
  assert.equal(viaHttp.length, 100)
  assert.deepEqual(
    viaUdp,
    viaHttp.map((r) => ({
      infohash: r.infohash,
      seeders: r.seeders,
      completed: r.completed,
      leechers: r.leechers,
    })),
  )
  const byHash = new Map(viaHttp.map((r) => [r.infohash, r]))
  assert.deepEqual(byHash.get(hashes[0]!), { infohash: hashes[0]!, seeders: 3, leechers: 2, completed: 3 })
  assert.equal(byHash.get(hashes[77]!)!.seeders, 1)
  assert.equal(byHash.get(hashes[5]!)!.seeders, 0, 'a torrent the tracker does not know has no peers')
})

test('a UDP tracker that never answers fails within the timeout, as a ScrapeError', async (t) => {
  const sock = createSocket('udp4')
  await new Promise<void>((res) => sock.bind(0, '127.0.0.1', res))
  t.after(() => sock.close())
  const started = Date.now()
  await assert.rejects(
    scrapeTracker(`udp://127.0.0.1:${sock.address().port}`, [hash(1)], { timeoutMs: 400, batch: 10 }),
    (e: unknown) =>
      e instanceof ScrapeError && e.code === 'scrape-failed' && /no answer within 400 ms/.test(e.message),
  )
  assert.ok(Date.now() - started < 2000)
})

test('the scrape job stores a time series, and the torrent list shows the figures and aa_currently_seeding', async (t) => {
  const tr = await tracker(t)
  const dir = tempDir(t)
  const dbPath = join(dir, 'aacseed.db')
  const db = openDatabase(dbPath)
  t.after(() => db.close())
  const [a, b, c] = [0, 1, 2].map((i) =>
    insertTorrent(db, {
      name: `annas_archive_data__aacid__c__2024110${i}T000000Z--2024110${i}T000001Z`,
      infohash: hash(i),
      torrentPath: join(dir, `${i}.torrent`),
      size: 1000,
      root: dir,
    }),
  )
  await tr.announce(a!.infohash, true, 4)
  await tr.announce(a!.infohash, false, 1)
  const dead = `http://127.0.0.1:${await freePort()}/announce`
  const config = fleetConfig(
    dbPath,
    [],
    {},
    { torrents: { announce: [[tr.http], [dead]] }, scrape: { trackers: [tr.udp], timeout_ms: 1000 } },
  )
  let now = Date.parse('2026-11-24T10:00:00.000Z')
  const r1 = await scrapeSwarm(db, config, { now: () => new Date(now) })
  assert.deepEqual([r1.trackers, r1.torrents, r1.figures, r1.failed.length], [3, 3, 6, 1])
  assert.match(r1.failed[0]!.error, /ECONNREFUSED/)
  await tr.announce(a!.infohash, true, 2)
  now += 30 * 60_000
  await scrapeSwarm(db, config, { now: () => new Date(now) })
  const store = new FleetStore(db)
  const series = store.swarmSeries(a!.infohash).filter((x) => x.tracker === tr.http)
  assert.deepEqual(
    series.map((x) => x.seeders),
    [4, 6],
    'one point per scrape',
  )
  assert.equal(store.trackers().find((x) => x.tracker === dead)!.error !== null, true)

  // b: seen seeding by the local engine 3 days ago; c: 8 days ago.
  const seenAgo = (days: number) => new Date(Date.now() - days * 86_400_000).toISOString()
  const ins = db.prepare(
    "INSERT INTO engine_torrents (infohash, engine, name, state, bytes_present, total_bytes, uploaded, peers, error, first_seeding_at, last_seeding_at, updated_at) VALUES (?, 'webtorrent', ?, 'paused', 0, 0, 0, 0, NULL, ?, ?, ?)",
  )
  ins.run(b!.infohash, b!.name, seenAgo(3), seenAgo(3), seenAgo(0))
  ins.run(c!.infohash, c!.name, seenAgo(8), seenAgo(8), seenAgo(0))
  const list = new Map(torrentList(db, config).map((e) => [e.btih, e]))
  const ea = list.get(a!.infohash)!
  assert.deepEqual(
    [ea.seeders, ea.leechers, ea.completed, ea.stats_scraped_at],
    [6, 1, 6, '2026-11-24T10:30:00'],
  )
  assert.equal(list.get(b!.infohash)!.aa_currently_seeding, true)
  assert.equal(list.get(c!.infohash)!.aa_currently_seeding, false)
  assert.equal(list.get(c!.infohash)!.seeders, 0)

  // The series is bounded by scrape.keep_days.
  now += 91 * 86_400_000
  await scrapeSwarm(db, config, { now: () => new Date(now) })
  assert.equal(store.swarmSeries(a!.infohash).filter((x) => x.tracker === tr.http).length, 1)
})
