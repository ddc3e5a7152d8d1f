/** The pure placement: N distinct holders, capacity, balance, stability, shortfalls, the removal rule. */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import {
  movedPlacements,
  planPlacement,
  rendezvousScore,
  replicasFor,
  type Holding,
  type PlacementInput,
  type PlacementSeedbox,
  type PlacementTorrent,
  type ReplicationRules,
} from '../../src/fleet/placement.js'

const hash = (i: number): string => createHash('sha1').update(`torrent ${i}`).digest('hex')
const torrents = (n: number, size = 1000, extra: Partial<PlacementTorrent> = {}): PlacementTorrent[] =>
  Array.from({ length: n }, (_, i) => ({
    infohash: hash(i),
    size,
    kind: 'data' as const,
    collection: 'c',
    ...extra,
  }))
const box = (name: string, over: Partial<PlacementSeedbox> = {}): PlacementSeedbox => ({
  name,
  weight: 1,
  up: true,
  capacityBytes: Infinity,
  freeBytes: Infinity,
  ...over,
})
const boxes = (n: number, over: Partial<PlacementSeedbox> = {}): PlacementSeedbox[] =>
  Array.from({ length: n }, (_, i) => box(`sb${String(i).padStart(2, '0')}`, over))
const rules = (replicas = 2, over: Partial<ReplicationRules> = {}): ReplicationRules => ({
  replicas,
  byKind: {},
  byCollection: {},
  ...over,
})
const input = (over: Partial<PlacementInput>): PlacementInput => ({
  torrents: [],
  seedboxes: [],
  holdings: [],
  rules: rules(),
  removeExtra: false,
  ...over,
})
const complete = (seedbox: string, infohash: string): Holding => ({
  seedbox,
  infohash,
  complete: true,
  active: true,
})

/** The plan's holders as holdings: the fleet after apply, everything downloaded. */
function asHoldings(holders: ReadonlyMap<string, readonly string[]>): Holding[] {
  return [...holders].flatMap(([h, names]) => names.map((n) => complete(n, h)))
}

function perSeedbox(holders: ReadonlyMap<string, readonly string[]>): Map<string, number> {
  const m = new Map<string, number>()
  for (const names of holders.values()) for (const n of names) m.set(n, (m.get(n) ?? 0) + 1)
  return m
}

test('every torrent gets N distinct seedboxes, and the plan is the same whatever the input order', () => {
  const ts = torrents(2000)
  const sbs = boxes(7)
  const p = planPlacement(input({ torrents: ts, seedboxes: sbs, rules: rules(3) }))
  assert.equal(p.holders.size, 2000)
  for (const names of p.holders.values()) {
    assert.equal(names.length, 3)
    assert.equal(new Set(names).size, 3)
  }
  assert.equal(p.additions.length, 6000)
  assert.ok(p.additions.every((a) => a.action === 'add' && a.bytes === 1000))
  assert.deepEqual(p.shortfalls, [])
  const shuffled = planPlacement(
    input({ torrents: [...ts].reverse(), seedboxes: [...sbs].reverse(), rules: rules(3) }),
  )
  for (const [h, names] of p.holders) assert.deepEqual(shuffled.holders.get(h), names)
})

test('holders come best ranked first, by the weighted rendezvous score', () => {
  const ts = torrents(50)
  const sbs = boxes(5)
  const p = planPlacement(input({ torrents: ts, seedboxes: sbs, rules: rules(2) }))
  for (const t of ts) {
    const ranked = sbs
      .map((s) => s.name)
      .sort((a, b) => rendezvousScore(t.infohash, b) - rendezvousScore(t.infohash, a))
    assert.deepEqual(p.holders.get(t.infohash), ranked.slice(0, 2))
  }
})

test('balanced: equal weights share evenly, weight 2 takes about twice', () => {
  const ts = torrents(20_000)
  const even = perSeedbox(
    planPlacement(input({ torrents: ts, seedboxes: boxes(10), rules: rules(2) })).holders,
  )
  for (const [name, n] of even)
    assert.ok(Math.abs(n - 4000) < 4000 * 0.06, `${name} holds ${n}, expected about 4000`)
  const sbs = [...boxes(4), box('big', { weight: 2 })]
  const weighted = perSeedbox(planPlacement(input({ torrents: ts, seedboxes: sbs, rules: rules(1) })).holders)
  const big = weighted.get('big')!
  const small = (20_000 - big) / 4
  assert.ok(big / small > 1.8 && big / small < 2.2, `weight 2 got ${big}, weight 1 about ${small}`)
})

test('stable: adding a seedbox moves only what the newcomer takes; losing one moves only what it held', () => {
  const ts = torrents(10_000)
  const sbs = boxes(10)
  const before = planPlacement(input({ torrents: ts, seedboxes: sbs, rules: rules(2) }))
  const holdings = asHoldings(before.holders)

  const added = planPlacement(
    input({ torrents: ts, seedboxes: [...sbs, box('new')], holdings, rules: rules(2) }),
  )
  const moved = movedPlacements(before.holders, added.holders)
  assert.ok(
    added.additions.every((a) => a.seedbox === 'new'),
    'only the new seedbox gets copies',
  )
  assert.equal(moved, added.additions.length)
  // Expected share: N/(S+1) of the torrents, i.e. 1/11 of the 20,000 placements.
  assert.ok(moved > (20_000 / 11) * 0.85 && moved < (20_000 / 11) * 1.15, `moved ${moved}`)

  const lost = sbs[3]!.name
  const held = before.seedboxes.find((s) => s.name === lost)!.torrents
  const fewer = planPlacement(
    input({
      torrents: ts,
      seedboxes: sbs.map((s) => (s.name === lost ? { ...s, up: false } : s)),
      holdings,
      rules: rules(2),
    }),
  )
  assert.equal(
    movedPlacements(before.holders, fewer.holders),
    held,
    "exactly the lost seedbox's torrents are re-placed",
  )
  for (const [h, names] of fewer.holders) {
    assert.equal(names.length, 2)
    const old = before.holders.get(h)!
    if (!old.includes(lost)) assert.deepEqual(names, old, 'a torrent the lost seedbox did not hold stays put')
  }
  assert.ok(fewer.kept.every((k) => k.seedbox === lost && k.reason === 'seedbox-down'))
  assert.equal(fewer.kept.length, held)
})

test("capacity: never beyond a seedbox's capacity or free space; the next in the ranking takes the torrent", () => {
  const ts = torrents(1000, 10)
  const sbs = [box('a', { capacityBytes: 1000 }), box('b', { freeBytes: 2000 }), box('c'), box('d')]
  const p = planPlacement(input({ torrents: ts, seedboxes: sbs, rules: rules(2) }))
  const per = perSeedbox(p.holders)
  assert.ok(per.get('a')! <= 100)
  assert.ok(per.get('b')! <= 200)
  assert.equal(per.get('a'), 100, 'a fills up to its capacity')
  for (const names of p.holders.values()) assert.equal(names.length, 2)
  const plan = new Map(p.seedboxes.map((s) => [s.name, s]))
  assert.equal(plan.get('a')!.bytes, 1000)
  assert.ok(plan.get('b')!.newBytes <= 2000)
})

test('capacity: a full seedbox keeps the copies it holds; free space only limits new downloads', () => {
  const ts = torrents(200, 10)
  // a holds 50 torrents already and has no free space: it keeps those it ranks for, takes nothing new.
  const first = planPlacement(input({ torrents: ts, seedboxes: boxes(3), rules: rules(1) }))
  const onA = [...first.holders].filter(([, n]) => n[0] === 'sb00').map(([h]) => h)
  const holdings = onA.map((h) => complete('sb00', h))
  const p = planPlacement(
    input({
      torrents: ts,
      seedboxes: [box('sb00', { freeBytes: 0 }), box('sb01'), box('sb02')],
      holdings,
      rules: rules(1),
    }),
  )
  for (const h of onA) assert.deepEqual(p.holders.get(h), ['sb00'])
  assert.ok(!p.additions.some((a) => a.seedbox === 'sb00'))
})

test('cannot reach N: the shortfall says why (too few seedboxes up, or no room)', () => {
  const ts = torrents(3, 500)
  const down = planPlacement(
    input({
      torrents: ts,
      seedboxes: [box('a'), box('b', { up: false }), box('c', { up: false })],
      rules: rules(2),
    }),
  )
  assert.equal(down.shortfalls.length, 3)
  for (const s of down.shortfalls) {
    assert.equal(s.target, 2)
    assert.equal(s.planned, 1)
    assert.match(s.reason, /only 1 seedbox\(es\) up \(2 down\), 2 needed/)
  }
  const full = planPlacement(
    input({
      torrents: ts,
      seedboxes: [box('a'), box('b', { capacityBytes: 100 }), box('c', { freeBytes: 499 })],
      rules: rules(2),
    }),
  )
  assert.equal(full.shortfalls.length, 3)
  for (const s of full.shortfalls) assert.match(s.reason, /2 up seedbox\(es\) lack room for 500 bytes/)
  for (const names of full.holders.values()) assert.deepEqual(names, ['a'])
})

test("replication rules: a collection's number beats its kind's, which beats N", () => {
  const r = rules(2, { byKind: { meta: 3 }, byCollection: { precious: 4 } })
  assert.equal(replicasFor(r, { kind: 'data', collection: 'x' }), 2)
  assert.equal(replicasFor(r, { kind: 'meta', collection: 'x' }), 3)
  assert.equal(replicasFor(r, { kind: 'meta', collection: 'precious' }), 4)
  const ts = [
    ...torrents(3),
    ...torrents(3, 1000, { kind: 'meta' }).map((t, i) => ({ ...t, infohash: hash(100 + i) })),
  ]
  const p = planPlacement(input({ torrents: ts, seedboxes: boxes(5), rules: r }))
  for (const t of ts) assert.equal(p.holders.get(t.infohash)!.length, t.kind === 'meta' ? 3 : 2)
})

test('external copies (the local engine) lower the seedboxes needed', () => {
  const ts = torrents(4)
  const ext = new Map([
    [ts[0]!.infohash, 1],
    [ts[1]!.infohash, 2],
  ])
  const p = planPlacement(input({ torrents: ts, seedboxes: boxes(3), rules: rules(2), externalCopies: ext }))
  assert.equal(p.holders.get(ts[0]!.infohash)!.length, 1)
  assert.equal(p.holders.get(ts[1]!.infohash)!.length, 0)
  assert.equal(p.holders.get(ts[2]!.infohash)!.length, 2)
})

test('existing copies: nothing is added twice; a stopped planned copy is started', () => {
  const [t] = torrents(1)
  const ranked = ['a', 'b', 'c'].sort(
    (x, y) => rendezvousScore(t!.infohash, y) - rendezvousScore(t!.infohash, x),
  )
  const holdings: Holding[] = [
    { seedbox: ranked[0]!, infohash: t!.infohash, complete: false, active: true },
    { seedbox: ranked[1]!, infohash: t!.infohash, complete: false, active: false },
  ]
  const p = planPlacement(
    input({ torrents: [t!], seedboxes: ['a', 'b', 'c'].map((n) => box(n)), holdings, rules: rules(2) }),
  )
  assert.deepEqual(p.holders.get(t!.infohash), ranked.slice(0, 2))
  assert.deepEqual(p.additions, [
    { infohash: t!.infohash, seedbox: ranked[1]!, bytes: 1000, action: 'start' },
  ])
})

test('removal rule: extras go only with remove_extra, never below N complete copies elsewhere, never on a down seedbox', () => {
  const [t] = torrents(1)
  const names = ['a', 'b', 'c', 'd', 'e']
  const ranked = [...names].sort((x, y) => rendezvousScore(t!.infohash, y) - rendezvousScore(t!.infohash, x))
  const [p1, p2, x1, x2, x3] = ranked as [string, string, string, string, string]
  const sbs = names.map((n) => box(n, { up: n !== x3 }))
  // Planned p1 (complete) and p2 (still downloading); extras x1, x2 complete, x3 on a down seedbox.
  const holdings: Holding[] = [
    complete(p1, t!.infohash),
    { seedbox: p2, infohash: t!.infohash, complete: false, active: true },
    complete(x1, t!.infohash),
    complete(x2, t!.infohash),
    complete(x3, t!.infohash),
  ]
  const off = planPlacement(
    input({ torrents: [t!], seedboxes: sbs, holdings, rules: rules(2), removeExtra: false }),
  )
  assert.deepEqual(off.removals, [])
  assert.deepEqual(off.kept.map((k) => k.reason).sort(), [
    'remove-extra-off',
    'remove-extra-off',
    'seedbox-down',
  ])

  const on = planPlacement(
    input({ torrents: [t!], seedboxes: sbs, holdings, rules: rules(2), removeExtra: true }),
  )
  // Complete on up seedboxes: p1, x1, x2 = 3. One extra can go; the other keeps the torrent at 2 until p2
  // completes.
  assert.equal(on.removals.length, 1)
  const removed = on.removals[0]!.seedbox
  const other = removed === x1 ? x2 : x1
  assert.ok([x1, x2].includes(removed))
  assert.deepEqual(
    on.kept.map((k) => [k.seedbox, k.reason]).sort(),
    [
      [other, 'below-target-elsewhere'],
      [x3, 'seedbox-down'],
    ].sort(),
  )

  // Once p2 is complete, both up extras go; the down one is still left alone.
  const done = holdings.map((h) => (h.seedbox === p2 ? complete(p2, t!.infohash) : h))
  const later = planPlacement(
    input({ torrents: [t!], seedboxes: sbs, holdings: done, rules: rules(2), removeExtra: true }),
  )
  assert.deepEqual(later.removals.map((r) => r.seedbox).sort(), [x1, x2].sort())
  assert.deepEqual(later.kept, [{ infohash: t!.infohash, seedbox: x3, reason: 'seedbox-down' }])

  // The down seedbox is back: it ranks among the first two again, so the replacement is the extra.
  const back = planPlacement(
    input({
      torrents: [t!],
      seedboxes: names.map((n) => box(n)),
      holdings: [complete(p1, t!.infohash), complete(p2, t!.infohash), complete(x1, t!.infohash)],
      rules: rules(2),
      removeExtra: true,
    }),
  )
  assert.deepEqual(back.holders.get(t!.infohash), [p1, p2])
  assert.deepEqual(
    back.removals.map((r) => r.seedbox),
    [x1],
  )
})

test('a lone copy on an extra seedbox is never removed while the planned holders have nothing', () => {
  const [t] = torrents(1)
  const ranked = ['a', 'b', 'c'].sort(
    (x, y) => rendezvousScore(t!.infohash, y) - rendezvousScore(t!.infohash, x),
  )
  const p = planPlacement(
    input({
      torrents: [t!],
      seedboxes: ['a', 'b', 'c'].map((n) => box(n)),
      holdings: [complete(ranked[2]!, t!.infohash)],
      rules: rules(2),
      removeExtra: true,
    }),
  )
  assert.deepEqual(p.removals, [])
  assert.equal(p.additions.length, 2)
  assert.deepEqual(p.kept, [{ infohash: t!.infohash, seedbox: ranked[2]!, reason: 'below-target-elsewhere' }])
})

test('bad input is a bug, not a plan: duplicate seedbox names, non-positive weights', () => {
  assert.throws(() => planPlacement(input({ seedboxes: [box('a'), box('a')] })), /listed twice/)
  assert.throws(() => planPlacement(input({ seedboxes: [box('a', { weight: 0 })] })), /weight 0/)
})
