/**
 * Tracker trouble in the log per tracker, not per torrent (src/engines/tracker-log.ts): the
 * embedded engine's announcer (src/engines/announcer.ts) against a port on 127.0.0.1 that refuses
 * connections, a real HTTP server answering as a tracker, and UDP sockets on 127.0.0.1 that
 * answer garbage or nothing (announced through bittorrent-tracker's Client). The torrents are fakes (an infohash
 * and announce numbers each): what is tested is what 200 of them log, not what they share.
 */
import assert from 'node:assert/strict'
import { createSocket } from 'node:dgram'
import { createServer, type Server } from 'node:http'
import { test, type TestContext } from 'node:test'
import { Announcer, type AnnounceTarget } from '../../src/engines/announcer.js'
import { TrackerLog } from '../../src/engines/tracker-log.js'
import { freePort, waitFor } from '../helpers.js'
import { memoryLogger } from './fixtures.js'

const SECRET_PATH = '0123456789abcdef0123456789abcdef'
const SECRET_QUERY = 'S3cretPasskey42'

function fakeTorrent(i: number): AnnounceTarget {
  return {
    infoHash: i.toString(16).padStart(40, '0'),
    numbers: () => ({ uploaded: 0, downloaded: 0, left: 0 }),
    addPeer: () => {},
  }
}

function announcer(t: TestContext): Announcer {
  const a = new Announcer({ peerId: 'ab'.repeat(20), port: 6881, maxSockets: 8, timeoutMs: 10_000 })
  t.after(() => a.close(100))
  return a
}

async function trackerServer(t: TestContext, port: number, answer: string): Promise<Server> {
  const server = createServer((_req, res) => res.end(answer))
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())))
  return server
}

test('200 torrents on a tracker that refuses connections log one warning naming it (passkey redacted), the error and 200 torrents; its recovery is one info line', async (t) => {
  const port = await freePort()
  const url = `http://127.0.0.1:${port}/${SECRET_PATH}/announce?passkey=${SECRET_QUERY}`
  const log = memoryLogger()
  const trackers = new TrackerLog(log, 'webtorrent', { windowMs: 5000 })
  t.after(() => trackers.close())
  const a = announcer(t)
  const start = (i: number): void => {
    const target = fakeTorrent(i)
    a.start(target, [url], {
      onAnswer: (tracker) => trackers.answered(tracker, target.infoHash),
      onTrouble: (trouble) => trackers.trouble(target.infoHash, `torrent ${i}`, trouble),
    })
  }
  for (let i = 1; i <= 200; i++) start(i)
  await waitFor('200 failed announces', () => log.lines.filter((l) => l.level === 'debug').length >= 200)
  await waitFor('the tracker warning', () => log.lines.some((l) => l.level === 'warn'), 20_000)
  // Longer than the window: a warning per torrent, or a second one, would be here by now.
  await new Promise((r) => setTimeout(r, 500))
  const warnings = log.lines.filter((l) => l.level === 'warn')
  assert.equal(warnings.length, 1, JSON.stringify(warnings))
  assert.equal(warnings[0]!.fields.torrents, 200)
  assert.match(
    warnings[0]!.msg,
    /tracker http:\/\/127\.0\.0\.1:\d+\/\*\*\*\/announce\?passkey=\*\*\* is not answering/,
  )
  assert.match(warnings[0]!.msg, /ECONNREFUSED/)
  assert.match(warnings[0]!.msg, /200 torrent\(s\) affected/)
  // Each failed announce is there at debug, with its torrent.
  assert.equal(
    log.lines.filter((l) => l.level === 'debug' && l.fields.infoHash === fakeTorrent(7).infoHash).length,
    1,
  )

  // The tracker comes back: the next answer (a torrent added now) is one info line.
  await trackerServer(t, port, 'd8:intervali1800e5:peers0:e')
  start(201)
  await waitFor('the recovery line', () => log.lines.some((l) => l.level === 'info'))
  const infos = log.lines.filter((l) => l.level === 'info')
  assert.equal(infos.length, 1)
  assert.match(infos[0]!.msg, /answers again after \d+ s; 200 torrent\(s\) were affected/)
  assert.equal(log.lines.filter((l) => l.level === 'warn').length, 1)
  for (const l of log.lines) {
    const text = JSON.stringify(l)
    assert.ok(
      !text.includes(SECRET_QUERY) && !text.includes(SECRET_PATH),
      `a passkey reached the log: ${text}`,
    )
  }
})

test('a tracker refusing torrents one by one (unregistered torrent) is a warning per torrent, at most 10 per window and then one line for the rest; the tracker is not reported down', async (t) => {
  const port = await freePort()
  await trackerServer(t, port, 'd14:failure reason20:unregistered torrente')
  const url = `http://127.0.0.1:${port}/announce?passkey=${SECRET_QUERY}`
  const log = memoryLogger()
  const trackers = new TrackerLog(log, 'webtorrent', { torrentWindowMs: 1500, torrentLines: 10 })
  t.after(() => trackers.close())
  const a = announcer(t)
  for (let i = 1; i <= 50; i++) {
    const target = fakeTorrent(i)
    a.start(target, [url], {
      onAnswer: (tracker) => trackers.answered(tracker, target.infoHash),
      onTrouble: (trouble) => trackers.trouble(target.infoHash, `torrent ${i}`, trouble),
    })
  }
  await waitFor('50 refusals', () => log.lines.filter((l) => l.level === 'debug').length >= 50)
  await waitFor('the summary line', () => log.lines.some((l) => /more torrent/.test(l.msg)), 10_000)
  const warnings = log.lines.filter((l) => l.level === 'warn')
  const perTorrent = warnings.filter((l) => /refused torrent torrent \d+: unregistered torrent/.test(l.msg))
  assert.equal(perTorrent.length, 10)
  assert.equal(warnings.length, 11, JSON.stringify(warnings.map((l) => l.msg)))
  assert.equal(warnings.at(-1)!.fields.torrents, 40)
  assert.ok(!warnings.some((l) => /not answering/.test(l.msg)))
  assert.ok(!JSON.stringify(log.lines).includes(SECRET_QUERY))
})

test('a torrent refused again with the same reason is not warned about again; unsupported protocols are one line per tracker', () => {
  const log = memoryLogger()
  const trackers = new TrackerLog(log, 'webtorrent')
  const tracker = 'http://127.0.0.1:1/announce'
  trackers.trouble('a'.repeat(40), 'A', { tracker, kind: 'refused', message: 'unregistered torrent' })
  trackers.trouble('a'.repeat(40), 'A', { tracker, kind: 'refused', message: 'unregistered torrent' })
  assert.equal(log.lines.filter((l) => l.level === 'warn').length, 1)
  for (let i = 0; i < 100; i++)
    trackers.trouble(String(i).padStart(40, '0'), `t${i}`, {
      tracker: 'wss://tracker.example/announce',
      kind: 'unsupported',
      message: 'unsupported tracker protocol',
    })
  assert.equal(log.lines.filter((l) => l.level === 'warn').length, 2)
  trackers.close()
})

test('a tracker that flaps warns at most once per reminder period, and one still down is reminded of at that rate', async () => {
  const log = memoryLogger()
  let now = 1_000_000
  const trackers = new TrackerLog(log, 'webtorrent', { windowMs: 20, reminderMs: 100_000, now: () => now })
  const tracker = 'http://127.0.0.1:1/announce'
  const fail = (i: number): void =>
    trackers.trouble(String(i).padStart(40, '0'), `t${i}`, {
      tracker,
      kind: 'unreachable',
      message: 'ECONNREFUSED',
    })
  const levels = (): string[] => log.lines.filter((l) => l.level !== 'debug').map((l) => l.level)
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 80))
  fail(1)
  fail(2)
  await settle()
  assert.deepEqual(levels(), ['warn'])
  now += 1000
  trackers.answered(tracker, String(3).padStart(40, '0'))
  assert.deepEqual(levels(), ['warn', 'info'])
  // Down again a second later, and back before its warning was due: neither is an info line.
  now += 1000
  fail(1)
  await settle()
  trackers.answered(tracker, String(1).padStart(40, '0'))
  assert.deepEqual(levels(), ['warn', 'info'])
  // Down again after the reminder period: a warning again.
  now += 100_000
  fail(1)
  await settle()
  assert.deepEqual(levels(), ['warn', 'info', 'warn'])
  // Still down: more failures write nothing until the period is over, then one reminder.
  for (let i = 0; i < 50; i++) fail(i)
  await settle()
  assert.deepEqual(levels(), ['warn', 'info', 'warn'])
  now += 100_000
  fail(1)
  await settle()
  assert.deepEqual(levels(), ['warn', 'info', 'warn', 'warn'])
  assert.match(
    log.lines.filter((l) => l.level === 'warn').at(-1)!.msg,
    /still not answering after \d+ min \(ECONNREFUSED\); 50 torrent\(s\) affected/,
  )
  trackers.close()
})

/** A UDP socket on 127.0.0.1 that answers each datagram with `answer`, or never when it is null. */
async function udpEndpoint(t: TestContext, answer: Buffer | null): Promise<number> {
  const socket = createSocket('udp4')
  socket.on('message', (_msg, from) => {
    if (answer) socket.send(answer, from.port, from.address)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
  t.after(() => new Promise<void>((resolve) => socket.close(() => resolve())))
  return socket.address().port
}

test('UDP trackers that answer garbage or nothing are each one warning naming that tracker (from the URL bittorrent-tracker appends to its error), with all its torrents', async (t) => {
  // Garbage: shorter than any BEP 15 answer, so the client fails at once; silence: its request
  // times out (bittorrent-tracker's 15 s).
  const garbage = `udp://127.0.0.1:${await udpEndpoint(t, Buffer.from('nope'))}/${SECRET_PATH}/announce?passkey=${SECRET_QUERY}`
  const silent = `udp://127.0.0.1:${await udpEndpoint(t, null)}/announce`
  const log = memoryLogger()
  const trackers = new TrackerLog(log, 'webtorrent', { windowMs: 1000 })
  t.after(() => trackers.close())
  const a = announcer(t)
  const torrents = 20
  for (let i = 1; i <= torrents; i++) {
    const target = fakeTorrent(i)
    // Both trackers in one list: an error without its URL could not be told apart (it would be
    // taken for the first tracker's warning about this torrent).
    a.start(target, [silent, garbage], {
      onAnswer: (tracker) => trackers.answered(tracker, target.infoHash),
      onTrouble: (trouble) => trackers.trouble(target.infoHash, `torrent ${i}`, trouble),
    })
  }
  const warnings = (): typeof log.lines => log.lines.filter((l) => l.level === 'warn')
  await waitFor('the warnings of both trackers', () => warnings().length >= 2, 60_000)
  const shownGarbage = garbage.replace(SECRET_PATH, '***').replace(SECRET_QUERY, '***')
  const byTracker = new Map(warnings().map((l) => [l.fields.tracker, l]))
  assert.deepEqual(
    [...byTracker.keys()].sort(),
    [shownGarbage, silent].sort(),
    JSON.stringify(warnings().map((l) => l.msg)),
  )
  const g = byTracker.get(shownGarbage)!
  assert.equal(g.fields.torrents, torrents)
  assert.equal(g.fields.err, 'tracker sent invalid transaction id')
  assert.match(g.msg, /tracker udp:\/\/127\.0\.0\.1:\d+\/\*\*\*\/announce\?passkey=\*\*\* is not answering/)
  const s = byTracker.get(silent)!
  assert.equal(s.fields.torrents, torrents)
  assert.equal(s.fields.err, 'tracker request timed out (started)')
  // Each torrent's failures are debug lines naming the tracker, never a warning per torrent.
  assert.equal(warnings().length, 2, JSON.stringify(warnings().map((l) => l.msg)))
  const debug = log.lines.filter((l) => l.level === 'debug')
  assert.equal(debug.filter((l) => l.fields.tracker === shownGarbage).length, torrents)
  assert.equal(debug.filter((l) => l.fields.tracker === silent).length, torrents)
  assert.ok(!JSON.stringify(log.lines).includes(SECRET_QUERY))
  assert.ok(!JSON.stringify(log.lines).includes(SECRET_PATH))
})
