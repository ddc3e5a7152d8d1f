/**
 * Run by mixed-netns.test.ts inside a network namespace of its own (`unshare -n`): only `lo`,
 * no route out. Gives the tracker and each daemon its own address on `lo` (10.200.0.x/32), so
 * daemons that refuse loopback peers dial each other. One release is seeded by one kind; every
 * other kind downloads it from the seedboxes alone (no local engine runs here). Prints one JSON
 * line with the timings.
 */
import { join } from 'node:path'
import { createRemoteEngine, type RemoteEngine, type RemoteKind } from '../../src/engines/index.js'
import type { Daemon } from '../engines/daemons.js'
import { infoHashOf, makeRelease, makeTorrent, readTree, startTracker } from '../engines/fixtures.js'
import { tempDir, waitFor } from '../helpers.js'
import { ctx, namespaceAddresses, runChild, startKinds, TRACKER_HOST } from './netns.js'

async function main(): Promise<void> {
  const seeder = (process.argv[2] ?? 'qbittorrent') as RemoteKind
  const kinds: RemoteKind[] = ['transmission', 'qbittorrent', 'deluge', 'rtorrent']
  namespaceAddresses(kinds.length)
  const dir = tempDir(ctx, 'aacseed-netns-')
  const tracker = await startTracker(ctx as never, { intervalMs: 2000, host: TRACKER_HOST })
  const daemons = new Map<RemoteKind, Daemon>()
  const engines = new Map<RemoteKind, RemoteEngine>()
  await startKinds(dir, kinds, async (kind, d) => {
    daemons.set(kind, d)
    const e = createRemoteEngine(kind, d.settings, {})
    await e.start()
    engines.set(kind, e)
  })
  const src = daemons.get(seeder)!
  const release = makeRelease(join(src.dataDir, 'aac'), [6_000_000, 9_000_001, 4_000_000])
  const torrent = makeTorrent(release, { pieceLength: 1 << 18, announce: tracker.announce })
  const infoHash = infoHashOf(torrent)
  const total = release.files.reduce((s, f) => s + f.size, 0)
  const t0 = performance.now()
  await engines
    .get(seeder)!
    .add({ torrent, infoHash, name: release.name, dataDir: release.root, verify: true })
  const seeded = async (kind: RemoteKind) =>
    await waitFor(
      `${kind} seeding`,
      async () => {
        const s = (await engines.get(kind)!.list()).find((x) => x.infoHash === infoHash)
        return s && s.state === 'seeding' && s.bytesPresent === total ? s : undefined
      },
      Number(process.env.AACSEED_NETNS_WAIT_MS ?? 100_000),
      250,
    )
  await seeded(seeder)
  const seededMs = performance.now() - t0
  const copies: Record<string, { ms: number; equal: boolean } | { error: string }> = {}
  await Promise.all(
    kinds
      .filter((k) => k !== seeder)
      .map(async (kind) => {
        const d = daemons.get(kind)!
        const k0 = performance.now()
        await engines.get(kind)!.add({
          torrent,
          infoHash,
          name: release.name,
          dataDir: join(d.dataDir, 'aac'),
          verify: true,
          download: true,
        })
        try {
          await seeded(kind)
        } catch (e) {
          const last = (await engines.get(kind)!.list()).find((x) => x.infoHash === infoHash)
          copies[kind] = { error: `${(e as Error).message}; last: ${JSON.stringify(last)}` }
          return
        }
        const ms = Math.round(performance.now() - k0)
        const a = readTree(release.dir)
        const b = readTree(join(d.dataDir, 'aac', release.name))
        const equal = a.size === b.size && [...a].every(([p, bytes]) => b.get(p)?.equals(bytes) === true)
        copies[kind] = { ms, equal }
      }),
  )
  const uploaded: Record<string, number> = {}
  for (const [kind, e] of engines)
    uploaded[kind] = (await e.list()).find((x) => x.infoHash === infoHash)?.uploaded ?? 0
  console.log(
    JSON.stringify({
      seeder,
      bytes: total,
      seededMs: Math.round(seededMs),
      copies,
      uploaded,
      // The proof that bytes moved between seedboxes: what the seeder reports uploading.
      versions: Object.fromEntries(
        await Promise.all([...engines].map(async ([k, e]) => [k, (await e.info()).version] as const)),
      ),
    }),
  )
}

runChild(main)
