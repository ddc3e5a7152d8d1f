/**
 * aacseed follows aacseed (issue #11 §6): instance A serves its releases, its list and its
 * .torrent files; instance B, whose config differs from the defaults only by where it keeps
 * things, its ports and `[[mirror.sources]]` pointing at A's /torrents.json, mirrors one data
 * and one metadata release with a real download, then seeds them. All on 127.0.0.1, random
 * ports, temp dirs; real `aacseed serve` processes.
 *
 * Departures from the defaults, and why: ports (two instances on one machine, and tests run in
 * parallel); DHT and LSD off (they would reach outside 127.0.0.1); A runs its embedded tracker
 * and announces to it, which is how B finds A's peer without DHT; B runs mirror_sync every
 * minute instead of every five (a download finished is placed by the next run).
 */
import assert from 'node:assert/strict'
import { type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { writeSampleRelease } from '../../src/catalog/index.js'
import { killChild, readTree } from '../engines/fixtures.js'
import { freePort, runCli, spawnCli, tempDir, waitFor } from '../helpers.js'

interface ListEntry {
  display_name: string
  btih: string
  url: string
  is_metadata: boolean
}

function serve(
  t: TestContext,
  env: NodeJS.ProcessEnv,
  cwd: string,
): { child: ChildProcess; log: () => string } {
  const child = spawnCli(['serve'], { env, cwd })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  t.after(() => killChild(child))
  return { child, log: () => out.slice(-3000) }
}

/** waitFor, with the serve log in the error when it times out. */
async function waitLogged<T>(
  what: string,
  log: () => string,
  fn: () => Promise<T | undefined>,
  timeoutMs: number,
  intervalMs: number,
): Promise<T> {
  try {
    return await waitFor(what, fn, timeoutMs, intervalMs)
  } catch (e) {
    throw new Error(`${(e as Error).message}\n${log()}`)
  }
}

async function getJson<T>(url: string): Promise<T | undefined> {
  const r = await fetch(url).catch(() => null)
  return r?.ok ? ((await r.json()) as T) : undefined
}

test(
  'B follows A with default settings: one data and one metadata release mirrored, held, seeded and republished',
  { timeout: 300_000 },
  async (t) => {
    const started = Date.now()
    const timings: Record<string, number> = {}
    const mark = (what: string): void => {
      timings[what] = (Date.now() - started) / 1000
    }
    const dir = tempDir(t)

    // ---- A: releases, its tracker, serve ----
    const a = join(dir, 'a')
    writeSampleRelease({
      root: join(a, 'releases'),
      collections: [
        { name: 'zlib3_files', kind: 'files', ranges: 1, recordsPerRange: 1, blobBytes: [2_000, 90_000] },
      ],
      seed: 11,
    })
    const [aHttp, aPeer, aTracker] = [await freePort(), await freePort(), await freePort()]
    const announce = `http://127.0.0.1:${aTracker}/announce`
    writeFileSync(
      join(a, 'aacseed.toml'),
      `[catalog]
roots = ["releases"]
[torrents]
announce = [["${announce}"]]
[tracker]
enabled = true
port = ${aTracker}
[engine.webtorrent]
port = ${aPeer}
dht = false
lsd = false
[http]
port = ${aHttp}
`,
    )
    const aEnv = { ...process.env, AACSEED_CONFIG: join(a, 'aacseed.toml') }
    const aServe = serve(t, aEnv, a)
    const listUrl = `http://127.0.0.1:${aHttp}/torrents.json`
    const aList = await waitLogged(
      'A publishing two torrents',
      aServe.log,
      async () => {
        const l = await getJson<ListEntry[]>(listUrl)
        return l && l.length === 2 ? l : undefined
      },
      120_000,
      250,
    )
    mark('A serving its list')
    assert.deepEqual(aList.map((e) => e.is_metadata).sort(), [false, true])
    // The default url_base is relative: it resolves against the list's URL to serve's own route.
    for (const e of aList) {
      assert.equal(e.url, `torrents/${encodeURIComponent(e.display_name)}`)
      const r = await fetch(new URL(e.url, listUrl))
      assert.equal(r.status, 200, e.url)
      assert.equal(r.headers.get('content-type'), 'application/x-bittorrent')
      const etag = r.headers.get('etag')!
      assert.ok(etag)
      await r.arrayBuffer()
      const again = await fetch(new URL(e.url, listUrl), { headers: { 'if-none-match': etag } })
      assert.equal(again.status, 304)
    }
    for (const bad of [
      'torrents/nope.torrent',
      'torrents/..%2Faacseed.db',
      'torrents/%2E%2E%2Faacseed.toml',
    ]) {
      const r = await fetch(new URL(bad, listUrl))
      assert.equal(r.status, 404, bad)
    }

    // ---- B: follows A's list ----
    const b = join(dir, 'b')
    mkdirSync(join(b, 'releases'), { recursive: true })
    const [bHttp, bPeer] = [await freePort(), await freePort()]
    writeFileSync(
      join(b, 'aacseed.toml'),
      `[catalog]
roots = ["releases"]
[engine.webtorrent]
port = ${bPeer}
dht = false
lsd = false
[http]
port = ${bHttp}
[jobs]
mirror_sync = "* * * * *"
[[mirror.sources]]
name = "a"
list = "${listUrl}"
`,
    )
    const bEnv = { ...process.env, AACSEED_CONFIG: join(b, 'aacseed.toml') }
    await waitFor(`A's tracker has A seeding`, async () => {
      const r = await fetch(
        `http://127.0.0.1:${aTracker}/scrape?info_hash=${encodeURIComponent(Buffer.from(aList[0]!.btih, 'hex').toString('latin1'))}`,
      ).catch(() => null)
      return r?.ok ? true : undefined
    })
    const bServe = serve(t, bEnv, b)
    interface Coverage {
      collections: Array<{ collection: string; levels: Record<string, { ratio: number }> }>
    }
    await waitLogged(
      'B holding and seeding both releases',
      bServe.log,
      async () => {
        const r = await runCli(['coverage', '--json'], { env: bEnv, cwd: b })
        if (r.code !== 0) return undefined
        const c = JSON.parse(r.stdout) as Coverage
        return c.collections.length > 0 &&
          c.collections.every((x) => x.levels.held!.ratio === 1 && x.levels.seeded!.ratio === 1)
          ? true
          : undefined
      },
      180_000,
      1000,
    )
    mark('B holding and seeding both')

    // Byte for byte A's releases.
    const mirrored = readTree(join(b, 'releases'))
    for (const [k, v] of readTree(join(a, 'releases')))
      assert.ok(mirrored.get(k)?.equals(v), `${k} differs or is missing`)
    // B's published list names A's infohashes.
    const bList = JSON.parse(readFileSync(join(b, 'torrents.json'), 'utf8')) as ListEntry[]
    assert.deepEqual(
      new Map(bList.map((e) => [e.display_name, e.btih])),
      new Map(aList.map((e) => [e.display_name, e.btih])),
    )
    await killChild(bServe.child, 'SIGTERM')
    await killChild(aServe.child, 'SIGTERM')
    t.diagnostic(`timings (s since start; machine shared): ${JSON.stringify(timings)}`)
  },
)
