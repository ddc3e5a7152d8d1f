/**
 * Fault-injection cases of issue #12 about upstream lists, each named by its case:
 * lists read as they stream (chunk boundaries anywhere), refused the moment a limit is
 * crossed, one release name with two btih, timestamps that are not times, URLs naming private
 * hosts (and redirects to them), and a raw `Location` with a token.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import { createServer as createTcpServer, type AddressInfo } from 'node:net'
import { join } from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import {
  MirrorError,
  MirrorStore,
  parseTorrentList,
  type ListContext,
  type ParsedList,
} from '../../src/mirror/index.js'
import { classifyEntry } from '../../src/mirror/list.js'
import { fetchBytes, isPrivateAddress, openStream } from '../../src/mirror/fetch.js'
import { readListStream } from '../../src/mirror/list-stream.js'
import { memorySink, readSource, readSourceIntoStore } from '../../src/mirror/sources.js'
import { metaName } from '../fixtures.js'
import { tempDir } from '../helpers.js'

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex')

function entry(i: number, over: Record<string, unknown> = {}): Record<string, unknown> {
  const name = metaName('coll', i * 10, i * 10 + 9)
  return {
    display_name: `${name}.torrent`,
    btih: sha1(name),
    url: `https://upstream.example.org/t/${i}.torrent`,
    data_size: 1000 + i,
    is_metadata: true,
    obsolete: false,
    embargo: false,
    added_to_torrents_list_at: '2024-01-02T03:04:05Z',
    ...over,
  }
}

const CTX: ListContext = {
  source: 'up',
  location: 'https://upstream.example.org/torrents.json',
  maxEntries: 1000,
}

async function* chunked(text: string, size: number): AsyncGenerator<Uint8Array> {
  const b = Buffer.from(text)
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size)
}

async function streamed(text: string, ctx = CTX, size = 7): Promise<ParsedList> {
  const sink = memorySink(ctx.source)
  await readListStream(chunked(text, size), ctx, (b) => sink.add(b.verdicts), 3)
  return sink.finish()
}

async function streamError(text: string, ctx = CTX): Promise<MirrorError> {
  try {
    await streamed(text, ctx)
  } catch (e) {
    assert.ok(e instanceof MirrorError, String(e))
    return e
  }
  assert.fail('expected the list to be refused')
}

function source(t: TestContext, list: string, over: Record<string, unknown> = {}) {
  const config = configSchema.parse({
    catalog: { roots: [tempDir(t)] },
    mirror: { sources: [{ name: 'up', list }], retries: 0, retry_base_ms: 1, ...over },
  })
  return { s: config.mirror.sources[0]!, m: config.mirror }
}

/**
 * A list that never ends, served from 127.0.0.1 fifty entries a write, the next write paced by
 * `pace`; `upstream` says how many entries were sent and whether the reader closed the connection.
 */
async function endlessList(
  t: TestContext,
  pace: (more: () => void) => void,
): Promise<{ url: string; upstream: { sent: number; closed: boolean } }> {
  const upstream = { sent: 0, closed: false }
  const url = await serve(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    res.write('[')
    let i = 0
    const more = (): void => {
      if (upstream.closed) return
      const chunk = Array.from({ length: 50 }, () => JSON.stringify(entry(i++))).join(',') + ','
      upstream.sent += 50
      if (!res.write(chunk)) res.once('drain', more)
      else pace(more)
    }
    res.on('close', () => (upstream.closed = true))
    more()
  })
  return { url, upstream }
}

async function serve(t: TestContext, handler: Parameters<typeof createServer>[1]): Promise<string> {
  const server = createServer(handler)
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => server.close(() => r())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

describe('fault: a list is read as it streams', () => {
  test('chunk boundaries anywhere give the same verdicts as reading it whole', async () => {
    const list = JSON.stringify(
      [entry(0), entry(1, { btih: 'nope' }), 42, entry(2, { display_name: 'ünïcode ☃.torrent' }), entry(3)],
      null,
      2,
    )
    const whole = parseTorrentList(list, CTX)
    for (const size of [1, 2, 7, 64, 100_000]) assert.deepEqual(await streamed(list, CTX, size), whole)
    assert.equal(whole.torrents.length, 2)
    assert.equal(whole.opaque.length, 1)
    assert.equal(whole.rejected.length, 2)
  })

  test("entries already handed over are not kept: the reader's heap stays flat over 100,000 entries", async () => {
    // Before the fix the parser's top-level array held every parsed entry until the end (about
    // 600 bytes each: 600 MB of worker heap at a million entries). Measured after full
    // collections, so only what is still reachable counts.
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const n = 100_000
    async function* list(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('[')
      for (let i = 0; i < n; i += 1000) {
        const part: string[] = []
        for (let j = i; j < i + 1000; j++) part.push((j ? ',' : '') + JSON.stringify(entry(j)))
        yield Buffer.from(part.join(''))
      }
      yield Buffer.from(']')
    }
    let seen = 0
    let early = 0
    let late = 0
    const { entries } = await readListStream(list(), { ...CTX, maxEntries: n }, (b) => {
      seen += b.verdicts.length
      if (early === 0 && seen >= 10_000) {
        gc()
        early = process.memoryUsage().heapUsed
      }
      if (late === 0 && seen >= n - 2000) {
        gc()
        late = process.memoryUsage().heapUsed
      }
    })
    assert.equal(entries, n)
    assert.ok(late > 0 && early > 0)
    const grownMb = (late - early) / 2 ** 20
    assert.ok(grownMb < 15, `the reader's heap grew ${grownMb.toFixed(1)} MB over ${n - 12_000} entries`)
  })

  test('not JSON, not an array, trailing garbage, truncated, not UTF-8: the whole list is refused', async () => {
    for (const [text, re] of [
      ['<html>502</html>', /is not JSON/],
      ['{"a": 1}', /is not a JSON array/],
      ['[1] [2]', /is not a JSON array/],
      ['[{"a":1}] x', /is not JSON/],
      ['[{"a":1}', /is not JSON/],
      ['', /is not JSON/],
    ] as const) {
      const e = await streamError(text)
      assert.equal(e.code, 'list-invalid', text)
      assert.match(e.message, re, text)
    }
    const sink = memorySink('up')
    await assert.rejects(
      readListStream(
        (async function* () {
          yield Buffer.from('["\xff'.replace('\xff', ''), 'latin1')
          yield Buffer.from([0xff, 0x22, 0x5d])
        })(),
        CTX,
        (b) => sink.add(b.verdicts),
      ),
      /is not UTF-8/,
    )
  })

  test('a list over max_list_entries is refused as soon as the limit is crossed, and the last good list stays', async (t) => {
    // An endless list: the reader must stop it, not wait for its end.
    const { url, upstream } = await endlessList(t, setImmediate)
    const { s, m } = source(t, `${url}/torrents.json`, { max_list_entries: 500 })
    const db = openDatabase(join(tempDir(t), 'aacseed.db'))
    t.after(() => db.close())
    const store = new MirrorStore(db)
    store.recordSourceList('up', s.list, [], [], '2020-01-01T00:00:00.000Z')
    const started = Date.now()
    await assert.rejects(
      readSourceIntoStore(s, m, store, new Date().toISOString()),
      (e: MirrorError) => e.code === 'list-invalid' && /more than 500 entries/.test(e.message),
    )
    // Generous: the machine may be loaded; `upstream.sent` below is what shows the endless list was not read to its end.
    assert.ok(Date.now() - started < 20_000)
    assert.ok(upstream.sent < 20_000, `${upstream.sent} entries sent before the refusal`)
    assert.equal(store.upstream({ source: 'up', all: true }).length, 0, 'nothing of the refused list is kept')
  })

  test('a list over max_list_bytes is refused as soon as the limit is crossed', async (t) => {
    const body = JSON.stringify(Array.from({ length: 2000 }, (_, i) => entry(i)))
    // No content-length: the limit must be enforced as the bytes arrive.
    const url = await serve(t, (_req, res) => {
      res.writeHead(200)
      res.end(body)
    })
    const { s, m } = source(t, `${url}/torrents.json`, { max_list_bytes: 10_000 })
    await assert.rejects(
      readSource(s, m, () => memorySink('up')),
      (e: MirrorError) => e.code === 'too-large',
    )
  })
})

describe('a list is stored off the thread that serves the API', () => {
  /** The SQL the main thread's connection is asked to run, recorded. */
  function recordSql(db: ReturnType<typeof openDatabase>): string[] {
    const seen: string[] = []
    const prepare = db.prepare.bind(db)
    const exec = db.exec.bind(db)
    db.prepare = ((sql: string) => (seen.push(sql), prepare(sql))) as typeof db.prepare
    db.exec = ((sql: string) => (seen.push(sql), exec(sql))) as typeof db.exec
    return seen
  }

  test('staging and merging a list run on a connection of their own: the main connection writes none of it', async (t) => {
    const list = JSON.stringify([
      ...Array.from({ length: 3000 }, (_, i) => entry(i)),
      entry(5),
      entry(3001, { btih: 'nope' }),
      entry(3002),
      entry(3002, { btih: sha1('another torrent of the same name') }),
    ])
    const url = await serve(t, (_req, res) => res.end(list))
    const { s, m } = source(t, `${url}/torrents.json`)
    const db = openDatabase(join(tempDir(t), 'aacseed.db'))
    t.after(() => db.close())
    const store = new MirrorStore(db)
    // The last list, stored from this thread: what the new one replaces.
    store.recordSourceList('up', s.list, [], [], '2020-01-01T00:00:00.000Z')
    const seen = recordSql(db)
    const r = await readSourceIntoStore(s, m, store, '2024-06-01T00:00:00.000Z')
    assert.deepEqual(r, { offered: 3000, rejected: 3 })
    // Read back through the main connection: the worker's commits are visible here.
    assert.equal(store.upstream({ source: 'up' }).length, 3000)
    assert.deepEqual(
      store.rejections('up').map((x) => x.code),
      ['entry-invalid', 'conflicting-entry', 'conflicting-entry'],
    )
    assert.equal(store.source('up')?.duplicates, 1)
    const writes = seen.filter((sql) =>
      /list_stage|INSERT INTO (upstream_torrents|upstream_opaque|mirror_rejections|mirror_sources)/i.test(
        sql,
      ),
    )
    assert.deepEqual(writes, [], 'the main connection staged or merged the list')
  })

  test('a read stopped before its merge leaves the stored list as it was', async (t) => {
    const { url, upstream } = await endlessList(t, (more) => setTimeout(more, 1))
    const { s, m } = source(t, `${url}/torrents.json`, { max_list_entries: 1_000_000 })
    const db = openDatabase(join(tempDir(t), 'aacseed.db'))
    t.after(() => db.close())
    const store = new MirrorStore(db)
    const old = parseTorrentList(JSON.stringify([entry(0), entry(1)]), CTX)
    store.recordSourceList('up', s.list, old.torrents, [], '2020-01-01T00:00:00.000Z')
    const stop = new AbortController()
    const reading = readSourceIntoStore(s, m, store, '2024-06-01T00:00:00.000Z', stop.signal)
    while (upstream.sent < 5000) await new Promise((r) => setTimeout(r, 20))
    stop.abort()
    await assert.rejects(reading, /reading the list was stopped/)
    assert.deepEqual(
      store
        .upstream({ source: 'up', all: true })
        .map((x) => x.lastSeenAt)
        .sort(),
      ['2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z'],
    )
    assert.deepEqual(store.rejections('up'), [])
    assert.equal(store.source('up')?.fetchedAt, '2020-01-01T00:00:00.000Z')
    // The upstream sees its reader go away: the worker threads were stopped, not left reading.
    const deadline = Date.now() + 20_000
    while (!upstream.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    assert.ok(upstream.closed, 'the connection to the upstream was closed')
  })
})

describe('fault: one release name with two different btih', () => {
  test('both entries are rejected with conflicting-entry, in memory and in the store', async (t) => {
    const a = entry(1)
    const b = entry(1, { btih: sha1('another torrent of the same name') })
    const list = JSON.stringify([entry(0), a, b, entry(2)])
    const parsed = parseTorrentList(list, CTX)
    assert.deepEqual(parsed.torrents.map((x) => x.btih).sort(), [entry(0).btih, entry(2).btih].sort())
    assert.deepEqual(
      parsed.rejected.map((r) => r.code),
      ['conflicting-entry', 'conflicting-entry'],
    )
    assert.match(parsed.rejected[0]!.message, /listed with 2 different btih/)

    const db = openDatabase(':memory:')
    t.after(() => db.close())
    const store = new MirrorStore(db)
    const w = store.listWriter('up', CTX.location, '2024-01-01T00:00:00.000Z')
    const s = await streamed(list)
    // The two entries of one name arrive in different batches: the rule holds across batches.
    w.add([entry(0), a].map((e, i) => classifyEntry(e, i, CTX)))
    w.add([b, entry(2)].map((e, i) => classifyEntry(e, i + 2, CTX)))
    await w.finish()
    assert.deepEqual(
      store
        .upstream({ source: 'up' })
        .map((x) => x.btih)
        .sort(),
      [entry(0).btih, entry(2).btih].sort(),
    )
    assert.deepEqual(
      store.rejections('up').map((r) => r.code),
      ['conflicting-entry', 'conflicting-entry'],
    )
    assert.deepEqual(s.rejected.length, 2)
  })
})

describe('fault: added_to_torrents_list_at must be a valid timestamp', () => {
  test('dates that are not dates are rejected; real ones in the usual shapes are taken', () => {
    const bad = [
      '2024-02-30T00:00:00',
      '2024-13-01',
      '2024-01-01T25:00:00Z',
      '2024-01-01 and then some text ok',
      '2024-01-01T00:00:00Zgarbage',
    ]
    const good = [
      '2024-02-29',
      '2024-01-01T00:00:00',
      '2024-01-01T00:00:00.123Z',
      '2024-01-01 12:30:00+02:00',
    ]
    const list = [...bad, ...good].map((d, i) => entry(i, { added_to_torrents_list_at: d }))
    const parsed = parseTorrentList(JSON.stringify(list), CTX)
    assert.equal(parsed.rejected.length, bad.length)
    for (const r of parsed.rejected) assert.match(r.message, /added_to_torrents_list_at .* is not a date/)
    assert.deepEqual(
      parsed.torrents.map((x) => x.addedAt),
      good,
    )
  })
})

describe('fault: URLs from a remote list naming private hosts', () => {
  test('the address rule', () => {
    for (const a of [
      '127.0.0.1',
      '10.1.2.3',
      '172.16.0.1',
      '192.168.1.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      'fd00::1',
      'fe80::1',
      '::ffff:127.0.0.1',
    ])
      assert.ok(isPrivateAddress(a), a)
    for (const a of ['8.8.8.8', '172.32.0.1', '2001:db8::1', '1.1.1.1']) assert.ok(!isPrivateAddress(a), a)
  })

  test('a URL naming a private host is refused before anything is asked', async () => {
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'http://[::1]:9/x',
      'http://10.0.0.1/x.torrent',
    ])
      await assert.rejects(
        fetchBytes(url, {
          maxBytes: 1000,
          timeoutMs: 1000,
          retries: 0,
          retryBaseMs: 1,
          hosts: { allowPrivate: false },
        }),
        (e: MirrorError) => e.code === 'private-host' && /mirror\.allow_private_hosts/.test(e.message),
      )
  })

  test('a name is checked on the address connected to: public when checked, 127.0.0.1 when connecting (DNS rebinding) is refused', async (t) => {
    let asked = 0
    const url = await serve(t, (_req, res) => {
      asked++
      res.writeHead(200).end('secret')
    })
    const port = new URL(url).port
    // The FAKE resolver answers a public (TEST-NET-3, never connected to) address first and
    // loopback after: a rebinding name. The system resolves `localhost` to loopback, so a
    // connection that resolves the name again by itself reaches the server.
    const lookups: string[] = []
    const resolve = async (host: string): Promise<string[]> => {
      lookups.push(host)
      return lookups.length === 1 ? ['203.0.113.7'] : ['127.0.0.1']
    }
    const e = await fetchBytes(`http://localhost:${port}/latest/meta-data`, {
      maxBytes: 1000,
      timeoutMs: 5000,
      retries: 0,
      retryBaseMs: 1,
      hosts: { allowPrivate: false, resolve },
    }).then(
      () => assert.fail('expected a refusal'),
      (err: unknown) => err,
    )
    assert.ok(e instanceof MirrorError, String(e))
    assert.equal(e.code, 'private-host')
    assert.match(e.message, /127\.0\.0\.1/)
    assert.equal(asked, 0, 'nothing reached the server')
    assert.ok(lookups.length >= 2, "the connection asked the policy's resolver")
  })

  // `.invalid` never resolves (RFC 6761): only this policy's resolver knows the name. 127.0.0.1
  // stands in for a public address here, as in the redirect test.
  const upstreamInvalidAtLoopback = {
    allowPrivate: false,
    resolve: async () => ['127.0.0.1'],
    isPrivate: (a: string) => a !== '127.0.0.1' && isPrivateAddress(a),
  }

  test('the connection goes to the address that was checked, not to a second answer of the system resolver', async (t) => {
    const url = await serve(t, (_req, res) => res.writeHead(200).end('pinned'))
    const port = new URL(url).port
    const body = await fetchBytes(`http://upstream.invalid:${port}/list.json`, {
      maxBytes: 1000,
      timeoutMs: 5000,
      retries: 0,
      retryBaseMs: 1,
      hosts: upstreamInvalidAtLoopback,
    })
    assert.equal(body.toString(), 'pinned')
  })

  test('an upstream that closes the connection while a pinned body is read slowly is read whole', async (t) => {
    // npm's undici 6 (which the pinned connections once used) threw an uncatchable
    // `assert(!this.paused)` from the socket's 'end' here, killing the process: the server's FIN
    // arrives while the parser is paused because the list is stored slower than it arrives.
    const body = Buffer.alloc(8 * 1024 * 1024, 0x61)
    const server = createTcpServer((sock) => {
      sock.once('data', () => {
        sock.write(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`)
        sock.end(body)
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    t.after(() => server.close())
    const { port } = server.address() as AddressInfo
    let read = 0
    for await (const chunk of openStream(`http://upstream.invalid:${port}/list.json`, {
      maxBytes: body.length,
      timeoutMs: 10_000,
      retries: 0,
      retryBaseMs: 1,
      hosts: upstreamInvalidAtLoopback,
    })) {
      read += chunk.length
      await new Promise((r) => setTimeout(r, 2))
    }
    assert.equal(read, body.length)
  })

  test('every redirect is checked again, and a raw Location with its token never reaches a message', async (t) => {
    const url = await serve(t, (req, res) => {
      if (req.url === '/to-metadata')
        res.writeHead(302, { location: 'http://169.254.169.254/latest/?token=SECRET1' }).end()
      else if (req.url === '/to-ftp')
        res.writeHead(302, { location: 'ftp://files.example.org/x?token=SECRET2' }).end()
      else if (req.url === '/to-garbage')
        res.writeHead(302, { location: 'http://[bad host/?token=SECRET3' }).end()
      else res.writeHead(404).end()
    })
    // The test server is on loopback; treating 127.0.0.1 as public stands in for a public upstream.
    const hosts = { allowPrivate: false, isPrivate: (a: string) => a !== '127.0.0.1' && isPrivateAddress(a) }
    for (const [path, code] of [
      ['/to-metadata', 'private-host'],
      ['/to-ftp', 'fetch-failed'],
      ['/to-garbage', 'fetch-failed'],
    ] as const) {
      const e = await fetchBytes(`${url}${path}`, {
        maxBytes: 1000,
        timeoutMs: 2000,
        retries: 0,
        retryBaseMs: 1,
        hosts,
      }).then(
        () => assert.fail('expected a refusal'),
        (err: MirrorError) => err,
      )
      assert.equal(e.code, code, path)
      assert.doesNotMatch(e.message, /SECRET/, path)
    }
  })
})
