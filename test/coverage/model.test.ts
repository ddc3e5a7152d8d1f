import assert from 'node:assert/strict'
import { test } from 'node:test'
import { timestampFromSeconds } from '../../src/aac/index.js'
import {
  computeCoverage,
  gapsBetween,
  LIST_LIMIT,
  mergeSpans,
  overlappingPairs,
  swarmBucket,
  totalSeconds,
  type CatalogReleaseInput,
  type CoverageData,
  type EngineTorrentInput,
  type ExternalFigures,
  type FleetTorrentFigures,
  type OverlapProblemInput,
  type SwarmTorrentFigures,
  type TorrentInput,
  type UpstreamRelease,
} from '../../src/coverage/index.js'

// Seconds from an arbitrary origin; ranges are inclusive at both ends, as AACID ranges are.
const T0 = Date.UTC(2024, 0, 1) / 1000
const ts = (s: number): string => timestampFromSeconds(T0 + s).text

function meta(
  collection: string,
  from: number,
  to: number,
  extra: Partial<CatalogReleaseInput> = {},
): CatalogReleaseInput {
  return {
    kind: 'meta',
    name: `annas_archive_meta__aacid__${collection}__${ts(from)}--${ts(to)}.jsonl.zst`,
    collection,
    from: ts(from),
    to: ts(to),
    fromS: T0 + from,
    toS: T0 + to,
    records: 100,
    files: 1,
    bytes: 1000,
    problems: 0,
    ...extra,
  }
}

function data(
  collection: string,
  from: number,
  to: number,
  extra: Partial<CatalogReleaseInput> = {},
): CatalogReleaseInput {
  return {
    ...meta(collection, from, to),
    kind: 'data',
    name: `annas_archive_data__aacid__${collection}__${ts(from)}--${ts(to)}`,
    records: 0,
    files: 10,
    bytes: 50_000,
    ...extra,
  }
}

let hashCounter = 0
function torrentOf(
  r: CatalogReleaseInput,
  infohash = (++hashCounter).toString(16).padStart(40, '0'),
): TorrentInput {
  return {
    name: r.name,
    infohash,
    kind: r.kind,
    collection: r.collection,
    from: r.from,
    to: r.to,
    fromS: r.fromS,
    toS: r.toS,
    bytes: r.bytes,
    files: r.files,
    addedAt: '2024-01-02',
  }
}

function external(over: Partial<ExternalFigures> = {}): ExternalFigures {
  return { copiesTarget: 2, fleet: new Map(), swarm: new Map(), seedboxes: [], upstream: [], ...over }
}

/** A torrent's figures as the health model (src/fleet/health.ts) reports them: all copies on seedboxes. */
function fig(copies: number, target = 2): FleetTorrentFigures {
  return {
    copies,
    seedboxCopies: copies,
    target,
    health: copies >= target ? 'ok' : copies > 0 ? 'degraded' : 'lost',
  }
}

function input(over: Partial<CoverageData> & { releases: CatalogReleaseInput[] }): CoverageData {
  return { torrents: [], engine: new Map(), overlapProblems: [], external: external(), ...over }
}

const spans = (list: Array<[number, number]>) => list.map(([from, to]) => ({ from, to }))

test('spans: adjacent ranges merge with no gap; inclusive ends count one second each', () => {
  assert.deepEqual(
    mergeSpans(
      spans([
        [10, 19],
        [0, 9],
      ]),
    ),
    spans([[0, 19]]),
  )
  assert.deepEqual(
    gapsBetween(
      mergeSpans(
        spans([
          [0, 9],
          [10, 19],
        ]),
      ),
    ),
    [],
  )
  assert.equal(
    totalSeconds(
      mergeSpans(
        spans([
          [0, 9],
          [10, 19],
        ]),
      ),
    ),
    20,
  )
})

test('spans: overlapping ranges merge; the overlap of [0,10] and [10,20] is the one second 10', () => {
  assert.deepEqual(
    mergeSpans(
      spans([
        [0, 10],
        [5, 15],
      ]),
    ),
    spans([[0, 15]]),
  )
  assert.deepEqual(
    mergeSpans(
      spans([
        [0, 100],
        [5, 15],
      ]),
    ),
    spans([[0, 100]]),
  )
  const { pairs } = overlappingPairs(
    spans([
      [10, 20],
      [0, 10],
    ]),
  )
  assert.equal(pairs.length, 1)
  assert.deepEqual(pairs[0]!.overlap, { from: 10, to: 10 })
  assert.equal(
    overlappingPairs(
      spans([
        [0, 9],
        [10, 19],
      ]),
    ).pairs.length,
    0,
  )
})

test('spans: a gap is the seconds strictly between two ranges', () => {
  const merged = mergeSpans(
    spans([
      [20, 29],
      [0, 9],
    ]),
  )
  assert.deepEqual(gapsBetween(merged), spans([[10, 19]]))
  assert.equal(totalSeconds(merged), 20)
})

test('spans: single-second ranges', () => {
  const merged = mergeSpans(
    spans([
      [8, 8],
      [5, 5],
      [6, 6],
      [5, 5],
    ]),
  )
  assert.deepEqual(
    merged,
    spans([
      [5, 6],
      [8, 8],
    ]),
  )
  assert.deepEqual(gapsBetween(merged), spans([[7, 7]]))
  assert.equal(totalSeconds(merged), 3)
})

test('spans: overlapping pairs are found by a sweep, and capped', () => {
  const many = Array.from({ length: 50 }, (_, i) => ({ from: i, to: 100 }))
  const all = overlappingPairs(many, 10_000)
  assert.equal(all.pairs.length, (50 * 49) / 2)
  assert.equal(all.truncated, false)
  const capped = overlappingPairs(many, 100)
  assert.equal(capped.pairs.length, 100)
  assert.equal(capped.truncated, true)
})

test('adjacent releases: one span per level, no gaps, no overlaps', () => {
  const a = meta('c', 0, 99)
  const b = meta('c', 100, 199)
  const r = computeCoverage(input({ releases: [b, a] }))
  const c = r.collections[0]!
  assert.equal(c.collection, 'c')
  assert.equal(c.from, ts(0))
  assert.equal(c.to, ts(199))
  assert.deepEqual(c.totals, {
    releases: 2,
    metaFiles: 2,
    dataFolders: 0,
    records: 200,
    files: 2,
    bytes: 2000,
    torrents: 0,
  })
  assert.deepEqual(c.levels.held, {
    records: 200,
    files: 2,
    bytes: 2000,
    ranges: 2,
    seconds: 200,
    ratio: 1,
    spans: [{ from: T0, to: T0 + 199 }],
  })
  assert.deepEqual(c.levels.torrented, {
    records: 0,
    files: 0,
    bytes: 0,
    ranges: 0,
    seconds: 0,
    ratio: 0,
    spans: [],
  })
  assert.deepEqual(c.gaps, [])
  assert.deepEqual(c.overlaps, [])
  assert.deepEqual(
    c.items.map((i) => [i.name, i.state]),
    [
      [a.name, 'held'],
      [b.name, 'held'],
    ],
  )
})

test('gapped releases: the gap is reported with the releases on either side', () => {
  const a = meta('c', 0, 9)
  const b = meta('c', 20, 29)
  const d = data('c', 0, 4)
  const c = computeCoverage(input({ releases: [a, b, d] })).collections[0]!
  assert.deepEqual(c.gaps, [
    { from: ts(10), to: ts(19), fromS: T0 + 10, toS: T0 + 19, seconds: 10, after: a.name, before: b.name },
  ])
  assert.equal(c.gapSeconds, 10)
  assert.equal(c.levels.cataloged.seconds, 20)
  assert.deepEqual(c.levels.cataloged.spans, [
    { from: T0, to: T0 + 9 },
    { from: T0 + 20, to: T0 + 29 },
  ])
})

test('single-second releases: each covers one second; one second apart is a one-second gap', () => {
  const c = computeCoverage(input({ releases: [meta('c', 5, 5), meta('c', 6, 6), meta('c', 8, 8)] }))
    .collections[0]!
  assert.equal(c.levels.held.seconds, 3)
  assert.equal(c.levels.held.ranges, 3)
  assert.deepEqual(
    c.gaps.map((g) => [g.fromS - T0, g.toS - T0, g.seconds]),
    [[7, 7, 1]],
  )
})

test('overlapping releases: the immutability check result comes from the catalog problems', () => {
  const a = meta('c', 0, 50)
  const b = meta('c', 40, 99)
  const x = meta('c', 200, 260)
  const y = meta('c', 250, 300)
  const problems: OverlapProblemInput[] = [
    {
      collection: 'c',
      code: 'immutable-conflict',
      path: x.name,
      message: `record aacid__c__... differs between ${x.name} line 3 and ${y.name} line 1: AACs are immutable`,
    },
    {
      collection: 'c',
      code: 'overlap-mismatch',
      path: y.name,
      message: `ranges of ${y.name} and ${x.name} overlap but 2 AACID(s) are only in ${y.name}`,
    },
    // Another collection's problem naming the same files must not count.
    {
      collection: 'other',
      code: 'overlap-mismatch',
      path: a.name,
      message: `ranges of ${a.name} and ${b.name} overlap`,
    },
  ]
  const d1 = data('c', 0, 30)
  const d2 = data('c', 30, 45)
  const c = computeCoverage(input({ releases: [a, b, x, y, d1, d2], overlapProblems: problems }))
    .collections[0]!
  assert.deepEqual(
    c.overlaps.map((o) => ({
      kind: o.kind,
      a: o.a,
      b: o.b,
      from: o.fromS - T0,
      to: o.toS - T0,
      seconds: o.seconds,
      check: o.check,
      problems: o.problems,
    })),
    [
      {
        kind: 'data',
        a: d1.name,
        b: d2.name,
        from: 30,
        to: 30,
        seconds: 1,
        check: 'unchecked',
        problems: [],
      },
      { kind: 'meta', a: a.name, b: b.name, from: 40, to: 50, seconds: 11, check: 'ok', problems: [] },
      {
        kind: 'meta',
        a: x.name,
        b: y.name,
        from: 250,
        to: 260,
        seconds: 11,
        check: 'conflict',
        problems: ['immutable-conflict', 'overlap-mismatch'],
      },
    ],
  )
  // The union counts overlapping seconds once.
  assert.equal(c.levels.held.seconds, 100 + 101)
  assert.equal(c.gaps.length, 1)
})

test('a release with problems is cataloged but not held, and shows as such', () => {
  const good = meta('c', 0, 9)
  const bad = meta('c', 10, 19, { problems: 2 })
  const c = computeCoverage(input({ releases: [good, bad] })).collections[0]!
  assert.equal(c.levels.cataloged.ranges, 2)
  assert.equal(c.levels.held.ranges, 1)
  assert.equal(c.levels.held.ratio, 0.5)
  assert.deepEqual(
    c.items.map((i) => i.state),
    ['held', 'problems'],
  )
})

test('torrents, the local engine and the fleet: levels, copies and health', () => {
  const rs = [meta('c', 0, 9), meta('c', 10, 19), meta('c', 20, 29), meta('c', 30, 39), data('c', 0, 19)]
  const ts4 = rs.map((r) => torrentOf(r))
  const [t0, t1, t2, t3, td] = ts4 as [TorrentInput, TorrentInput, TorrentInput, TorrentInput, TorrentInput]
  const engine = new Map<string, EngineTorrentInput>([
    [t0.infohash, { infohash: t0.infohash, state: 'seeding', lastSeedingAt: '2024-01-03T00:00:00.000Z' }],
    [t1.infohash, { infohash: t1.infohash, state: 'checking', lastSeedingAt: null }],
    [td.infohash, { infohash: td.infohash, state: 'seeding', lastSeedingAt: '2024-01-03T00:00:00.000Z' }],
  ])
  const fleet = new Map<string, FleetTorrentFigures>([
    [t2.infohash, fig(1)],
    [t3.infohash, fig(3)],
    [td.infohash, fig(2, 3)],
  ])
  const r = computeCoverage(
    input({ releases: rs, torrents: [t3, t1, t0, td, t2], engine, external: external({ fleet }) }),
  )
  const c = r.collections[0]!
  assert.equal(c.totals.torrents, 5)
  assert.equal(c.levels.torrented.ranges, 5)
  assert.equal(c.levels.seeded.ranges, 2)
  assert.equal(c.levels.fleet_1.ranges, 3)
  // td has 2 copies but wants 3: not at its target.
  assert.equal(c.levels.fleet_n.ranges, 1)
  assert.deepEqual(c.levels.fleet_n.spans, [{ from: T0 + 30, to: T0 + 39 }])
  const by = new Map(r.torrents.map((t) => [t.infohash, t]))
  // Not in the health state: coverage counts nothing itself, even for a torrent seeding here.
  assert.deepEqual(
    [by.get(t0.infohash)!.copies, by.get(t0.infohash)!.health, by.get(t0.infohash)!.fleetCopies],
    [0, 'lost', null],
  )
  assert.deepEqual([by.get(t1.infohash)!.copies, by.get(t1.infohash)!.health], [0, 'lost'])
  assert.deepEqual([by.get(t2.infohash)!.copies, by.get(t2.infohash)!.health], [1, 'degraded'])
  assert.deepEqual(
    [by.get(t3.infohash)!.copies, by.get(t3.infohash)!.health, by.get(t3.infohash)!.atRisk],
    [3, 'ok', false],
  )
  assert.deepEqual(
    [by.get(td.infohash)!.copies, by.get(td.infohash)!.target, by.get(td.infohash)!.health],
    [2, 3, 'degraded'],
  )
  assert.deepEqual(c.health, { ok: 1, degraded: 2, lost: 2 })
  assert.equal(c.atRisk, 4)
  assert.deepEqual(
    c.items.map((i) => [i.kind, i.fromS - T0, i.state]),
    [
      ['meta', 0, 'seeded'],
      ['data', 0, 'fleet_1'],
      ['meta', 10, 'torrented'],
      ['meta', 20, 'fleet_1'],
      ['meta', 30, 'fleet_n'],
    ],
  )
  // The health model's verdict is taken as it is, never re-derived.
  const verdict = computeCoverage(
    input({
      releases: rs,
      torrents: ts4,
      external: external({ fleet: new Map([[t3.infohash, { ...fig(3), health: 'degraded' as const }]]) }),
    }),
  )
  assert.equal(verdict.torrents.find((t) => t.infohash === t3.infohash)!.health, 'degraded')
})

test('swarm buckets: < 4, 4–10, > 10 seeders, and never scraped', () => {
  assert.deepEqual([0, 3, 4, 10, 11, null].map(swarmBucket), [
    'lt4',
    'lt4',
    '4to10',
    '4to10',
    'gt10',
    'unknown',
  ])
  const rs = [
    meta('c', 0, 9, { bytes: 1 }),
    meta('c', 10, 19, { bytes: 10 }),
    meta('c', 20, 29, { bytes: 100 }),
    meta('c', 30, 39, { bytes: 1000 }),
    meta('c', 40, 49, { bytes: 10000 }),
  ]
  const tor = rs.map((r) => torrentOf(r))
  const s = (seeders: number): SwarmTorrentFigures => ({
    seeders,
    leechers: 1,
    completed: 5,
    scrapedAt: '2024-01-03T00:00:00',
  })
  const swarm = new Map<string, SwarmTorrentFigures>([
    [tor[0]!.infohash, s(0)],
    [tor[1]!.infohash, s(4)],
    [tor[2]!.infohash, s(10)],
    [tor[3]!.infohash, s(11)],
  ])
  const fleet = new Map(tor.map((t) => [t.infohash, fig(2)]))
  const r = computeCoverage(input({ releases: rs, torrents: tor, external: external({ swarm, fleet }) }))
  const c = r.collections[0]!
  assert.deepEqual(c.swarm, {
    lt4: { torrents: 1, bytes: 1 },
    '4to10': { torrents: 2, bytes: 110 },
    gt10: { torrents: 1, bytes: 1000 },
    unknown: { torrents: 1, bytes: 10000 },
  })
  assert.deepEqual(
    [c.levels.swarm_lt4.ranges, c.levels.swarm_4to10.ranges, c.levels.swarm_gt10.ranges],
    [1, 2, 1],
  )
  assert.equal(c.levels.swarm_4to10.seconds, 20)
  // Enough copies, but 0 seeders in the swarm: still at risk. Unknown seeders alone are not.
  assert.deepEqual(
    r.torrents.map((t) => [t.seeders, t.atRisk]),
    [
      [0, true],
      [4, false],
      [10, false],
      [11, false],
      [null, false],
    ],
  )
})

test('upstream ranges: missing ones are listed, count as known bytes and are not gaps', () => {
  const a = meta('c', 0, 9)
  const b = meta('c', 20, 29)
  const between: UpstreamRelease = {
    name: meta('c', 10, 19).name,
    kind: 'meta',
    collection: 'c',
    from: ts(10),
    to: ts(19),
    fromS: T0 + 10,
    toS: T0 + 19,
    bytes: 2000,
  }
  const held: UpstreamRelease = {
    name: a.name,
    kind: 'meta',
    collection: 'c',
    from: a.from,
    to: a.to,
    fromS: a.fromS,
    toS: a.toS,
    bytes: 1000,
  }
  const c = computeCoverage(input({ releases: [a, b], external: external({ upstream: [between, held] }) }))
    .collections[0]!
  assert.deepEqual(
    c.missing.map((m) => m.name),
    [between.name],
  )
  assert.deepEqual(c.gaps, [])
  assert.equal(c.totals.bytes, 4000)
  assert.equal(c.levels.held.ratio, 0.5)
  assert.deepEqual(
    c.items.map((i) => [i.state, i.upstream, i.cataloged]),
    [
      ['held', true, true],
      ['upstream', true, false],
      ['held', false, true],
    ],
  )
})

test('a long upstream list: counted in full, listed up to LIST_LIMIT, streamed and read twice at most', () => {
  // 2,500 releases known upstream only, 10 s each with a 10 s gap after each, given in reverse
  // order; one local release in the middle.
  const n = 2500
  const up = (k: number): UpstreamRelease => {
    const r = meta('c', k * 20, k * 20 + 9)
    return {
      name: r.name,
      kind: 'meta',
      collection: 'c',
      from: r.from,
      to: r.to,
      fromS: r.fromS,
      toS: r.toS,
      bytes: 10,
    }
  }
  const local = meta('c', 1000 * 20, 1000 * 20 + 9)
  let passes = 0
  const upstream = {
    *[Symbol.iterator]() {
      passes++
      for (let k = n - 1; k >= 0; k--) if (k !== 1000) yield up(k)
    },
  }
  const r = computeCoverage(input({ releases: [local], external: external({ upstream }) }))
  const c = r.collections[0]!
  assert.ok(passes <= 2)
  // Counts cover every release: 2,499 upstream only and the local one.
  assert.equal(c.totals.releases, n)
  assert.equal(c.totals.metaFiles, n)
  assert.equal(c.totals.bytes, (n - 1) * 10 + 1000)
  assert.equal(c.levels.held.ratio, 1000 / ((n - 1) * 10 + 1000))
  assert.equal(c.missingCount, n - 1)
  assert.equal(r.totals.missing, n - 1)
  assert.equal(c.gapCount, n - 1)
  assert.equal(r.totals.gaps, n - 1)
  assert.equal(c.gapSeconds, (n - 1) * 10)
  assert.equal(c.fromS, T0)
  assert.equal(c.toS, T0 + (n - 1) * 20 + 9)
  // Lists: the first LIST_LIMIT by start, whatever order they came in.
  assert.equal(c.missing.length, LIST_LIMIT)
  assert.deepEqual(
    c.missing.slice(0, 2).map((m) => m.name),
    [up(0).name, up(1).name],
  )
  assert.equal(c.gaps.length, LIST_LIMIT)
  assert.deepEqual(c.gaps[0], {
    from: ts(10),
    to: ts(19),
    fromS: T0 + 10,
    toS: T0 + 19,
    seconds: 10,
    after: up(0).name,
    before: up(1).name,
  })
  // The local release is listed with the first LIST_LIMIT known upstream only.
  assert.equal(c.items.length, LIST_LIMIT + 1)
  assert.equal(c.unlisted, n - 1 - LIST_LIMIT)
  assert.equal(c.items.at(-1)!.name, local.name)
  assert.equal(c.items.filter((i) => i.state === 'upstream').length, LIST_LIMIT)
})

test('a torrent whose release left the catalog still counts for the torrent and fleet levels', () => {
  const gone = meta('c', 0, 9)
  const t = torrentOf(gone)
  const r = computeCoverage(
    input({
      releases: [],
      torrents: [t],
      external: external({ fleet: new Map([[t.infohash, fig(2)]]) }),
    }),
  )
  const c = r.collections[0]!
  assert.equal(c.levels.cataloged.ranges, 0)
  assert.equal(c.levels.held.ranges, 0)
  assert.equal(c.levels.fleet_n.ranges, 1)
  assert.equal(c.levels.fleet_n.ratio, 1)
  assert.equal(c.items[0]!.cataloged, false)
  assert.equal(r.torrents[0]!.cataloged, false)
})

test('collections are separate; totals add up; ratios are of all known bytes', () => {
  const r = computeCoverage(
    input({
      releases: [
        meta('b_records', 0, 9, { bytes: 300 }),
        meta('a_records', 0, 9, { bytes: 100 }),
        meta('a_records', 20, 29, { bytes: 100, problems: 1 }),
      ],
    }),
  )
  assert.deepEqual(
    r.collections.map((c) => c.collection),
    ['a_records', 'b_records'],
  )
  assert.equal(r.totals.collections, 2)
  assert.equal(r.totals.releases, 3)
  assert.equal(r.totals.bytes, 500)
  assert.equal(r.totals.levels.held.bytes, 400)
  assert.equal(r.totals.levels.held.ratio, 0.8)
  assert.equal(r.totals.gaps, 1)
  assert.equal(r.collections[0]!.gaps.length, 1)
  assert.equal(r.collections[1]!.gaps.length, 0)
})

test('the same data in any order gives the same report; a release in two roots counts once', () => {
  const rs = [meta('c', 0, 9), meta('c', 5, 19), meta('c', 40, 49), data('c', 0, 3), meta('d', 0, 0)]
  const tor = rs.slice(0, 3).map((r) => torrentOf(r))
  const one = computeCoverage(input({ releases: rs, torrents: tor }))
  const other = computeCoverage(
    input({ releases: [...rs].reverse().concat([{ ...rs[0]! }]), torrents: [...tor].reverse() }),
  )
  assert.deepEqual(other, one)
  assert.equal(one.totals.releases, 5)
})

test('an empty catalog gives an empty report', () => {
  const r = computeCoverage(input({ releases: [] }))
  assert.deepEqual(r.collections, [])
  assert.equal(r.totals.bytes, 0)
  assert.equal(r.totals.levels.held.ratio, 0)
  assert.equal(r.copiesTarget, 2)
})
