/**
 * A list thread started before it has work (`prestartListWorker`, which `mirror sync` uses to
 * boot the list store thread beside its own start-up): it does the same work as a thread
 * started for it, once, and a spare nobody takes keeps no process alive.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { test, type TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import { MirrorStore } from '../../src/mirror/index.js'
import { prestartListWorker, spareListWorkers } from '../../src/mirror/list-read.js'
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

async function serveList(t: TestContext, body: string): Promise<string> {
  const server = createServer((_req, res) => res.end(body))
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  t.after(() => new Promise<void>((r) => server.close(() => r())))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/torrents.json`
}

function source(t: TestContext, list: string) {
  const config = configSchema.parse({
    catalog: { roots: [tempDir(t)] },
    mirror: { sources: [{ name: 'up', list }], retries: 0, retry_base_ms: 1 },
  })
  return { s: config.mirror.sources[0]!, m: config.mirror }
}

const LIST = JSON.stringify([
  ...Array.from({ length: 500 }, (_, i) => entry(i)),
  entry(900, { btih: 'nope' }),
])

test('a prestarted list store thread is handed the read and stores the list as a thread started for it does', async (t) => {
  const { s, m } = source(t, await serveList(t, LIST))
  const stored = async (prestart: boolean) => {
    const db = openDatabase(join(tempDir(t), 'aacseed.db'))
    t.after(() => db.close())
    const store = new MirrorStore(db)
    if (prestart) {
      prestartListWorker('./list-store-worker.js')
      assert.deepEqual(spareListWorkers(), ['./list-store-worker.js'])
    }
    const r = await readSourceIntoStore(s, m, store, '2024-06-01T00:00:00.000Z')
    return {
      r,
      names: store
        .upstream({ source: 'up' })
        .map((x) => x.name)
        .sort(),
      rejected: store.rejections('up').map((x) => x.code),
    }
  }
  const spare = await stored(true)
  // Taken by the read: a second read starts a thread of its own.
  assert.deepEqual(spareListWorkers(), [])
  assert.deepEqual(spare.r, { offered: 500, rejected: 1 })
  assert.equal(spare.names.length, 500)
  assert.deepEqual(spare, await stored(false))
})

test('a prestarted parser thread reads a list into memory (a dry run) as a thread started for it does', async (t) => {
  const { s, m } = source(t, await serveList(t, LIST))
  prestartListWorker('./list-worker.js')
  // At most one spare a script.
  prestartListWorker('./list-worker.js')
  assert.deepEqual(spareListWorkers(), ['./list-worker.js'])
  const withSpare = await readSource(s, m, () => memorySink('up'))
  assert.deepEqual(spareListWorkers(), [])
  const without = await readSource(s, m, () => memorySink('up'))
  assert.equal(withSpare.torrents.length, 500)
  assert.equal(withSpare.rejected.length, 1)
  assert.deepEqual(withSpare, without)
})

test('a spare list thread that nobody takes keeps no process alive', { timeout: 60_000 }, async () => {
  const listRead = pathToFileURL(resolve(import.meta.dirname, '../../src/mirror/list-read.js')).href
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import { prestartListWorker } from ${JSON.stringify(listRead)}
prestartListWorker('./list-store-worker.js')
prestartListWorker('./list-worker.js')`,
    ],
    { stdio: 'ignore' },
  )
  const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)))
  assert.equal(code, 0)
})
