/**
 * Fault-injection suite, "Exposure and secrets": one URL redactor, used everywhere, hides
 * userinfo passwords, query tokens and passkey path segments. The shapes are those of real
 * private trackers (Gazelle, UNIT3D, TorrentLeech, MAM, HDBits-style query keys); the passkeys
 * are made up. A real bittorrent-tracker behind a passkey-routing front, as private trackers run
 * it, proves the key never reaches `swarm_scrapes.tracker`, `swarm_trackers` or the scrape report.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { test } from 'node:test'
import { Server as TrackerServer } from 'bittorrent-tracker'
import { openDatabase } from '../../src/db/index.js'
import { FleetStore, scrapeSwarm } from '../../src/fleet/index.js'
import { redactUrl, redactUrlsIn } from '../../src/log/index.js'
import { displayLocation } from '../../src/mirror/index.js'
import { freePort, tempDir } from '../helpers.js'
import { fleetConfig, insertTorrent } from '../fleet/support.js'

const KEY = '8f3a9c2e71b04d5fa6e2c19b0d7e4f21'
const KEY2 = 'Zk4mQp9XwR2tLb7NvC3yHs6JdF8gAe5U'

test('secrets: real-world private-tracker URL shapes lose their passkey and keep their shape', () => {
  const cases: Array<[string, string]> = [
    // Gazelle (RED, OPS, GGn, AnimeBytes, BTN): /<passkey>/announce
    [`https://flacsfor.me/${KEY}/announce`, 'https://flacsfor.me/***/announce'],
    [`https://home.opsfet.ch/${KEY}/announce`, 'https://home.opsfet.ch/***/announce'],
    [
      `https://please.passthepopcorn.me:2710/${KEY}/announce`,
      'https://please.passthepopcorn.me:2710/***/announce',
    ],
    // Ocelot-style trackers with a short, letters-only key still lose it (beside announce).
    ['http://tracker.example:2710/abcdefgh/announce', 'http://tracker.example:2710/***/announce'],
    // UNIT3D (BHD, Aither, Blutopia): /announce/<passkey>
    [`https://aither.cc/announce/${KEY2}`, 'https://aither.cc/announce/***'],
    [`https://beyond-hd.me/announce/${KEY}`, 'https://beyond-hd.me/announce/***'],
    // TorrentLeech: /a/<passkey>/announce
    [`https://tracker.torrentleech.org/a/${KEY}/announce`, 'https://tracker.torrentleech.org/a/***/announce'],
    // MyAnonamouse: /tracker.php/<token>/announce
    [
      `https://t.myanonamouse.net/tracker.php/${KEY2}/announce`,
      'https://t.myanonamouse.net/tracker.php/***/announce',
    ],
    // Scrape URLs derived from them (BEP 48)
    [`https://flacsfor.me/${KEY}/scrape`, 'https://flacsfor.me/***/scrape'],
    // HDBits, TorrentDay, old TBDev: query keys under many names
    [
      `https://tracker.hdbits.org/announce.php?passkey=${KEY}`,
      'https://tracker.hdbits.org/announce.php?passkey=***',
    ],
    [
      `http://tracker.example/announce.php?pid=${KEY}&uid=12345`,
      'http://tracker.example/announce.php?pid=***&uid=***',
    ],
    [
      `http://tracker.example/announce?authkey=${KEY}&torrent_pass=${KEY2}`,
      'http://tracker.example/announce?authkey=***&torrent_pass=***',
    ],
    [`http://tracker.example/announce?${KEY}`, 'http://tracker.example/announce?***'],
    // A 32-hex key in a path of another shape
    [`http://tracker.example/t/${KEY}/a`, 'http://tracker.example/t/***/a'],
    // UDP with a key in the path (opentracker with access lists)
    [`udp://tracker.example:1337/${KEY}/announce`, 'udp://tracker.example:1337/***/announce'],
    // Userinfo: the password goes, the user stays, the last @ ends it.
    [
      'http://admin:s3cret@127.0.0.1:9091/transmission/rpc',
      'http://admin:***@127.0.0.1:9091/transmission/rpc',
    ],
    ['https://admin:p@ss@host/x', 'https://admin:***@host/x'],
    // A mirror list behind a token
    [
      'https://upstream.example/list.json?key=SECRET-TOKEN-123#frag',
      'https://upstream.example/list.json?key=***#frag',
    ],
    // A magnet's trackers
    [
      `magnet:?xt=urn:btih:${'a'.repeat(40)}&dn=x&tr=${encodeURIComponent(`https://flacsfor.me/${KEY}/announce`)}`,
      `magnet:?xt=urn:btih:${'a'.repeat(40)}&dn=x&tr=${encodeURIComponent('https://flacsfor.me/***/announce')}`,
    ],
  ]
  for (const [raw, want] of cases) assert.equal(redactUrl(raw), want, raw)
})

test('secrets: the redactor leaves URLs without secrets exactly as written', () => {
  for (const url of [
    'udp://tracker.opentrackr.org:1337/announce',
    'http://tracker.example/announce',
    'http://tracker.example/announce.php',
    'https://annas-archive.org/dyn/small_file/torrents/managed_by_aa/annas_archive_meta__aacid/annas_archive_meta__aacid__zlib3_records__20240809T171652Z--20250106T211613Z.torrent',
    'https://annas-archive.org/dyn/torrents.json',
    'http://127.0.0.1:9091/transmission/rpc',
    'https://admin@host/x',
    'http://host/users/a@b',
    // BEP 3 announce parameters are not secret
    'http://t.example/announce?info_hash=%12%34&peer_id=-AA0100-&port=6881&uploaded=0&downloaded=0&left=0&event=started&compact=1',
    'not a url',
    '/srv/lists/torrents.json',
  ])
    assert.equal(redactUrl(url), url)
  assert.equal(displayLocation('/srv/lists/torrents.json'), '/srv/lists/torrents.json')
})

test('secrets: URLs inside free text (a library error, a tracker warning) are redacted', () => {
  assert.equal(
    redactUrlsIn(`Error: connect ECONNREFUSED for https://flacsfor.me/${KEY}/announce, giving up.`),
    'Error: connect ECONNREFUSED for https://flacsfor.me/***/announce, giving up.',
  )
  assert.equal(
    redactUrlsIn(`tracker "http://t.example/announce?passkey=${KEY}" said (http://a:b@c/d)`),
    'tracker "http://t.example/announce?passkey=***" said (http://a:***@c/d)',
  )
})

/** A real bittorrent-tracker behind a front that routes /<passkey>/{announce,scrape} to it. */
async function passkeyTracker(
  t: import('node:test').TestContext,
): Promise<{ announce: string; hits: string[] }> {
  const tracker = new TrackerServer({ udp: false, ws: false, http: false, stats: false })
  tracker.on('error', () => {})
  tracker.on('warning', () => {})
  const hits: string[] = []
  const onRequest = (
    tracker as unknown as {
      onHttpRequest(req: IncomingMessage, res: ServerResponse, opts: { action: string }): void
    }
  ).onHttpRequest.bind(tracker)
  const front = createServer((req, res) => {
    const m = /^\/([^/]+)\/(announce|scrape)(\?|$)/.exec(req.url ?? '')
    if (!m || m[1] !== KEY) {
      res.statusCode = 404
      res.end()
      return
    }
    hits.push(m[2]!)
    onRequest(req, res, { action: m[2]! })
  })
  const port = await freePort()
  await new Promise<void>((res) => front.listen(port, '127.0.0.1', res))
  t.after(() => new Promise<void>((res) => front.close(() => res())))
  return { announce: `http://127.0.0.1:${port}/${KEY}/announce`, hits }
}

test('secrets: a passkey in a tracker path is not stored in swarm_scrapes.tracker nor reported', async (t) => {
  const tr = await passkeyTracker(t)
  const dir = tempDir(t)
  const dbPath = join(dir, 'aacseed.db')
  const db = openDatabase(dbPath)
  t.after(() => db.close())
  const infohash = createHash('sha1').update('redact').digest('hex')
  insertTorrent(db, {
    name: 'annas_archive_data__aacid__c__20241101T000000Z--20241101T000001Z',
    infohash,
    torrentPath: join(dir, '0.torrent'),
    size: 1000,
    root: dir,
  })
  const wrongKey = tr.announce.replace(KEY, KEY2)
  const config = fleetConfig(dbPath, [], {}, { torrents: { announce: [[tr.announce], [wrongKey]] } })
  const report = await scrapeSwarm(db, config)
  assert.ok(tr.hits.includes('scrape'), 'the real tracker was scraped through its passkey path')
  assert.equal(report.failed.length, 1, 'the wrong key fails')
  const store = new FleetStore(db)
  const dump = JSON.stringify([
    report,
    store.trackers(),
    db.prepare('SELECT * FROM swarm_scrapes').all(),
    store.swarmSeries(infohash),
  ])
  assert.ok(!dump.includes(KEY) && !dump.includes(KEY2), dump)
  assert.ok(
    store.trackers().some((x) => x.tracker === tr.announce.replace(KEY, '***')),
    dump,
  )
  assert.equal((db.prepare('SELECT count(*) AS n FROM swarm_scrapes').get() as { n: number }).n, 1)
})
