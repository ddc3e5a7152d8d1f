/**
 * The fleet against real daemons: three transmission-daemons on 127.0.0.1 (own config folders
 * and ports, settings tuned for loopback), a bittorrent-tracker HTTP server, and one seedbox
 * holding the data, which the local WebTorrent engine seeds too. With N = 2 the data
 * replicates over BitTorrent and the copy verifies; a
 * holder killed with SIGKILL is re-placed after the grace period and the torrent is back at N;
 * restarted, reconciliation leaves exactly the planned holders. Driven through the CLI
 * (`aacseed fleet apply|plan|status`, `aacseed health`, `aacseed run scrape`) and the `Fleet` API.
 *
 * Why the local engine is in the swarm: Transmission 3.00 never dials a peer at 127.x or ::1
 * that a tracker handed out (libtransmission net.c, isMartianAddr; 4.x allows loopback only for
 * incoming, LPD and resume peers), though it accepts incoming loopback connections. On
 * loopback a new seedbox is therefore fed by a peer that dials it: the local engine, as the
 * issue has it ("downloads it from the swarm: the other seedboxes and the local engine").
 * On real networks seedboxes also feed each other.
 */
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { Server as TrackerServer } from 'bittorrent-tracker'
import { configSchema, loadConfig } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import { WebTorrentEngine } from '../../src/engines/webtorrent.js'
import { Fleet } from '../../src/fleet/index.js'
import { freePort, requireTool, runCli, tempDir, waitFor } from '../helpers.js'
import {
  infoHashOf,
  makeRelease,
  mktorrent,
  readTree,
  startTransmission,
  type TransmissionDaemon,
} from '../engines/fixtures.js'
import { insertTorrent } from './support.js'

interface Copy {
  hashString: string
  percentDone: number
  status: number
  haveValid: number
  totalSize: number
  downloadDir: string
}

/**
 * A bittorrent-tracker HTTP server on 127.0.0.1 telling clients to re-announce every 2 s, so the local engine
 * learns of a new seedbox quickly.
 */
async function quickTracker(t: TestContext): Promise<{ announce: string }> {
  const port = await freePort()
  const server = new TrackerServer({ udp: false, ws: false, http: true, stats: false, interval: 2000 })
  server.on('error', () => {})
  server.on('warning', () => {})
  await new Promise<void>((res) => server.listen(port, '127.0.0.1', res))
  t.after(() => new Promise<void>((res) => server.close(() => res())))
  return { announce: `http://127.0.0.1:${port}/announce` }
}

async function copyOn(d: TransmissionDaemon, infohash: string): Promise<Copy | undefined> {
  const r = await d.rpc('torrent-get', {
    ids: [infohash],
    fields: ['hashString', 'percentDone', 'status', 'haveValid', 'totalSize', 'downloadDir'],
  })
  return (r.arguments.torrents as Copy[])[0]
}

test(
  'fleet with real transmission-daemons: replicate to N = 2, survive a SIGKILLed holder, reconcile when it returns',
  { timeout: 300_000 },
  async (t) => {
    if (!requireTool(t, 'transmission-daemon') || !requireTool(t, 'mktorrent')) return
    const dir = tempDir(t)
    const tracker = await quickTracker(t)
    const names = ['box-a', 'box-b', 'box-c']
    const daemons = new Map<string, TransmissionDaemon>()
    for (const n of names) daemons.set(n, await startTransmission(t, join(dir, n)))
    const a = daemons.get('box-a')!

    // box-a holds the release and seeds it; the others have nothing.
    const release = makeRelease(a.downloadDir, [1_500_000, 2_200_000, 700_001])
    mkdirSync(join(dir, 'torrents'))
    const torrentPath = join(dir, 'torrents', `${release.name}.torrent`)
    const torrent = mktorrent(release.dir, tracker.announce, torrentPath)
    const infohash = infoHashOf(torrent)
    const added = await a.rpc('torrent-add', {
      metainfo: torrent.toString('base64'),
      'download-dir': a.downloadDir,
    })
    assert.equal(added.result, 'success')
    await waitFor(
      'box-a to verify and seed',
      async () => (await copyOn(a, infohash))?.status === 6,
      30_000,
      200,
    )
    const local = new WebTorrentEngine(
      configSchema.parse({ engine: { webtorrent: { port: 0, host: '127.0.0.1', dht: false, lsd: false } } })
        .engine.webtorrent,
    )
    t.after(() => local.close())
    await local.start()
    assert.equal(
      await local.add({
        torrent,
        infoHash: infohash,
        name: release.name,
        dataDir: release.root,
        verify: false,
      }),
      'added',
    )

    const dbPath = join(dir, 'aacseed.db')
    const configPath = join(dir, 'aacseed.toml')
    const seedboxes = names
      .map(
        (n) =>
          `[[fleet.seedboxes]]\nname = "${n}"\nurl = "${daemons.get(n)!.url}"\npath = "${daemons.get(n)!.downloadDir}"\nreserve_bytes = 0\ntimeout_ms = 3000\n`,
      )
      .join('')
    writeFileSync(
      configPath,
      `[catalog]\ndatabase = "${dbPath}"\n[torrents]\nannounce = [["${tracker.announce}"]]\nlist_path = "${join(dir, 'torrents.json')}"\n[fleet]\nreplicas = 2\nremove_extra = true\ndown_after_s = 2\n${seedboxes}`,
    )
    const db = openDatabase(dbPath)
    t.after(() => db.close())
    insertTorrent(db, {
      name: release.name,
      infohash,
      torrentPath,
      size: release.files.reduce((s, f) => s + f.size, 0),
      root: a.downloadDir,
    })
    const config = loadConfig({ path: configPath, env: {} })
    const fleet = new Fleet(config, db, { env: {}, client: { retry: { attempts: 3, baseDelayMs: 100 } } })
    const cli = (...args: string[]) => runCli([...args, '--config', configPath], { env: {} })

    // The plan, through the CLI.
    const plan = await cli('fleet', 'plan', '--json')
    assert.equal(plan.code, 0, plan.stderr)
    const planned = (JSON.parse(plan.stdout) as { holders: Record<string, string[]> }).holders[infohash]!
    assert.equal(planned.length, 2)
    assert.equal(new Set(planned).size, 2)

    const holdersNow = async (): Promise<string[]> => {
      const out: string[] = []
      for (const [n, d] of daemons) {
        const c = await copyOn(d, infohash).catch(() => undefined)
        if (c) out.push(n)
      }
      return out.sort()
    }
    const completeOn = async (n: string): Promise<boolean> => {
      const c = await copyOn(daemons.get(n)!, infohash).catch(() => undefined)
      return c !== undefined && c.percentDone === 1 && c.status === 6
    }
    /** Polls (as the fleet_poll job does) until the fleet sees the torrent healthy. */
    const untilHealthy = async (what: string): Promise<void> => {
      await waitFor(
        what,
        async () => {
          await fleet.poll()
          return fleet.status().torrents[0]!.health === 'ok' ? true : undefined
        },
        120_000,
        1000,
      )
    }

    // Apply: the planned seedboxes without the data get it, unpaused, and download it from box-a.
    const applied = await cli('fleet', 'apply', '--json')
    assert.equal(applied.code, 0, applied.stderr + applied.stdout)
    assert.equal(
      (JSON.parse(applied.stdout) as { added: number }).added,
      planned.filter((n) => n !== 'box-a').length,
    )
    await waitFor(
      'the planned holders to complete',
      async () => (await Promise.all(planned.map(completeOn))).every(Boolean),
      120_000,
      500,
    )
    for (const n of planned.filter((x) => x !== 'box-a')) {
      const d = daemons.get(n)!
      const c = (await copyOn(d, infohash))!
      assert.equal(c.percentDone, 1)
      assert.equal(c.haveValid, c.totalSize, `${n} verified every byte`)
      assert.equal(c.downloadDir, d.downloadDir, 'downloaded into the seedbox path')
      const got = readTree(join(d.downloadDir, release.name))
      const want = readTree(release.dir)
      assert.equal(got.size, want.size)
      for (const [k, v] of want) assert.ok(got.get(k)?.equals(v), `${n}: ${k} differs`)
    }
    await untilHealthy('the fleet to see 2 complete copies')
    // box-a's copy, if not planned, is an extra: removed now that two complete copies exist elsewhere.
    const reconcile = await cli('fleet', 'apply', '--json')
    assert.equal(reconcile.code, 0, reconcile.stderr)
    assert.deepEqual(await holdersNow(), [...planned].sort(), 'exactly the planned holders')

    // SIGKILL one holder. Within the grace period nothing moves; after it, the torrent is re-placed.
    const killed = planned[0]!
    const survivor = planned[1]!
    const spare = names.find((n) => !planned.includes(n))!
    await daemons.get(killed)!.kill('SIGKILL')
    await fleet.poll()
    assert.equal(fleet.seedboxViews().find((v) => v.name === killed)!.status, 'failing')
    const early = await fleet.apply()
    assert.equal(early.added, 0, 'no re-placement inside the grace period')
    await new Promise((r) => setTimeout(r, 2100))
    const replaced = await fleet.apply()
    assert.equal(fleet.seedboxViews().find((v) => v.name === killed)!.status, 'down')
    assert.equal(replaced.failed.length, 0, JSON.stringify(replaced.failed))
    assert.equal(replaced.added + replaced.duplicate + replaced.started, 1, `re-placed on ${spare}`)
    assert.deepEqual([...fleet.plan().placement.holders.get(infohash)!].sort(), [survivor, spare].sort())
    await waitFor(`${spare} to complete`, () => completeOn(spare), 120_000, 500)
    await untilHealthy('N copies again without the killed holder')
    const health = await cli('health', '--json')
    const h = JSON.parse(health.stdout) as {
      problems: Array<{ id: string }>
      torrents: Array<{ health: string; holders: string[] }>
    }
    assert.deepEqual(h.torrents[0]!.holders.sort(), [survivor, spare].sort())
    assert.ok(
      h.problems.some((p) => p.id === `seedbox-down:${killed}`),
      JSON.stringify(h.problems),
    )

    // The killed seedbox returns with its copy: the spare's copy becomes the extra and goes.
    await daemons.get(killed)!.start()
    await waitFor(`${killed} to seed again after the restart`, () => completeOn(killed), 60_000, 500)
    await fleet.poll()
    assert.equal(fleet.seedboxViews().find((v) => v.name === killed)!.status, 'up')
    const back = await fleet.apply()
    assert.equal(back.added, 0, 'nothing pushed twice')
    assert.equal(back.removed, 1)
    assert.deepEqual(await holdersNow(), [...planned].sort(), 'reconciled to exactly the planned holders')
    await fleet.poll()
    const status = await cli('fleet', 'status', '--json')
    const s = JSON.parse(status.stdout) as {
      counts: { ok: number; degraded: number; lost: number }
      seedboxes: Array<{ status: string }>
    }
    assert.deepEqual(s.counts, { ok: 1, degraded: 0, lost: 0 })
    assert.ok(s.seedboxes.every((x) => x.status === 'up'))

    // Swarm figures: the scrape job asks the tracker and the published list carries them.
    const scrape = await cli('run', 'scrape')
    assert.equal(scrape.code, 0, scrape.stderr + scrape.stdout)
    const list = JSON.parse(readFileSync(join(dir, 'torrents.json'), 'utf8')) as Array<{
      btih: string
      seeders: number
      stats_scraped_at: string | null
      aa_currently_seeding: boolean
    }>
    const entry = list.find((e) => e.btih === infohash)!
    assert.ok(entry.seeders >= 2, `the tracker counts the seedboxes as seeders: ${JSON.stringify(entry)}`)
    assert.match(entry.stats_scraped_at ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/)
    assert.equal(entry.aa_currently_seeding, true, 'seen seeding on a seedbox within 7 days')
  },
)
