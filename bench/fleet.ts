/**
 * The fleet at scale, simulated in one process: 50 FAKE seedboxes holding 2,000 torrents each, a
 * quarter of each kind (test/support/fake-daemons.ts: local servers answering the health poll in
 * Transmission's, qBittorrent's, Deluge's and rTorrent's real wire formats, their shapes checked
 * against the real daemons' recorded answers by test/engines/wire-shapes.test.ts).
 *
 *   npm run bench:fleet
 *   node dist/bench/fleet.js --seedboxes 5 --torrents 200     (a quick smaller run)
 *
 * Measures:
 * - one full health poll cycle of every seedbox (version, every torrent in one call, free space
 *   each; everything stored in SQLite), the first (all rows new) and a steady-state one; then one
 *   steady-state poll of each kind's seedboxes alone;
 * - a placement of 100,000 torrents over 50 seedboxes (the pure planner), from nothing and
 *   with the fleet already holding the plan;
 * - how many placements move when one seedbox is added to the 50, and when one is lost.
 * Bars: full poll ≤ 10 s; placement ≤ 2 s; adding 1 seedbox to 50 moves ≤ 3% of placements.
 * Exit code: 0 all bars met, 1 a bar missed.
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { availableParallelism, loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { configSchema } from '../src/config/index.js'
import { openDatabase } from '../src/db/index.js'
import { REMOTE_KINDS, type RemoteKind } from '../src/engines/index.js'
import {
  Fleet,
  movedPlacements,
  planPlacement,
  seedboxPasswordEnv,
  type PlacementInput,
} from '../src/fleet/index.js'
import type { Holding, PlacementSeedbox, PlacementTorrent } from '../src/fleet/placement.js'
import { fakeSeedbox, type FakeSeedbox } from '../test/support/fake-daemons.js'

const { values } = parseArgs({
  options: { seedboxes: { type: 'string' }, torrents: { type: 'string' }, placement: { type: 'string' } },
})
const SEEDBOXES = Number(values.seedboxes ?? 50)
const PER_SEEDBOX = Number(values.torrents ?? 2000)
const PLACED = Number(values.placement ?? 100_000)
const POLL_BAR_S = 10
const PLACE_BAR_S = 2
const MOVE_BAR = 0.03

const hex = (s: string): string => createHash('sha1').update(s).digest('hex')
const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`

/**
 * Wall time and this process's CPU time of `fn` (on a shared machine the two differ; the bars are on wall
 * time).
 */
interface Timed {
  wall: number
  cpu: number
}
async function timed(fn: () => unknown): Promise<Timed> {
  const c0 = process.cpuUsage()
  const t0 = performance.now()
  await fn()
  const c = process.cpuUsage(c0)
  return { wall: performance.now() - t0, cpu: (c.user + c.system) / 1000 }
}
const show = (t: Timed): string => `${secs(t.wall)} (CPU ${secs(t.cpu)})`

interface PollFigures {
  first: Timed
  steady: Timed
  /** One steady-state poll of only that kind's seedboxes (a quarter of the fleet each). */
  byKind: Record<RemoteKind, { seedboxes: number; poll: Timed }>
}

async function pollBench(): Promise<PollFigures> {
  const dir = mkdtempSync(join(tmpdir(), 'aacseed-bench-fleet-'))
  const fakes: FakeSeedbox[] = []
  try {
    for (let s = 0; s < SEEDBOXES; s++) {
      // A quarter of each kind, interleaved.
      const f = fakeSeedbox(REMOTE_KINDS[s % REMOTE_KINDS.length]!, { freeBytes: 4e12 })
      for (let i = 0; i < PER_SEEDBOX; i++) {
        f.put({
          hash: hex(`bench ${s} ${i}`),
          name: `annas_archive_data__aacid__bench__${s}_${i}`,
          size: 1e8 + i,
          uploaded: i * 1000,
          peers: i % 7,
          seeders: i % 11,
          leechers: i % 3,
          downloads: i,
        })
      }
      await f.listen()
      fakes.push(f)
    }
    const db = openDatabase(join(dir, 'aacseed.db'))
    const env: NodeJS.ProcessEnv = {}
    const boxes = fakes.map((f, i) => {
      env[seedboxPasswordEnv(`fake-${i}`)] = f.password
      return {
        name: `fake-${i}`,
        kind: f.kind,
        url: f.url,
        username: f.username,
        path: '/downloads',
        reserve_bytes: 0,
      }
    })
    const fleetOf = (seedboxes: typeof boxes) =>
      new Fleet(configSchema.parse({ fleet: { seedboxes } }), db, { env })
    const fleet = fleetOf(boxes)
    let first = { answered: 0, torrents: 0, failed: [] as unknown[] }
    const firstT = await timed(async () => (first = await fleet.poll()))
    if (first.answered !== SEEDBOXES || first.torrents !== SEEDBOXES * PER_SEEDBOX)
      throw new Error(
        `poll answered ${first.answered}, ${first.torrents} torrents: ${JSON.stringify(first.failed.slice(0, 3))}`,
      )
    // Steady state: some copies changed state since.
    for (const f of fakes)
      for (let i = 0; i < 20; i++) f.touch(hex(`bench ${fakes.indexOf(f)} ${i}`), { rateUpload: 1000 })
    const steadyT = await timed(() => fleet.poll())
    await fleet.close()
    const byKind = {} as PollFigures['byKind']
    for (const kind of REMOTE_KINDS) {
      const mine = boxes.filter((b) => b.kind === kind)
      const sub = fleetOf(mine)
      let r = { answered: 0 }
      const t = await timed(async () => (r = await sub.poll()))
      if (r.answered !== mine.length) throw new Error(`${kind}: ${r.answered} of ${mine.length} answered`)
      byKind[kind] = { seedboxes: mine.length, poll: t }
      await sub.close()
    }
    db.close()
    return { first: firstT, steady: steadyT, byKind }
  } finally {
    await Promise.all(fakes.map((f) => f.close()))
    rmSync(dir, { recursive: true, force: true })
  }
}

async function placementBench(): Promise<{
  empty: Timed
  held: Timed
  addShare: number
  addMoved: number
  removeMoved: number
  removeHeld: number
  placements: number
}> {
  const torrents: PlacementTorrent[] = Array.from({ length: PLACED }, (_, i) => ({
    infohash: hex(`placed ${i}`),
    size: 1e8 + ((i * 7919) % 1e9),
    kind: i % 20 === 0 ? 'meta' : 'data',
    collection: `c${i % 13}`,
  }))
  const box = (name: string): PlacementSeedbox => ({
    name,
    weight: 1,
    up: true,
    capacityBytes: Infinity,
    freeBytes: Infinity,
  })
  const boxes = Array.from({ length: SEEDBOXES }, (_, i) => box(`fake-${i}`))
  const base: PlacementInput = {
    torrents,
    seedboxes: boxes,
    holdings: [],
    rules: { replicas: 2, byKind: {}, byCollection: {} },
    removeExtra: true,
  }
  let plan = planPlacement({ ...base, torrents: torrents.slice(0, 1000) })
  const empty = await timed(() => (plan = planPlacement(base)))
  const holdings: Holding[] = [...plan.holders].flatMap(([h, names]) =>
    names.map((seedbox) => ({ seedbox, infohash: h, complete: true, active: true })),
  )
  let same = plan
  const held = await timed(() => (same = planPlacement({ ...base, holdings })))
  if (same.additions.length !== 0 || same.removals.length !== 0)
    throw new Error('a plan of a fleet that already holds it should change nothing')
  const placements = holdings.length
  const added = planPlacement({ ...base, seedboxes: [...boxes, box('fake-new')], holdings })
  const addMoved = movedPlacements(plan.holders, added.holders)
  const lost = boxes[Math.min(7, boxes.length - 1)]!.name
  const removed = planPlacement({
    ...base,
    seedboxes: boxes.map((b) => (b.name === lost ? { ...b, up: false } : b)),
    holdings,
  })
  const removeMoved = movedPlacements(plan.holders, removed.holders)
  const removeHeld = holdings.filter((h) => h.seedbox === lost).length
  return { empty, held, addShare: addMoved / placements, addMoved, removeMoved, removeHeld, placements }
}

const load = loadavg()[0]!.toFixed(2)
console.log(
  `fleet benchmark: ${SEEDBOXES} fake seedboxes (${REMOTE_KINDS.join(', ')} in turn) × ${PER_SEEDBOX} torrents; placement of ${PLACED} torrents, N = 2 (load average ${load})`,
)
const poll = await pollBench()
console.log(
  `full health poll, first (all rows new):  ${show(poll.first)}  (bar ≤ ${POLL_BAR_S} s; CPU includes the fakes answering)`,
)
console.log(`full health poll, steady state:          ${show(poll.steady)}  (bar ≤ ${POLL_BAR_S} s)`)
for (const [kind, k] of Object.entries(poll.byKind))
  console.log(
    `  ${kind.padEnd(12)} ${k.seedboxes} seedboxes × ${PER_SEEDBOX} torrents, steady poll: ${show(k.poll)}`,
  )
const p = await placementBench()
console.log(
  `placement of ${PLACED} torrents over ${SEEDBOXES} seedboxes, empty fleet:   ${show(p.empty)}  (bar ≤ ${PLACE_BAR_S} s)`,
)
console.log(
  `placement of ${PLACED} torrents over ${SEEDBOXES} seedboxes, fleet holds it: ${show(p.held)}  (bar ≤ ${PLACE_BAR_S} s)`,
)
console.log(
  `adding 1 seedbox to ${SEEDBOXES}: ${p.addMoved} of ${p.placements} placements move (${(p.addShare * 100).toFixed(2)}%; ideal ${(100 / (SEEDBOXES + 1)).toFixed(2)}%; bar ≤ ${MOVE_BAR * 100}%)`,
)
console.log(
  `losing 1 of ${SEEDBOXES} seedboxes: ${p.removeMoved} placements move (it held ${p.removeHeld}: only those)`,
)
const ok =
  Math.max(poll.first.wall, poll.steady.wall) <= POLL_BAR_S * 1000 &&
  Math.max(p.empty.wall, p.held.wall) <= PLACE_BAR_S * 1000 &&
  p.addShare <= MOVE_BAR &&
  p.removeMoved === p.removeHeld
console.log(
  ok
    ? 'all bars met'
    : `BAR MISSED (load average now ${loadavg()[0]!.toFixed(2)} on ${availableParallelism()} cores)`,
)
process.exit(ok ? 0 : 1)
