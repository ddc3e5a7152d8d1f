/** The engines' pure parts and the chunk store, without daemons. */
import assert from 'node:assert/strict'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import net from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { configSchema } from '../../src/config/index.js'
import { AacseedError } from '../../src/errors.js'
import { checkEngineTorrent } from '../../src/engines/engine.js'
import {
  createEngine,
  EngineError,
  engineSettings,
  isEngineError,
  mapPath,
  REMOTE_KINDS,
} from '../../src/engines/index.js'
import { transmissionState } from '../../src/engines/transmission.js'
import { coalesceWrites } from '../../src/engines/webtorrent.js'
import { FilePool, pooledChunkStore, SlabPool } from '../../src/engines/webtorrent-store.js'
import { requireTool, tempDir, waitFor } from '../helpers.js'
import { infoHashOf, makeRelease, makeTorrent, mktorrent, openFds, type Release } from './fixtures.js'

test('mapPath: the longest path_map prefix wins, on whole path components', () => {
  const map = { '/srv/releases': '/downloads/releases', '/srv': '/mnt/srv', '/data/': '/d' }
  assert.equal(mapPath('/srv/releases', map), '/downloads/releases')
  assert.equal(mapPath('/srv/releases/', map), '/downloads/releases')
  assert.equal(mapPath('/srv/releases/aac/x', map), '/downloads/releases/aac/x')
  assert.equal(mapPath('/srv/other', map), '/mnt/srv/other')
  assert.equal(mapPath('/srv/releasesX', map), '/mnt/srv/releasesX', 'a prefix must end at a path component')
  assert.equal(mapPath('/data/a', map), '/d/a', 'trailing slashes in the map are ignored')
  assert.equal(mapPath('/elsewhere/a/../b', map), '/elsewhere/b', 'unmapped paths pass, normalized')
  assert.equal(mapPath('/x/y', { '/': '/host' }), '/host/x/y')
  assert.equal(mapPath('/x/y', {}), '/x/y')
})

test('transmissionState maps status numbers into the copy-state vocabulary, and only local errors to error', () => {
  const byStatus = [0, 1, 2, 3, 4, 5, 6].map((s) => transmissionState(s, 1, 0))
  assert.deepEqual(byStatus, [
    'stopped',
    'checking',
    'checking',
    'downloading',
    'downloading',
    'seeding',
    'seeding',
  ])
  assert.equal(
    transmissionState(6, 0.5, 0),
    'downloading',
    'seeding with pieces left out is not a complete copy',
  )
  assert.equal(transmissionState(6, 1, 3), 'error', 'local error (missing data)')
  assert.equal(transmissionState(6, 1, 1), 'seeding', 'a tracker warning keeps seeding')
  assert.equal(transmissionState(6, 1, 2), 'seeding', 'a tracker error keeps seeding')
  assert.equal(transmissionState(99, 1, 0), 'error', 'an unknown status is not silently healthy')
})

test('EngineError is an AacseedError with a stable code', () => {
  const e = new EngineError('engine-auth', 'nope')
  assert.ok(e instanceof AacseedError)
  assert.equal(e.name, 'EngineError')
  assert.equal(e.code, 'engine-auth')
  assert.equal(e.transient, false)
  assert.ok(isEngineError(e, 'engine-auth'))
  assert.ok(!isEngineError(e, 'engine-timeout'))
  assert.ok(!isEngineError(new Error('x')))
  const base = {
    torrent: Buffer.from('d4:infod4:name1:xee'),
    infoHash: 'a'.repeat(40),
    name: 'x',
    dataDir: '/srv',
    verify: false,
  }
  assert.doesNotThrow(() => checkEngineTorrent('webtorrent', base))
  assert.throws(
    () => checkEngineTorrent('webtorrent', { ...base, infoHash: 'A'.repeat(40) }),
    (x: unknown) => isEngineError(x, 'engine-rejected'),
  )
  assert.throws(
    () => checkEngineTorrent('transmission', { ...base, dataDir: 'relative/dir' }),
    (x: unknown) => isEngineError(x, 'engine-rejected'),
  )
  assert.throws(
    () => checkEngineTorrent('transmission', { ...base, name: '../up' }),
    (x: unknown) => isEngineError(x, 'engine-rejected'),
  )
})

test('createEngine builds the configured engine', async () => {
  const wt = createEngine(configSchema.parse({}).engine)
  assert.equal(wt.kind, 'webtorrent')
  await assert.rejects(wt.list(), (e: unknown) => isEngineError(e, 'engine-closed'))
  await wt.close()
  const tr = createEngine(configSchema.parse({ engine: { kind: 'transmission' } }).engine, { env: {} })
  assert.equal(tr.kind, 'transmission')
  await tr.close()
})

test('the in-process torrent maker agrees with mktorrent (so the scale tests use real torrents)', (t) => {
  if (!requireTool(t, 'mktorrent')) return
  const dir = tempDir(t)
  const release = makeRelease(dir, [300_000, 1, 524_288, 77_777])
  const viaMktorrent = mktorrent(release.dir, 'http://127.0.0.1:1/announce', join(dir, 'm.torrent'))
  const inProcess = makeTorrent(release, { pieceLength: 2 ** 18, announce: 'http://127.0.0.1:1/announce' })
  assert.equal(infoHashOf(inProcess), infoHashOf(viaMktorrent))
})

test('FilePool never holds more than max handles, however many reads run at once', async (t) => {
  const dir = tempDir(t)
  const paths = Array.from({ length: 40 }, (_, i) => join(dir, `f${i}`))
  paths.forEach((p, i) => writeFileSync(p, Buffer.alloc(100, i)))
  const pool = new FilePool(5)
  const base = openFds()
  let peakSize = 0
  let peakFds = 0
  await Promise.all(
    Array.from({ length: 400 }, async (_, k) => {
      const i = (k * 7) % paths.length
      const buf = Buffer.alloc(10)
      await pool.use(paths[i]!, 'r', async (fh) => {
        peakSize = Math.max(peakSize, pool.size)
        peakFds = Math.max(peakFds, openFds() - base)
        await fh.read(buf, 0, 10, 50)
      })
      assert.equal(buf[0], i)
    }),
  )
  assert.ok(peakSize <= 5, `pool size reached ${peakSize}`)
  assert.ok(peakFds <= 5, `open descriptors rose by ${peakFds}`)
  await assert.rejects(
    pool.use(join(dir, 'missing'), 'r', async () => 0),
    /ENOENT/,
  )
  pool.closeAll()
  await new Promise((r) => setTimeout(r, 50))
  assert.ok(openFds() - base <= 0, 'closeAll closes every handle')
})

/** A release's bytes in torrent order, and its files as a chunk store is given them. */
function storeLayout(release: Release): {
  data: Buffer
  files: Array<{ path: string; length: number; offset: number }>
} {
  const data = Buffer.concat(release.files.map((f) => readFileSync(join(release.dir, f.path))))
  let offset = 0
  const files = release.files.map((f) => {
    const r = { path: `${release.name}/${f.path}`, length: f.size, offset }
    offset += f.size
    return r
  })
  return { data, files }
}

test('the pooled chunk store reads and writes pieces across file boundaries, and never deletes data', async (t) => {
  const dir = tempDir(t)
  const release = makeRelease(dir, [5, 0, 12, 3])
  const { data, files } = storeLayout(release)
  const pool = new FilePool(2)
  t.after(() => pool.closeAll())
  const Store = pooledChunkStore(pool)
  const store = new Store(4, { path: dir, files, length: data.length, name: release.name })
  const get = (i: number, o?: { offset?: number; length?: number }): Promise<Buffer> =>
    new Promise((res, rej) =>
      store.get(i, o ?? null, (err, buf) => (err ? rej(err) : res(Buffer.from(buf!)))),
    )
  const put = (i: number, b: Buffer): Promise<void> =>
    new Promise((res, rej) => store.put(i, b, (err) => (err ? rej(err) : res())))
  for (let i = 0; i * 4 < data.length; i++)
    assert.deepEqual(await get(i), data.subarray(i * 4, i * 4 + 4), `piece ${i}`)
  assert.deepEqual(await get(1, { offset: 1, length: 2 }), data.subarray(5, 7))
  await assert.rejects(get(99))

  // A write spanning two files lands in both.
  const patch = Buffer.from('WXYZ')
  await put(1, patch)
  const after = Buffer.concat(release.files.map((f) => readFileSync(join(release.dir, f.path))))
  assert.deepEqual(after.subarray(4, 8), patch)
  assert.deepEqual(after.subarray(0, 4), data.subarray(0, 4))
  await assert.rejects(put(0, Buffer.from('short')))

  await new Promise<void>((res) => store.destroy(() => res()))
  for (const f of release.files) assert.ok(existsSync(join(release.dir, f.path)), 'destroy keeps the data')
  await assert.rejects(get(0), /closed/)

  const escaping = new Store(4, {
    path: join(dir, 'inner'),
    files: [{ path: '../outside', length: 4, offset: 0 }],
    length: 4,
    name: 'x',
  })
  await assert.rejects(
    new Promise((res, rej) => escaping.get(0, null, (err, buf) => (err ? rej(err) : res(buf)))),
    /leaves the data folder/,
  )
})

test('batched block reads: blocks asked in one turn that follow one another are read together; a bad one fails alone', async (t) => {
  const dir = tempDir(t)
  // Two 32-byte pieces and a 4-byte one over three files; 4-byte blocks; batches of at most 24 bytes.
  const release = makeRelease(dir, [20, 30, 18])
  const { data, files } = storeLayout(release)
  class CountingPool extends FilePool {
    uses = 0
    override use<T>(path: string, mode: 'r' | 'rw', fn: (fh: FileHandle) => Promise<T>): Promise<T> {
      this.uses++
      return super.use(path, mode, fn)
    }
  }
  const pool = new CountingPool(4)
  t.after(() => pool.closeAll())
  const Store = pooledChunkStore(pool, { batchBytes: 24 })
  const store = new Store(32, { path: dir, files, length: data.length, name: release.name })
  const get = (i: number, o: { offset?: number; length?: number } | null): Promise<Buffer> =>
    new Promise((res, rej) => store.get(i, o, (err, buf) => (err ? rej(err) : res(Buffer.from(buf!)))))

  // Five blocks of piece 0 asked out of order in one turn: bytes 0-19 (file 0) in one read.
  const first = await Promise.all([8, 0, 12, 4, 16].map((o) => get(0, { offset: o, length: 4 })))
  first.forEach((b, k) =>
    assert.deepEqual(b, data.subarray([8, 0, 12, 4, 16][k]!, [8, 0, 12, 4, 16][k]! + 4)),
  )
  assert.equal(pool.uses, 1)
  // Bytes 28-51 cross into piece 1: one run of 24 bytes over files 1 and 2 (two file reads); 52-55 is the next run.
  pool.uses = 0
  const across = await Promise.all([
    get(0, { offset: 28, length: 4 }),
    ...[0, 4, 8, 12, 16, 20].map((o) => get(1, { offset: o, length: 4 })),
  ])
  assert.deepEqual(Buffer.concat(across), data.subarray(28, 56))
  assert.equal(pool.uses, 3)
  // Blocks with a gap between them are separate reads.
  pool.uses = 0
  const gap = await Promise.all([get(1, { offset: 0, length: 4 }), get(1, { offset: 12, length: 4 })])
  assert.deepEqual(gap, [data.subarray(32, 36), data.subarray(44, 48)])
  assert.equal(pool.uses, 2)
  // A whole piece (verification) is read on its own, at once.
  assert.deepEqual(await get(1, null), data.subarray(32, 64))

  // The last file cut short: the blocks before the cut are still served, the one past it fails.
  const last = join(release.dir, release.files[2]!.path)
  writeFileSync(last, readFileSync(last).subarray(0, 2))
  const settled = await Promise.allSettled([8, 12, 16, 20].map((o) => get(1, { offset: o, length: 4 })))
  assert.deepEqual(
    settled.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
  )
  assert.deepEqual((settled[2] as PromiseFulfilledResult<Buffer>).value, data.subarray(48, 52))
  assert.match(String((settled[3] as PromiseRejectedResult).reason), /short read/)
})

test('batched block reads are answered in the order they were asked for, whichever read finishes first', async (t) => {
  const dir = tempDir(t)
  const release = makeRelease(dir, [20, 30, 18])
  const { data, files } = storeLayout(release)
  // Reads of the second file finish 50 ms late: without ordering, the block of the first file
  // asked after them would be answered first.
  class SlowPool extends FilePool {
    override async use<T>(path: string, mode: 'r' | 'rw', fn: (fh: FileHandle) => Promise<T>): Promise<T> {
      if (path.endsWith(release.files[1]!.path)) await new Promise((res) => setTimeout(res, 50))
      return await super.use(path, mode, fn)
    }
  }
  const pool = new SlowPool(4)
  t.after(() => pool.closeAll())
  const Store = pooledChunkStore(pool, { batchBytes: 8 })
  const store = new Store(32, { path: dir, files, length: data.length, name: release.name })
  const answered: string[] = []
  const get = (i: number, offset: number, length: number): Promise<void> =>
    new Promise((res) =>
      store.get(i, { offset, length }, (err, buf) => {
        answered.push(err ? `${i}:${offset} ${err.message}` : `${i}:${offset}`)
        if (buf) assert.deepEqual(Buffer.from(buf), data.subarray(i * 32 + offset, i * 32 + offset + length))
        res()
      }),
    )
  // Piece 1 bytes 8-11 and 0-3 lie in the slow file 1, piece 0 bytes 0-7 in file 0; piece 1
  // bytes 20-23, past the end of file 2 cut short, fail in their turn.
  const last = join(release.dir, release.files[2]!.path)
  writeFileSync(last, readFileSync(last).subarray(0, 2))
  await Promise.all([get(1, 8, 4), get(0, 0, 4), get(1, 0, 4), get(1, 20, 4), get(0, 4, 4)])
  assert.deepEqual(answered.slice(0, 3), ['1:8', '0:0', '1:0'])
  assert.match(answered[3]!, /^1:20 short read/)
  assert.equal(answered[4], '0:4')
})

/** A connected pair of real sockets on 127.0.0.1: `sock` as a server accepted it, `client` its peer. */
async function loopbackPair(t: TestContext): Promise<{ client: net.Socket; sock: net.Socket }> {
  const server = net.createServer()
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res))
  t.after(() => server.close())
  const accepted = new Promise<net.Socket>((res) => server.once('connection', res))
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  t.after(() => client.destroy())
  const sock = await accepted
  t.after(() => sock.destroy())
  return { client, sock }
}

test('coalesceWrites: chunks written to a socket in one turn leave together, and all arrive', async (t) => {
  const { client, sock } = await loopbackPair(t)
  coalesceWrites(sock)
  let received = 0
  const all = new Promise<void>((res) =>
    client.on('data', (d: Buffer) => {
      received += d.length
      if (received === 10_000) res()
    }),
  )
  for (let i = 0; i < 10; i++) sock.write(Buffer.alloc(1000, i))
  // An idle socket sends each chunk at once; corked, all ten wait for the end of the turn.
  assert.equal(sock.writableLength, 10_000)
  await all
  assert.equal(sock.writableLength, 0)
})

test('coalesceWrites: a few small writes (requests) wait a little for more, then all arrive; a turn with a block in it leaves at its end', async (t) => {
  const { client, sock } = await loopbackPair(t)
  coalesceWrites(sock)
  let received = 0
  client.on('data', (d: Buffer) => (received += d.length))
  for (let i = 0; i < 5; i++) sock.write(Buffer.alloc(17, i))
  await new Promise((res) => setImmediate(res))
  assert.equal(sock.writableCorked, 1, 'five requests are held past the end of their turn')
  assert.equal(sock.writableLength, 85)
  await waitFor('the held requests to arrive', () => received === 85, 5_000)

  // Small writes held, then a block written in a later turn: everything leaves at that turn's end.
  sock.write(Buffer.alloc(17))
  await new Promise((res) => setImmediate(res))
  assert.equal(sock.writableCorked, 1)
  sock.write(Buffer.alloc(16 * 1024))
  await new Promise((res) => setImmediate(res))
  assert.equal(sock.writableCorked, 0, 'released at the end of the turn that made it large')
  await waitFor('all of it to arrive', () => received === 85 + 17 + 16 * 1024, 5_000)
})

test('pooled upload buffers: a batched read buffer is used again only once each of its blocks was written to a socket', async (t) => {
  const dir = tempDir(t)
  const release = makeRelease(dir, [64 * 1024])
  const { data, files } = storeLayout(release)
  const pool = new FilePool(2)
  t.after(() => pool.closeAll())
  const slabs = new SlabPool(1 << 20)
  const Store = pooledChunkStore(pool, { batchBytes: 1 << 20, slabs })
  const store = new Store(64 * 1024, { path: dir, files, length: data.length, name: release.name })
  const get = (o: number): Promise<Uint8Array> =>
    new Promise((res, rej) =>
      store.get(0, { offset: o, length: 4096 }, (err, buf) => (err ? rej(err) : res(buf!))),
    )
  const blocks = await Promise.all([0, 4096, 8192].map(get))
  blocks.forEach((b, k) => assert.deepEqual(Buffer.from(b), data.subarray(k * 4096, k * 4096 + 4096)))
  const slab = blocks[0]!.buffer
  assert.ok(
    blocks.every((b) => b.buffer === slab),
    'the three blocks are views of one buffer',
  )
  assert.ok(slabs.owns(blocks[0]!))

  // Two of the three blocks written: the buffer is still lent; a new read gets another one.
  const { client, sock } = await loopbackPair(t)
  coalesceWrites(sock, slabs)
  const received: Buffer[] = []
  client.on('data', (d: Buffer) => received.push(d))
  const written = (b: Uint8Array): Promise<void> => new Promise((res) => sock.write(b, () => res()))
  await Promise.all([written(blocks[0]!), written(blocks[1]!)])
  assert.equal(slabs.size, 0)
  const other = await get(16384)
  assert.notEqual(other.buffer, slab)
  // The last one written: the buffer is free, and the next read fills it again.
  await written(blocks[2]!)
  assert.equal(slabs.size, 16384)
  const again = await get(32768)
  assert.equal(again.buffer, slab)
  assert.deepEqual(Buffer.from(again), data.subarray(32768, 32768 + 4096))
  // The bytes sent were the blocks' bytes at the time they were written.
  await waitFor('the three blocks arrive', () => Buffer.concat(received).length === 3 * 4096, 5000, 10)
  assert.deepEqual(Buffer.concat(received), data.subarray(0, 3 * 4096))
  // A block never written (a cancelled request) keeps its buffer out of the free list.
  assert.equal(slabs.size, 0)
})

test('[engine] labels reach every daemon kind; the deprecated per-kind labels still win for their kind', () => {
  const plain = configSchema.parse({ engine: { labels: ['aa-mirror'] } }).engine
  for (const kind of REMOTE_KINDS)
    assert.deepEqual(engineSettings(kind, plain, {}).labels, ['aa-mirror'], kind)
  const old = configSchema.parse({ engine: { qbittorrent: { labels: ['legacy'] } } }).engine
  assert.deepEqual(engineSettings('qbittorrent', old, {}).labels, ['legacy'])
  assert.deepEqual(engineSettings('deluge', old, {}).labels, ['aacseed'])
})
