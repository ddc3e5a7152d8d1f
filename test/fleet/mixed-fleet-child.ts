/**
 * Run by mixed-fleet.test.ts inside a network namespace of its own (`unshare -n`): aacseed's
 * `Fleet` drives one seedbox of each kind (Transmission, qBittorrent, Deluge, rTorrent), each
 * daemon on its own address on the namespace's `lo` (10.200.0.2-5), the tracker on 10.200.0.1,
 * the local WebTorrent engine on every address of the namespace. N = 2 over a generated tree
 * of releases. The steps of issue #13's mixed fleet, each timed:
 *
 *   1. placement (apply) and health polls until every torrent is healthy; the local engine, which
 *      fed the first holders, then stops seeding every torrent;
 *   2. SIGKILL one holder (an apply inside the grace period moves nothing);
 *   3. after the grace period an apply re-places its torrents;
 *   4. the new holders download from the remaining seedbox holder alone: the local engine holds
 *      nothing, the killed daemon is dead, the fourth seedbox never had the torrent; the
 *      survivor's uploaded counter grows by at least the torrent's size;
 *   5. the new holders report 100% verified, and their bytes equal the tree's;
 *   6. the killed daemon restarts;
 *   7. applies reconcile until the daemons hold exactly the planned holders, all complete.
 *
 * Prints one JSON line: timings, byte sources, and what each step saw; the test asserts on it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { configSchema } from '../../src/config/index.js'
import { openDatabase } from '../../src/db/index.js'
import {
  createRemoteEngine,
  REMOTE_KINDS,
  type RemoteEngine,
  type RemoteKind,
  type RemoteTorrentStatus,
} from '../../src/engines/index.js'
import { WebTorrentEngine } from '../../src/engines/webtorrent.js'
import { Fleet, seedboxPasswordEnv } from '../../src/fleet/index.js'
import type { Daemon } from '../engines/daemons.js'
import {
  infoHashOf,
  makeRelease,
  makeTorrent,
  readTree,
  startTracker,
  type Release,
} from '../engines/fixtures.js'
import { tempDir, waitFor } from '../helpers.js'
import { ctx, namespaceAddresses, runChild, startKinds, TRACKER_HOST } from './netns.js'
import { insertTorrent } from './support.js'

/** Generous: seven engineers share two cores, and deluge-web answers slowly then. */
const WAIT_MS = Number(process.env.AACSEED_NETNS_WAIT_MS ?? 240_000)
const GRACE_S = 8

const log = (msg: string): void => {
  process.stderr.write(`[mixed-fleet ${new Date().toISOString()}] ${msg}\n`)
}

interface Item {
  release: Release
  infohash: string
  size: number
}

async function main(): Promise<void> {
  const kinds: readonly RemoteKind[] = REMOTE_KINDS
  namespaceAddresses(kinds.length)
  const dir = tempDir(ctx, 'aacseed-mixed-fleet-')
  const tracker = await startTracker(ctx as never, { intervalMs: 2000, host: TRACKER_HOST })
  const boxName = (k: RemoteKind) => `box-${k}`
  const daemons = new Map<string, Daemon>()
  const engines = new Map<string, RemoteEngine>()
  await startKinds(dir, kinds, (kind, d) => {
    daemons.set(boxName(kind), d)
    const e = createRemoteEngine(kind, d.settings, {})
    ctx.after(() => e.close())
    engines.set(boxName(kind), e)
  })
  log('daemons up')

  // The generated tree: releases the local engine holds, their .torrent files, their rows.
  const dbPath = join(dir, 'aacseed.db')
  const db = openDatabase(dbPath)
  ctx.after(() => db.close())
  const treeRoot = join(dir, 'tree')
  const torrentsDir = join(dir, 'torrents')
  mkdirSync(torrentsDir, { recursive: true })
  const items: Item[] = []
  for (const sizes of [[3_000_000, 4_500_001, 700_000], [2_500_000, 3_100_003], [5_200_000]]) {
    const release = makeRelease(treeRoot, sizes)
    const torrent = makeTorrent(release, { pieceLength: 1 << 18, announce: tracker.announce })
    const infohash = infoHashOf(torrent)
    const torrentPath = join(torrentsDir, `${release.name}.torrent`)
    writeFileSync(torrentPath, torrent)
    const size = sizes.reduce((s, x) => s + x, 0)
    insertTorrent(db, { name: release.name, infohash, torrentPath, size, root: treeRoot })
    items.push({ release, infohash, size })
  }
  const local = new WebTorrentEngine(
    configSchema.parse({ engine: { webtorrent: { port: 0, host: '0.0.0.0', dht: false, lsd: false } } })
      .engine.webtorrent,
  )
  ctx.after(() => local.close())
  await local.start()
  for (const it of items) {
    await local.add({
      torrent: readFileSync(join(torrentsDir, `${it.release.name}.torrent`)),
      infoHash: it.infohash,
      name: it.release.name,
      dataDir: treeRoot,
      verify: false,
    })
  }

  const env: NodeJS.ProcessEnv = {}
  for (const [name, d] of daemons) env[seedboxPasswordEnv(name)] = d.settings.password
  const config = configSchema.parse({
    catalog: { database: dbPath },
    fleet: {
      replicas: 2,
      remove_extra: true,
      down_after_s: GRACE_S,
      seedboxes: [...daemons].map(([name, d]) => ({
        name,
        kind: d.kind,
        url: d.settings.url,
        username: d.settings.username,
        path: d.dataDir,
        reserve_bytes: 0,
        timeout_ms: 30_000,
      })),
    },
  })
  const fleet = new Fleet(config, db, {
    env,
    client: { retry: { attempts: 3, baseDelayMs: 200 } },
  })
  ctx.after(() => fleet.close())

  const copyOn = async (box: string, infohash: string): Promise<RemoteTorrentStatus | undefined> =>
    (await engines.get(box)!.list()).find((x) => x.infoHash === infohash)
  const complete = (c: RemoteTorrentStatus | undefined, size: number): boolean =>
    c !== undefined && c.state === 'seeding' && c.bytesPresent === size
  const holdersOn = async (infohash: string): Promise<string[]> => {
    const out: string[] = []
    for (const box of daemons.keys()) {
      const c = await copyOn(box, infohash).catch(() => undefined)
      if (c) out.push(box)
    }
    return out.sort()
  }
  const planned = (): Map<string, string[]> =>
    new Map(
      [...fleet.plan().placement.holders].map(([h, boxes]) => [h, [...boxes].sort()] as [string, string[]]),
    )
  const healthy = (): boolean => fleet.status().torrents.every((t) => t.health === 'ok')
  const timings: Record<string, number> = {}
  const step = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t0 = performance.now()
    const v = await fn()
    timings[name] = Math.round(performance.now() - t0)
    log(`${name}: ${timings[name]} ms`)
    return v
  }

  // 1. Placement and a health poll.
  const first = await step('1-placement-apply', () => fleet.apply())
  const firstPlan = planned()
  const pollMs: number[] = []
  await step('1-until-healthy', () =>
    waitFor(
      'every torrent on 2 seedboxes, complete, seen by a health poll',
      async () => {
        pollMs.push((await fleet.poll()).ms)
        return healthy()
      },
      WAIT_MS,
      1000,
    ),
  )
  const placed = new Map<string, string[]>()
  for (const it of items) placed.set(it.infohash, await holdersOn(it.infohash))
  // The local engine stops seeding: from here on only seedboxes hold the data.
  const localUploaded: Record<string, number> = {}
  for (const s of await local.list()) localUploaded[s.infoHash] = s.uploaded
  for (const it of items) await local.remove(it.infohash)
  const localAfterStop = (await local.list()).length

  // 2. SIGKILL the seedbox holding most torrents.
  const holdCount = new Map<string, number>()
  for (const boxes of firstPlan.values()) for (const b of boxes) holdCount.set(b, (holdCount.get(b) ?? 0) + 1)
  const killed = [...holdCount].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0]![0]
  const affected = items.filter((it) => firstPlan.get(it.infohash)!.includes(killed))
  await fleet.poll()
  const uploadedBefore = new Map(fleet.store.copies().map((c) => [`${c.seedbox} ${c.infohash}`, c.uploaded]))
  const killedAt = performance.now()
  await step('2-sigkill', () => daemons.get(killed)!.kill('SIGKILL'))
  const early = await step('2-apply-inside-grace', () => fleet.apply())
  const earlyInsideGrace = performance.now() - killedAt < GRACE_S * 1000
  const earlyStatus = fleet.seedboxViews().find((v) => v.name === killed)!.status

  // 3. After the grace period: re-placement.
  let replaced = early
  await step('3-replacement', () =>
    waitFor(
      're-placement after the grace period',
      async () => {
        replaced = await fleet.apply()
        return replaced.added > 0 ? true : undefined
      },
      WAIT_MS,
      1000,
    ),
  )
  timings['3-kill-to-replacement'] = Math.round(performance.now() - killedAt)
  const replan = planned()
  const newHolders = new Map(
    affected.map((it) => [
      it.infohash,
      replan.get(it.infohash)!.filter((b) => !placed.get(it.infohash)!.includes(b)),
    ]),
  )

  // 4 and 5. The new holders download from the surviving holder and verify 100%.
  await step('4-5-download-and-verify', () =>
    waitFor(
      'the new holders to complete',
      async () => {
        for (const it of affected)
          for (const b of newHolders.get(it.infohash)!)
            if (!complete(await copyOn(b, it.infohash), it.size)) return undefined
        return true
      },
      WAIT_MS,
      500,
    ),
  )
  // A daemon's upload counter trails what it sent (qBittorrent and rTorrent refresh their torrent
  // statistics every second or two): polled until each survivor's counter shows the whole
  // torrent sent, for at most 20 s; the assertion below judges what was read last.
  const survivorOf = (infohash: string): string => placed.get(infohash)!.find((b) => b !== killed)!
  let uploadedAfter = new Map<string, number | null>()
  const settledBy = Date.now() + 20_000
  for (;;) {
    await fleet.poll()
    uploadedAfter = new Map(fleet.store.copies().map((c) => [`${c.seedbox} ${c.infohash}`, c.uploaded]))
    const sentAll = affected.every((it) => {
      const key = `${survivorOf(it.infohash)} ${it.infohash}`
      return (uploadedAfter.get(key) ?? 0) - (uploadedBefore.get(key) ?? 0) >= it.size
    })
    if (sentAll || Date.now() > settledBy) break
    await new Promise((r) => setTimeout(r, 500))
  }
  const copies = []
  for (const it of affected) {
    const survivor = survivorOf(it.infohash)
    for (const b of newHolders.get(it.infohash)!) {
      const c = (await copyOn(b, it.infohash))!
      const want = readTree(it.release.dir)
      const got = readTree(join(daemons.get(b)!.dataDir, it.release.name))
      copies.push({
        infohash: it.infohash,
        size: it.size,
        newHolder: b,
        survivor,
        progress: c.progress,
        bytesPresent: c.bytesPresent,
        state: c.state,
        equal: want.size === got.size && [...want].every(([p, bytes]) => got.get(p)?.equals(bytes) === true),
        survivorUploadedBefore: uploadedBefore.get(`${survivor} ${it.infohash}`) ?? null,
        survivorUploadedAfter: uploadedAfter.get(`${survivor} ${it.infohash}`) ?? null,
        localHolds: (await local.list()).some((s) => s.infoHash === it.infohash),
        fourthHolds: await Promise.all(
          [...daemons.keys()]
            .filter((x) => x !== killed && x !== survivor && x !== b)
            .map(async (x) => ({ box: x, holds: (await copyOn(x, it.infohash)) !== undefined })),
        ),
      })
    }
  }

  // 6. The killed daemon returns.
  await step('6-restart', () => daemons.get(killed)!.start())
  await step('6-until-up', () =>
    waitFor(
      `${killed} answering a poll`,
      async () => {
        await fleet.poll()
        return fleet.seedboxViews().find((v) => v.name === killed)!.status === 'up'
      },
      WAIT_MS,
      1000,
    ),
  )

  // 7. Reconciliation: applies until the daemons hold exactly the planned holders, all complete.
  const applies: Array<{ added: number; removed: number; started: number; failed: number }> = []
  await step('7-reconcile', () =>
    waitFor(
      'exactly the planned holders',
      async () => {
        const r = await fleet.apply()
        applies.push({ added: r.added, removed: r.removed, started: r.started, failed: r.failed.length })
        const plan = planned()
        for (const it of items) {
          const want = plan.get(it.infohash) ?? []
          if (want.length !== 2) return undefined
          if ((await holdersOn(it.infohash)).join() !== want.join()) return undefined
          for (const b of want) if (!complete(await copyOn(b, it.infohash), it.size)) return undefined
        }
        return true
      },
      WAIT_MS,
      2000,
    ),
  )
  await fleet.poll()
  const finalPlan = planned()
  const final: Record<string, { planned: string[]; held: string[] }> = {}
  for (const it of items)
    final[it.infohash] = { planned: finalPlan.get(it.infohash)!, held: await holdersOn(it.infohash) }

  console.log(
    JSON.stringify({
      kinds: Object.fromEntries(
        await Promise.all(
          [...engines].map(
            async ([b, e]) => [b, `${daemons.get(b)!.kind} ${(await e.info()).version}`] as const,
          ),
        ),
      ),
      torrents: items.map((it) => ({ infohash: it.infohash, size: it.size })),
      firstApply: { added: first.added, failed: first.failed },
      placed: Object.fromEntries(placed),
      healthPollMs: pollMs,
      localUploaded,
      localAfterStop,
      killed,
      killedKind: daemons.get(killed)!.kind,
      early: { added: early.added, insideGrace: earlyInsideGrace, status: earlyStatus },
      replaced: { added: replaced.added, failed: replaced.failed },
      copies,
      applies,
      final,
      healthyAtEnd: healthy(),
      timings,
    }),
  )
}

runChild(main)
