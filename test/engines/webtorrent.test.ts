import assert from 'node:assert/strict'
import { cpSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import diagnosticsChannel from 'node:diagnostics_channel'
import { createServer, connect, type Socket } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import type { Torrent } from 'webtorrent'
import { configSchema } from '../../src/config/index.js'
import {
  createEngine,
  isEngineError,
  type EngineTorrent,
  type EngineTorrentStatus,
} from '../../src/engines/index.js'
import {
  addWithoutDuplicateScan,
  createClient,
  PEER_REQUEST_QUEUE,
  WebTorrentEngine,
  type WebTorrentConfig,
} from '../../src/engines/webtorrent.js'
import { freePort, requireTool, tempDir, waitFor } from '../helpers.js'
import {
  aria2cDownload,
  bytesReadSoFar,
  infoHashOf,
  makeRelease,
  makeTorrent,
  memoryLogger,
  mktorrent,
  readTree,
  startTracker,
  writeRandom,
  type Release,
} from './fixtures.js'

function wtConfig(over: Partial<WebTorrentConfig> = {}): WebTorrentConfig {
  return { port: 0, host: '127.0.0.1', dht: false, lsd: false, trackers: [], max_connections: 55, ...over }
}

async function startEngine(
  t: TestContext,
  over: Partial<WebTorrentConfig> = {},
  logger = memoryLogger(),
): Promise<WebTorrentEngine> {
  const engine = new WebTorrentEngine(wtConfig(over), { logger })
  t.after(() => engine.close())
  await engine.start()
  return engine
}

function totalSize(r: Release): number {
  return r.files.reduce((s, f) => s + f.size, 0)
}

async function only(engine: WebTorrentEngine): Promise<EngineTorrentStatus> {
  const all = await engine.list()
  assert.equal(all.length, 1, `expected one torrent, got ${JSON.stringify(all)}`)
  return all[0]!
}

interface Fixture {
  dir: string
  release: Release
  torrentPath: string
  torrent: Buffer
  infoHash: string
  add(dataDir: string, verify: boolean): EngineTorrent
}

function fixture(t: TestContext, announce: string, sizes = [1_500_000, 700_001, 3_000_000, 1]): Fixture {
  const dir = tempDir(t)
  const release = makeRelease(join(dir, 'releases'), sizes)
  const torrentPath = join(dir, `${release.name}.torrent`)
  const torrent = mktorrent(release.dir, announce, torrentPath)
  const infoHash = infoHashOf(torrent)
  return {
    dir,
    release,
    torrentPath,
    torrent,
    infoHash,
    add: (dataDir, verify) => ({ torrent, infoHash, name: release.name, dataDir, verify, labels: ['test'] }),
  }
}

test('webtorrent seeds a release folder without verifying it, and aria2c downloads it byte for byte', async (t) => {
  if (!requireTool(t, 'mktorrent') || !requireTool(t, 'aria2c')) return
  const tracker = await startTracker(t)
  const f = fixture(t, tracker.announce)
  const total = totalSize(f.release)
  const logger = memoryLogger()
  const config = configSchema.parse({
    engine: { kind: 'webtorrent', webtorrent: { port: 0, host: '127.0.0.1', dht: false, lsd: false } },
  })
  const engine = createEngine(config.engine, { logger })
  assert.equal(engine.kind, 'webtorrent')
  t.after(() => engine.close())
  await engine.start()

  // Our infohash (bencode info slice) and webtorrent's own parse agree, or add would reject.
  assert.equal(await engine.add(f.add(f.release.root, false)), 'added')
  const [added] = await engine.list()
  assert.deepEqual(added, {
    infoHash: f.infoHash,
    name: f.release.name,
    state: 'seeding',
    bytesPresent: total,
    totalBytes: total,
    uploaded: 0,
    peers: 0,
    error: null,
  })
  assert.equal(await engine.add(f.add(f.release.root, false)), 'duplicate')
  assert.equal((await engine.list()).length, 1)

  await waitFor('the tracker to list the seeder', () => tracker.seeders(f.infoHash) >= 1)
  const out = join(f.dir, 'aria2')
  await aria2cDownload(t, f.torrentPath, out)
  const got = readTree(join(out, f.release.name))
  const want = readTree(f.release.dir)
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort())
  for (const [k, v] of want) assert.ok(got.get(k)!.equals(v), `${k} differs`)

  const after = await waitFor('uploaded bytes to be counted', async () => {
    const [s] = await engine.list()
    return s && s.uploaded >= total ? s : undefined
  })
  assert.equal(after.state, 'seeding')
  assert.equal(after.bytesPresent, total)
  // One torrent added as planned is a debug line: serve adds thousands at every start.
  assert.ok(
    logger.lines.some(
      (l) => l.level === 'debug' && l.msg === 'webtorrent: torrent added' && l.fields.infoHash === f.infoHash,
    ),
  )
  assert.ok(!logger.lines.some((l) => l.level === 'info' && l.fields.infoHash === f.infoHash))
})

test('verify=false trusts the data without reading it; verify=true (also on a duplicate) finds the corrupted pieces', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  // Nothing listens on this port: every announce fails, which must be a logged warning, not a crash.
  const deadTracker = `http://127.0.0.1:${await freePort()}/announce`
  const f = fixture(t, deadTracker)
  const total = totalSize(f.release)
  // Corrupt the middle file after hashing: same size, different bytes.
  const victim = f.release.files[2]!
  writeRandom(join(f.release.dir, victim.path), victim.size)
  // The torrent's own tracker is dead; the configured extra tracker is announced to as well.
  const extra = await startTracker(t)
  const logger = memoryLogger()
  const engine = await startEngine(t, { trackers: [extra.announce] }, logger)

  const before = bytesReadSoFar()
  assert.equal(await engine.add(f.add(f.release.root, false)), 'added')
  const read = bytesReadSoFar() - before
  const trusted = await only(engine)
  assert.equal(trusted.state, 'seeding')
  assert.equal(trusted.bytesPresent, total, 'skipVerify reports every piece present')
  assert.ok(read < total / 4, `adding with verify=false read ${read} bytes of a ${total}-byte release`)
  // One warning for the tracker (tracker-log.ts), naming how many torrents it fails; the torrent's
  // own failed announce is a debug line.
  await waitFor('the tracker failure to be logged as a warning', () =>
    logger.lines.some((l) => l.level === 'warn' && /is not answering/.test(l.msg) && l.fields.torrents === 1),
  )
  assert.ok(
    logger.lines.some(
      (l) => l.level === 'debug' && l.fields.infoHash === f.infoHash && /announce to/.test(l.msg),
    ),
  )
  await waitFor('the configured extra tracker to list the seeder', () => extra.seeders(f.infoHash) >= 1)

  // The same torrent again with verify=true: still a duplicate, but now the data is checked.
  const before2 = bytesReadSoFar()
  assert.equal(await engine.add(f.add(f.release.root, true)), 'duplicate')
  const read2 = bytesReadSoFar() - before2
  const checked = await only(engine)
  assert.ok(read2 >= total, `verification must read the data (read ${read2} of ${total})`)
  assert.equal(checked.state, 'downloading')
  assert.equal(checked.totalBytes, total)
  assert.ok(
    checked.bytesPresent > 0 && checked.bytesPresent < total,
    `bytesPresent ${checked.bytesPresent} of ${total}`,
  )
  // Pieces wholly inside the corrupted file are missing; the others are present.
  assert.ok(checked.bytesPresent <= total - victim.size + 2 * 2 ** 18, `bytesPresent ${checked.bytesPresent}`)

  await engine.remove(f.infoHash)
  assert.deepEqual(await engine.list(), [])
  await engine.remove(f.infoHash) // unknown: not an error
  for (const file of f.release.files)
    assert.equal(statSync(join(f.release.dir, file.path)).size, file.size, 'remove never deletes data')

  // Added fresh with verify=true: the same finding.
  assert.equal(await engine.add(f.add(f.release.root, true)), 'added')
  assert.equal((await only(engine)).bytesPresent, checked.bytesPresent)
})

test('a torrent failing after it was added shows as error in list() and leaves the engine working; another peer repairs a damaged copy', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const tracker = await startTracker(t)
  const f = fixture(t, tracker.announce)
  const total = totalSize(f.release)
  const seeder = await startEngine(t)
  assert.equal(await seeder.add(f.add(f.release.root, false)), 'added')
  await waitFor('the tracker to list the seeder', () => tracker.seeders(f.infoHash) >= 1)

  // A damaged copy: one file overwritten. verify=true finds it, downloads it from the seeder, writes it.
  const repairRoot = join(f.dir, 'repair')
  cpSync(f.release.root, repairRoot, { recursive: true })
  const damaged = f.release.files[0]!
  writeRandom(join(repairRoot, f.release.name, damaged.path), damaged.size)
  const repairer = await startEngine(t)
  assert.equal(await repairer.add(f.add(repairRoot, true)), 'added')
  assert.ok((await only(repairer)).bytesPresent < total)
  await waitFor(
    'the damaged copy to be repaired',
    async () => (await only(repairer)).state === 'seeding',
    60_000,
  )
  assert.ok(
    readTree(join(repairRoot, f.release.name))
      .get(damaged.path)!
      .equals(readTree(f.release.dir).get(damaged.path)!),
  )

  // A copy where one file's place is taken by a folder: pieces read as missing, and writing the
  // downloaded piece fails, which makes webtorrent tear the torrent down with an error.
  const brokenRoot = join(f.dir, 'broken')
  cpSync(f.release.root, brokenRoot, { recursive: true })
  const blocked = join(brokenRoot, f.release.name, f.release.files[0]!.path)
  rmSync(blocked)
  mkdirSync(blocked)
  const logger = memoryLogger()
  const broken = await startEngine(t, {}, logger)
  assert.equal(await broken.add(f.add(brokenRoot, true)), 'added')
  const failed = await waitFor(
    'the torrent to fail',
    async () => {
      const s = await only(broken)
      return s.state === 'error' ? s : undefined
    },
    60_000,
  )
  assert.match(failed.error ?? '', /EISDIR|directory/i)
  assert.equal(failed.totalBytes, total)
  assert.ok(logger.lines.some((l) => l.level === 'error' && l.fields.infoHash === f.infoHash))
  // The engine still works: lists, adds again (the failed torrent is retried, not a duplicate), removes.
  rmSync(blocked, { recursive: true })
  writeFileSync(blocked, readTree(f.release.dir).get(f.release.files[0]!.path)!)
  assert.equal(await broken.add(f.add(brokenRoot, true)), 'added')
  await waitFor('the retried torrent to seed', async () => (await only(broken)).state === 'seeding', 60_000)
  await broken.remove(f.infoHash)
  assert.deepEqual(await broken.list(), [])
})

test('webtorrent listens on the configured host, and a port in use is a port-in-use error', async (t) => {
  const engine = await startEngine(t, { host: '127.0.0.1', port: 0 })
  const addr = engine.address()
  assert.ok(addr)
  assert.equal(addr.host, '127.0.0.1', 'bound to the configured host, not to all addresses')
  await new Promise<void>((res, rej) => {
    const c = connect(addr.port, '127.0.0.1', () => {
      c.destroy()
      res()
    })
    c.on('error', rej)
  })

  const blocker = createServer()
  await new Promise<void>((res) => blocker.listen(0, '127.0.0.1', res))
  t.after(() => new Promise<void>((res) => blocker.close(() => res())))
  const port = (blocker.address() as { port: number }).port
  const second = new WebTorrentEngine(wtConfig({ port }))
  t.after(() => second.close())
  await assert.rejects(second.start(), (e: unknown) => {
    assert.ok(isEngineError(e, 'port-in-use'), String(e))
    assert.match(e.message, new RegExp(`port ${port}`))
    return true
  })
  // Not started: calls fail with a typed error instead of crashing.
  await assert.rejects(second.list(), (e: unknown) => isEngineError(e, 'engine-closed'))
})

test('webtorrent rejects a .torrent whose infohash is not the one given, and a missing data folder', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const f = fixture(t, 'http://127.0.0.1:1/announce', [100_000])
  const engine = await startEngine(t)
  const wrongHash = 'ab'.repeat(20)
  await assert.rejects(engine.add({ ...f.add(f.release.root, false), infoHash: wrongHash }), (e: unknown) => {
    assert.ok(isEngineError(e, 'engine-rejected'), String(e))
    assert.match(e.message, new RegExp(f.infoHash))
    return true
  })
  assert.equal((await engine.list()).find((s) => s.infoHash === wrongHash)?.state, 'error')
  await engine.remove(wrongHash)
  await assert.rejects(engine.add(f.add(join(f.dir, 'nowhere'), false)), (e: unknown) =>
    isEngineError(e, 'engine-rejected'),
  )
  await assert.rejects(
    engine.add({ ...f.add(f.release.root, false), torrent: Buffer.from('not a torrent') }),
    (e: unknown) => isEngineError(e, 'engine-rejected'),
  )
  await engine.close()
  await assert.rejects(engine.add(f.add(f.release.root, false)), (e: unknown) =>
    isEngineError(e, 'engine-closed'),
  )
})

test("webtorrent's add scans every torrent for a duplicate on one private listener; the engine's add leaves out that listener and nothing else", async (t) => {
  const { default: WebTorrent } = await import('webtorrent')
  const client = createClient(WebTorrent, '127.0.0.1', undefined, {
    torrentPort: 0,
    dht: false,
    lsd: false,
    utp: false,
    natUpnp: false,
    natPmp: false,
    tracker: false,
  })
  t.after(() => new Promise<void>((resolve) => client.destroy(() => resolve())))
  const dir = tempDir(t)
  const [a, b] = [makeRelease(dir, [3000, 5000]), makeRelease(dir, [7000])]
  const [ta, tb] = [makeTorrent(a), makeTorrent(b)]
  const ready = (x: Torrent): Promise<void> =>
    new Promise((resolve, reject) => {
      if (x.ready) resolve()
      x.once('ready', () => resolve())
      x.once('error', reject)
    })
  const announced: Torrent[] = []
  client.on('torrent', (x: Torrent) => announced.push(x))

  // As published (webtorrent 3.0.21): `add` hangs exactly one listener on '_infoHash', and that
  // one is the duplicate check. If this fails, webtorrent changed: see addWithoutDuplicateScan.
  const plain = client.add(ta, { path: a.root, skipVerify: true })
  assert.equal(plain.listenerCount('_infoHash'), 1)
  await ready(plain)
  const again = client.add(ta, { path: a.root, skipVerify: true })
  await assert.rejects(ready(again), /Cannot add duplicate torrent/)

  const wrapped = addWithoutDuplicateScan(client, tb, { path: b.root, skipVerify: true })
  assert.equal(wrapped.listenerCount('_infoHash'), 0)
  await ready(wrapped)
  // The rest of what `add` does still happens: the client lists it and announces it as ready.
  assert.deepEqual(client.torrents, [plain, wrapped])
  assert.deepEqual(announced, [plain, wrapped])
  assert.equal(wrapped.infoHash, infoHashOf(tb))
  assert.ok(wrapped.done, 'skipVerify: every piece held')
})

test('a download tells onDownloaded listeners its infohash once its last piece is verified (list() then shows every byte), and a listener stopped hears nothing', async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const tracker = await startTracker(t)
  const f = fixture(t, tracker.announce)
  const seeder = await startEngine(t)
  assert.equal(await seeder.add(f.add(f.release.root, false)), 'added')
  await waitFor('the tracker to list the seeder', () => tracker.seeders(f.infoHash) >= 1)
  const downloader = await startEngine(t)
  const heard: Array<{ infoHash: string; complete: boolean }> = []
  const stopped: string[] = []
  downloader.onDownloaded((infoHash) => {
    // What a waiting caller then asks: the engine's own view already shows every byte present.
    void downloader.list().then((l) => {
      const s = l.find((x) => x.infoHash === infoHash)
      heard.push({
        infoHash,
        complete: s !== undefined && s.bytesPresent === s.totalBytes && s.totalBytes > 0,
      })
    })
  })
  downloader.onDownloaded((infoHash) => stopped.push(infoHash))()
  const into = join(f.dir, 'download')
  assert.equal(await downloader.add({ ...f.add(into, true), download: true }), 'added')
  await waitFor('the engine to say the download is complete', () => heard.length > 0, 60_000)
  assert.deepEqual(heard, [{ infoHash: f.infoHash, complete: true }])
  assert.deepEqual(stopped, [])
})

test("the sockets an engine opens to peers get coalesced writes: found by the 'wire' event's address, not webtorrent's private peer list", async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const tracker = await startTracker(t)
  const f = fixture(t, tracker.announce)
  const seeder = await startEngine(t)
  assert.equal(await seeder.add(f.add(f.release.root, false)), 'added')
  await waitFor('the tracker to list the seeder', () => tracker.seeders(f.infoHash) >= 1)
  const seederPort = seeder.address()!.port

  // The test's own view of the sockets this process opens (the same documented channel).
  const toSeeder: Socket[] = []
  const onSocket = (message: unknown): void => {
    const socket = (message as { socket: Socket }).socket
    socket.once('connect', () => socket.remotePort === seederPort && toSeeder.push(socket))
  }
  diagnosticsChannel.subscribe('net.client.socket', onSocket)
  t.after(() => diagnosticsChannel.unsubscribe('net.client.socket', onSocket))

  const downloader = await startEngine(t)
  const into = join(f.dir, 'download')
  assert.equal(await downloader.add({ ...f.add(into, true), download: true }), 'added')
  await waitFor('the download', async () => (await only(downloader)).state === 'seeding', 60_000)
  assert.ok(
    readTree(join(into, f.release.name))
      .get(f.release.files[2]!.path)!
      .equals(readTree(f.release.dir).get(f.release.files[2]!.path)!),
  )
  const open = toSeeder.filter((s) => !s.destroyed)
  assert.ok(open.length >= 1, 'the downloader holds a connection it opened to the seeder')
  for (const socket of open) {
    // A keep-alive (four zero bytes) is a valid message on a live wire. Written to a coalesced
    // socket it waits, corked, for the end of this turn; an idle plain socket sends it at once.
    socket.write(Buffer.alloc(4))
    assert.equal(socket.writableCorked, 1, 'the write is held for the end of the turn')
  }
})

test("the engine tells peers how many block requests to keep outstanding (BEP 10's reqq) in its extended handshake, and a WebTorrent peer told so downloads", async (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const f = fixture(t, 'http://127.0.0.1:1/announce')
  const seeder = await startEngine(t)
  assert.equal(await seeder.add(f.add(f.release.root, false)), 'added')

  const { default: WebTorrent } = await import('webtorrent')
  const client = createClient(WebTorrent, '127.0.0.1', undefined, {
    torrentPort: 0,
    dht: false,
    lsd: false,
    utp: false,
    natUpnp: false,
    natPmp: false,
    tracker: false,
  })
  t.after(() => new Promise<void>((resolve) => client.destroy(() => resolve())))
  const into = join(f.dir, 'plain-client')
  const torrent = client.add(f.torrent, { path: into })
  type PeerWire = { once(event: 'extended', fn: (ext: string, obj: { reqq?: unknown }) => void): void }
  const reqq = new Promise<unknown>((resolve) => {
    torrent.once('wire', (wire: PeerWire) => {
      wire.once('extended', (ext, obj) => ext === 'handshake' && resolve(obj.reqq))
    })
  })
  const done = new Promise<void>((resolve, reject) => {
    torrent.once('done', () => resolve())
    torrent.once('error', reject)
  })
  torrent.once('ready', () => torrent.addPeer(`127.0.0.1:${seeder.address()!.port}`))
  assert.equal(await reqq, PEER_REQUEST_QUEUE)
  await done
  const name = f.release.files[2]!.path
  assert.ok(readTree(join(into, f.release.name)).get(name)!.equals(readTree(f.release.dir).get(name)!))
})

test('ping answers while the engine is open and fails once it is closed', async (t) => {
  const engine = await startEngine(t)
  await engine.ping()
  await engine.close()
  await assert.rejects(engine.ping(), (e: unknown) => isEngineError(e, 'engine-closed'))
})
