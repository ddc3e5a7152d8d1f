/**
 * The seed planner (`planSeeding`, pure): properties that must hold of any plan, checked over
 * generated lists of 10,000 candidates, and small hand-made cases for each rule.
 */
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { describe, test } from 'node:test'
import { prng } from '../../src/catalog/index.js'
import {
  globMatcher,
  planFollows,
  planSeeding,
  type PlanCandidate,
  type PlanOptions,
  type SeedPlan,
  type SkipReason,
} from '../../src/mirror/index.js'
import { dataName, metaName, T0 } from '../fixtures.js'

const GB = 1e9

function btihOf(name: string): string {
  return createHash('sha1').update(name).digest('hex')
}

function cand(
  kind: 'meta' | 'data',
  collection: string,
  from: number,
  to: number,
  over: Partial<PlanCandidate> = {},
): PlanCandidate {
  const name = kind === 'meta' ? metaName(collection, from, to) : dataName(collection, from, to)
  return {
    btih: btihOf(name),
    name,
    kind,
    collection,
    group: collection,
    topGroup: 'managed_by_aa',
    fromS: T0 + from,
    toS: T0 + to,
    bytes: 1 * GB,
    seeders: 0,
    scrapedAt: null,
    obsolete: false,
    embargo: false,
    held: false,
    magnet: null,
    torrentUrl: null,
    ...over,
  }
}

const COLLECTIONS = [
  'zlib3_records',
  'zlib3_files',
  'ia_files',
  'duxiu_files',
  'hathi_files',
  'upload_records',
]

/**
 * A reproducible list: per collection, contiguous metadata ranges and (for *_files) contiguous data ranges of
 * other lengths, so a data range overlaps one to several metadata ranges.
 */
function generate(seed: number, count: number): PlanCandidate[] {
  const rnd = prng(seed)
  const pick = (): Partial<PlanCandidate> => {
    const r = rnd()
    const seeders = r < 0.1 ? null : Math.floor(rnd() ** 2 * 30)
    return {
      seeders,
      scrapedAt: seeders === null ? null : '2024-05-01T00:00:00',
      obsolete: rnd() < 0.03,
      embargo: rnd() < 0.02,
      held: rnd() < 0.05,
    }
  }
  const out: PlanCandidate[] = []
  const perCollection = Math.ceil(count / COLLECTIONS.length)
  for (const c of COLLECTIONS) {
    const files = c.endsWith('_files')
    let metaAt = 0
    let dataAt = 0
    let n = 0
    while (n < perCollection && out.length < count) {
      if (!files || metaAt <= dataAt) {
        const len = 1 + Math.floor(rnd() * 5000)
        const bytes = rnd() < 0.02 ? null : Math.floor(1e6 + rnd() * 5 * GB)
        out.push(cand('meta', c, metaAt, metaAt + len - 1, { bytes, ...pick() }))
        metaAt += len
      } else {
        const len = 1 + Math.floor(rnd() * 12000)
        const bytes = rnd() < 0.02 ? null : Math.floor(10 * GB + rnd() * 990 * GB)
        out.push(cand('data', c, dataAt, dataAt + len - 1, { bytes, ...pick() }))
        dataAt += len
      }
      n++
    }
  }
  return out
}

function shuffle<T>(xs: readonly T[], seed: number): T[] {
  const rnd = prng(seed)
  const a = [...xs]
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1))
    ;[a[i], a[j]] = [a[j]!, a[i]!]
  }
  return a
}

/** Fewest seeders first, unknown right after zero: 0 < null < 1. */
function seedKey(c: PlanCandidate): number {
  return c.seeders === null ? 0.5 : c.seeders
}

function overlaps(a: PlanCandidate, b: PlanCandidate): boolean {
  return a.collection === b.collection && a.fromS <= b.toS && b.fromS <= a.toS
}

const metaIndex = new WeakMap<readonly PlanCandidate[], Map<string, PlanCandidate[]>>()

/**
 * Metadata a data torrent must bring along, per the rule: same collection, overlapping, not held, obsolete or
 * embargoed.
 */
function companions(all: readonly PlanCandidate[], d: PlanCandidate): PlanCandidate[] {
  let byCollection = metaIndex.get(all)
  if (!byCollection) {
    byCollection = new Map()
    for (const m of all) {
      if (m.kind !== 'meta' || m.collection === null || m.held || m.obsolete || m.embargo) continue
      byCollection.set(m.collection, [...(byCollection.get(m.collection) ?? []), m])
    }
    metaIndex.set(all, byCollection)
  }
  if (d.collection === null) return []
  return (byCollection.get(d.collection) ?? []).filter((m) => overlaps(m, d))
}

/**
 * Every property a plan must have, whatever the input. Returns how many left-out torrents the preference
 * check compared.
 */
function checkPlan(cands: readonly PlanCandidate[], opts: PlanOptions, plan: SeedPlan): number {
  const followed = planFollows(opts)
  const byBtih = new Map(cands.map((c) => [c.btih, c]))
  const index = new Map(plan.chosen.map((c, i) => [c.btih, i]))
  const indexByName = new Map(plan.chosen.map((c, i) => [c.name, i]))
  const brought = new Map<string, number>()
  for (const m of plan.chosen)
    if (m.metadataFor !== null) brought.set(m.metadataFor, (brought.get(m.metadataFor) ?? 0) + m.bytes)
  assert.equal(index.size, plan.chosen.length, 'no torrent is chosen twice')

  // Budget.
  const sum = plan.chosen.reduce((s, c) => s + c.bytes, 0)
  assert.equal(plan.bytes, sum, 'plan.bytes is the sum of the chosen')
  assert.ok(plan.bytes <= opts.budgetBytes, `${plan.bytes} <= ${opts.budgetBytes}`)
  assert.equal(plan.budgetBytes, opts.budgetBytes)

  // Chosen torrents are candidates, unchanged, and eligible (or metadata brought along).
  for (const [i, c] of plan.chosen.entries()) {
    const orig = byBtih.get(c.btih)
    assert.ok(orig, `${c.name} is a candidate`)
    assert.equal(c.bytes, orig.bytes)
    assert.equal(c.seeders, orig.seeders)
    assert.equal(c.name, orig.name)
    assert.ok(!c.obsolete && !c.embargo && !c.held, `${c.name} is neither obsolete, embargoed nor held`)
    assert.ok(followed(c), `${c.name} is followed`)
    if (c.metadataFor === null) {
      assert.ok(
        c.seeders === null || c.seeders <= opts.maxSeeders,
        `${c.name} has ${c.seeders} seeders, more than ${opts.maxSeeders}`,
      )
    } else {
      assert.equal(c.kind, 'meta', 'only metadata is brought along')
      const forIdx = indexByName.get(c.metadataFor) ?? -1
      assert.ok(forIdx > i, `${c.name} is brought along for ${c.metadataFor}, which is chosen after it`)
      const d = plan.chosen[forIdx]!
      assert.equal(d.kind, 'data')
      assert.equal(d.metadataFor, null)
      assert.ok(overlaps(c, d), `${c.name} overlaps ${d.name}`)
    }
  }

  // A data torrent comes after all of its collection's overlapping metadata.
  for (const [i, d] of plan.chosen.entries()) {
    if (d.kind !== 'data') continue
    for (const m of companions(cands, d)) {
      const at = index.get(m.btih)
      assert.ok(at !== undefined && at < i, `${d.name} is chosen without its metadata ${m.name} before it`)
    }
  }

  // Fewest seeders first: the torrents chosen for themselves, in choice order.
  const heads = plan.chosen.filter((c) => c.metadataFor === null)
  for (let i = 1; i < heads.length; i++) {
    assert.ok(
      seedKey(heads[i - 1]!) <= seedKey(heads[i]!),
      `${heads[i - 1]!.name} (${heads[i - 1]!.seeders}) before ${heads[i]!.name} (${heads[i]!.seeders})`,
    )
  }

  // Every candidate is chosen or skipped for exactly one reason.
  const skippedTotal = Object.values(plan.skipped).reduce((s, n) => s + n, 0)
  assert.equal(
    plan.chosen.length + skippedTotal,
    cands.length,
    `chosen ${plan.chosen.length} + skipped ${JSON.stringify(plan.skipped)} = ${cands.length}`,
  )
  // The reasons decided by a candidate alone, counted independently (in the documented order).
  const want: Partial<Record<SkipReason, number>> = { obsolete: 0, embargo: 0, held: 0, 'not-followed': 0 }
  let wellSeeded = 0
  for (const c of cands) {
    if (c.obsolete) want.obsolete!++
    else if (c.embargo) want.embargo!++
    else if (c.held) want.held!++
    else if (!followed(c)) want['not-followed']!++
    else if (c.seeders !== null && c.seeders > opts.maxSeeders && !index.has(c.btih)) wellSeeded++
  }
  for (const [k, v] of Object.entries(want)) assert.equal(plan.skipped[k as SkipReason], v, `skipped.${k}`)
  assert.equal(
    plan.skipped['well-seeded'],
    wellSeeded,
    'skipped.well-seeded (a well-seeded metadata torrent brought along is chosen)',
  )

  // Eligible torrents left out did not fit. `need` is what taking one would cost at the end:
  // itself plus its metadata not chosen. Were it within what is left of the budget, it would
  // have fitted at its turn too (greedy: the plan only grows), so it must not be.
  const eligible = cands.filter(
    (c) =>
      !c.obsolete &&
      !c.embargo &&
      !c.held &&
      followed(c) &&
      !(c.seeders !== null && c.seeders > opts.maxSeeders) &&
      c.bytes !== null,
  )
  const left = opts.budgetBytes - plan.bytes
  // Preference: a left-out torrent with fewer seeders than a chosen one came first, so it did
  // not fit where the later one did: it needed more than that one took.
  const sortedHeads = [...heads].map((h) => ({ key: seedKey(h), took: h.bytes + (brought.get(h.name) ?? 0) }))
  sortedHeads.sort((a, b) => a.key - b.key)
  const minTookFrom: number[] = new Array(sortedHeads.length + 1).fill(Infinity)
  for (let i = sortedHeads.length - 1; i >= 0; i--)
    minTookFrom[i] = Math.min(minTookFrom[i + 1]!, sortedHeads[i]!.took)
  let checkedPreference = 0
  for (const u of eligible) {
    if (index.has(u.btih)) continue
    const comp = u.kind === 'data' ? companions(cands, u) : []
    if (comp.some((m) => m.bytes === null)) continue // skipped for an unknown size
    const needEnd = u.bytes! + comp.filter((m) => !index.has(m.btih)).reduce((s, m) => s + m.bytes!, 0)
    const needMax = u.bytes! + comp.reduce((s, m) => s + m.bytes!, 0)
    assert.ok(
      needEnd > left,
      `${u.name} needs ${needEnd} bytes and ${left} are left: it should have been chosen`,
    )
    // First chosen head with a strictly larger seeder key.
    let lo = 0
    let hi = sortedHeads.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (sortedHeads[mid]!.key <= seedKey(u)) lo = mid + 1
      else hi = mid
    }
    if (lo < sortedHeads.length) {
      checkedPreference++
      assert.ok(
        needMax > minTookFrom[lo]!,
        `${u.name} (${u.seeders} seeders, needs at most ${needMax}) was passed over for a torrent with more seeders that took ${minTookFrom[lo]}`,
      )
    }
  }
  return checkedPreference
}

describe('planSeeding over 10,000 generated candidates', () => {
  const cands = generate(20240501, 10_000)
  const totalBytes = cands.reduce((s, c) => s + (c.bytes ?? 0), 0)

  test('the generated list exercises every rule', () => {
    assert.equal(cands.length, 10_000)
    assert.equal(new Set(cands.map((c) => c.btih)).size, cands.length)
    for (const k of ['meta', 'data'] as const) assert.ok(cands.some((c) => c.kind === k))
    assert.ok(cands.some((c) => c.seeders === null))
    assert.ok(cands.some((c) => c.seeders === 0))
    assert.ok(cands.some((c) => c.bytes === null))
    for (const f of ['obsolete', 'embargo', 'held'] as const)
      assert.ok(
        cands.some((c) => c[f]),
        f,
      )
  })

  const settings: Array<[string, PlanOptions]> = [
    ['a tight budget', { budgetBytes: 20 * 1e12, maxSeeders: 10 }],
    ['a tenth of everything', { budgetBytes: Math.floor(totalBytes / 10), maxSeeders: 10 }],
    [
      'an eighth of everything, some collections',
      {
        budgetBytes: Math.floor(totalBytes / 8),
        maxSeeders: 5,
        collections: ['zlib3_*', 'ia_files', 'upload_*'],
      },
    ],
    ['more than everything', { budgetBytes: totalBytes * 2, maxSeeders: 20 }],
    ['a budget smaller than any data torrent', { budgetBytes: 9 * GB, maxSeeders: 10 }],
  ]
  for (const [what, opts] of settings) {
    test(`${what}: budget, eligibility, metadata first, fewest seeders first, counts`, () => {
      const plan = planSeeding(cands, opts)
      assert.ok(plan.chosen.length > 0, 'something is chosen')
      const compared = checkPlan(cands, opts, plan)
      if (opts.budgetBytes < totalBytes) {
        assert.ok(plan.skipped['over-budget'] > 0, 'the budget binds')
        assert.ok(compared > 0, 'the preference check compared something')
      }
    })
  }

  test('the plan does not depend on the input order', () => {
    const opts: PlanOptions = {
      budgetBytes: Math.floor(totalBytes / 7),
      maxSeeders: 12,
      collections: ['*_files', 'zlib3_records'],
    }
    const plan = planSeeding(cands, opts)
    for (const seed of [1, 2, 3])
      assert.deepEqual(planSeeding(shuffle(cands, seed), opts), plan, `shuffle ${seed}`)
    assert.deepEqual(planSeeding([...cands].reverse(), opts), plan)
  })

  test('with room for everything, every eligible torrent of known size is chosen', () => {
    const opts: PlanOptions = { budgetBytes: totalBytes * 2, maxSeeders: 20 }
    const plan = planSeeding(cands, opts)
    assert.equal(plan.skipped['over-budget'], 0)
    const chosen = new Set(plan.chosen.map((c) => c.btih))
    for (const c of cands) {
      const eligible =
        !c.obsolete && !c.embargo && !c.held && !(c.seeders !== null && c.seeders > 20) && c.bytes !== null
      const blocked = c.kind === 'data' && companions(cands, c).some((m) => m.bytes === null)
      if (eligible && !blocked) assert.ok(chosen.has(c.btih), c.name)
      if (eligible && blocked)
        assert.ok(!chosen.has(c.btih), `${c.name} is chosen though its metadata has no known size`)
    }
  })

  test('a budget that fits exactly the k least-seeded metadata torrents chooses exactly those', () => {
    // Only metadata, all eligible: no torrent brings another along.
    const metas = cands
      .filter((c) => c.kind === 'meta')
      .map((c) => ({ ...c, obsolete: false, embargo: false, held: false, bytes: c.bytes ?? 1000 }))
    // The documented order: fewest seeders (unknown right after zero), then smaller, then name.
    const order = [...metas].sort(
      (a, b) => seedKey(a) - seedKey(b) || a.bytes - b.bytes || (a.name < b.name ? -1 : 1),
    )
    for (const k of [1, 10, 500, 3000]) {
      const want = order.slice(0, k)
      const budget = want.reduce((s, c) => s + c.bytes, 0)
      const plan = planSeeding(shuffle(metas, k), { budgetBytes: budget, maxSeeders: 1000 })
      assert.deepEqual(
        plan.chosen.map((c) => c.name),
        want.map((c) => c.name),
        `k = ${k}`,
      )
      assert.equal(plan.bytes, budget)
      assert.equal(plan.skipped['over-budget'], metas.length - k)
    }
  })
})

describe('planSeeding: the rules, by hand', () => {
  test('unknown seeders come right after zero, before one', () => {
    const a = cand('meta', 'c', 0, 9, { seeders: 1, bytes: 1 })
    const b = cand('meta', 'c', 10, 19, { seeders: null, bytes: 1 })
    const c = cand('meta', 'c', 20, 29, { seeders: 0, bytes: 5 })
    const d = cand('meta', 'c', 30, 39, { seeders: 0, bytes: 2 })
    const e = cand('meta', 'c', 40, 49, { seeders: 2, bytes: 1 })
    const plan = planSeeding([a, b, c, d, e], { budgetBytes: 100, maxSeeders: 5 })
    assert.deepEqual(
      plan.chosen.map((x) => x.name),
      [d, c, b, a, e].map((x) => x.name),
    )
    assert.deepEqual(
      plan.chosen.map((x) => x.metadataFor),
      [null, null, null, null, null],
    )
  })

  test('at equal seeders metadata comes before data, even when larger', () => {
    const m = cand('meta', 'a_records', 0, 9, { seeders: 3, bytes: 900 })
    const d = cand('data', 'b_files', 0, 9, { seeders: 3, bytes: 100 })
    const plan = planSeeding([d, m], { budgetBytes: 1000, maxSeeders: 5 })
    assert.deepEqual(
      plan.chosen.map((x) => x.name),
      [m.name, d.name],
    )
    // With room for one, the metadata wins.
    assert.deepEqual(
      planSeeding([d, m], { budgetBytes: 900, maxSeeders: 5 }).chosen.map((x) => x.name),
      [m.name],
    )
  })

  test('a data torrent brings its overlapping metadata along, first, even when well seeded', () => {
    const m1 = cand('meta', 'z_files', 0, 99, { seeders: 50, bytes: 10 })
    const m2 = cand('meta', 'z_files', 100, 199, { seeders: 40, bytes: 20 })
    const m3 = cand('meta', 'z_files', 200, 299, { seeders: 40, bytes: 30 }) // does not overlap
    const other = cand('meta', 'y_files', 0, 999, { seeders: 0, bytes: 1 }) // another collection
    const d = cand('data', 'z_files', 50, 150, { seeders: 0, bytes: 100 })
    const plan = planSeeding([m3, d, m2, other, m1], { budgetBytes: 1000, maxSeeders: 5 })
    assert.deepEqual(
      plan.chosen.map((x) => [x.name, x.metadataFor]),
      [
        [other.name, null],
        // brought along fewest seeders first, like everything else
        [m2.name, d.name],
        [m1.name, d.name],
        [d.name, null],
      ],
    )
    assert.equal(plan.bytes, 131)
    assert.equal(plan.skipped['well-seeded'], 1, 'only m3')
  })

  test('ranges overlap inclusively: sharing one second is overlapping, adjacent is not', () => {
    const touching = cand('meta', 'z_files', 0, 10, { seeders: 9, bytes: 10 })
    const adjacent = cand('meta', 'z_files', 21, 30, { seeders: 9, bytes: 20 })
    const d = cand('data', 'z_files', 10, 20, { seeders: 0, bytes: 100 })
    const plan = planSeeding([touching, adjacent, d], { budgetBytes: 110, maxSeeders: 10 })
    assert.deepEqual(
      plan.chosen.map((x) => [x.name, x.metadataFor]),
      [
        [touching.name, d.name],
        [d.name, null],
      ],
    )
  })

  test('metadata already chosen is not brought along twice', () => {
    const m = cand('meta', 'z_files', 0, 99, { seeders: 0, bytes: 10 })
    const d1 = cand('data', 'z_files', 0, 49, { seeders: 1, bytes: 100 })
    const d2 = cand('data', 'z_files', 50, 99, { seeders: 2, bytes: 100 })
    const plan = planSeeding([d2, d1, m], { budgetBytes: 210, maxSeeders: 5 })
    assert.deepEqual(
      plan.chosen.map((x) => [x.name, x.metadataFor]),
      [
        [m.name, null],
        [d1.name, null],
        [d2.name, null],
      ],
    )
    assert.equal(plan.bytes, 210)
  })

  test('held, obsolete or embargoed metadata is not brought along', () => {
    const held = cand('meta', 'z_files', 0, 9, { held: true, bytes: 1000 })
    const obsolete = cand('meta', 'z_files', 5, 14, { obsolete: true, bytes: 1000 })
    const embargo = cand('meta', 'z_files', 8, 20, { embargo: true, bytes: 1000 })
    const d = cand('data', 'z_files', 0, 20, { bytes: 100 })
    const plan = planSeeding([held, obsolete, embargo, d], { budgetBytes: 100, maxSeeders: 5 })
    assert.deepEqual(
      plan.chosen.map((x) => x.name),
      [d.name],
    )
    assert.deepEqual(plan.skipped, {
      held: 1,
      obsolete: 1,
      embargo: 1,
      'not-followed': 0,
      'well-seeded': 0,
      'unknown-size': 0,
      'over-budget': 0,
    })
  })

  test('a data torrent whose metadata does not fit with it is skipped; smaller ones further down still fit', () => {
    const m = cand('meta', 'z_files', 0, 99, { seeders: 9, bytes: 50 })
    const d = cand('data', 'z_files', 0, 99, { seeders: 0, bytes: 100 })
    const small = cand('meta', 'q_records', 0, 9, { seeders: 7, bytes: 40 })
    const plan = planSeeding([m, d, small], { budgetBytes: 149, maxSeeders: 10 })
    // d needs 150 with m: over budget. Then small (7 seeders), then m alone (9 seeders): 90.
    assert.deepEqual(
      plan.chosen.map((x) => [x.name, x.metadataFor]),
      [
        [small.name, null],
        [m.name, null],
      ],
    )
    assert.equal(plan.bytes, 90)
    assert.equal(plan.skipped['over-budget'], 1)
    // One byte more and the data comes first, with its metadata.
    const roomy = planSeeding([m, d, small], { budgetBytes: 150, maxSeeders: 10 })
    assert.deepEqual(
      roomy.chosen.map((x) => [x.name, x.metadataFor]),
      [
        [m.name, d.name],
        [d.name, null],
      ],
    )
  })

  test('a data torrent whose metadata has no known size is skipped as unknown-size', () => {
    const m = cand('meta', 'z_files', 0, 99, { seeders: 9, bytes: null })
    const d = cand('data', 'z_files', 0, 99, { seeders: 0, bytes: 100 })
    const plan = planSeeding([m, d], { budgetBytes: 10_000, maxSeeders: 10 })
    assert.deepEqual(plan.chosen, [])
    assert.equal(plan.skipped['unknown-size'], 2)
  })

  test('a budget of zero chooses nothing', () => {
    const cs = [cand('meta', 'a', 0, 1, { bytes: 1 }), cand('data', 'a', 0, 1, { bytes: 1 })]
    const plan = planSeeding(cs, { budgetBytes: 0, maxSeeders: 10 })
    assert.deepEqual(plan.chosen, [])
    assert.equal(plan.bytes, 0)
    assert.equal(plan.skipped['over-budget'], 2)
  })

  test('well seeded is more than maxSeeders; exactly maxSeeders is still taken', () => {
    const at = cand('meta', 'a', 0, 1, { seeders: 5 })
    const over = cand('meta', 'a', 2, 3, { seeders: 6 })
    const plan = planSeeding([at, over], { budgetBytes: 100 * GB, maxSeeders: 5 })
    assert.deepEqual(
      plan.chosen.map((x) => x.name),
      [at.name],
    )
    assert.equal(plan.skipped['well-seeded'], 1)
  })

  test('collections: * globs over collection names; other characters are literal', () => {
    const names = ['zlib3_records', 'zlib3_files', 'zlib3', 'ia_files', 'iaxfiles', 'duxiu_records']
    const cs = names.map((n, i) => cand('meta', n, i * 10, i * 10 + 9, { bytes: 1 }))
    const chosenFor = (collections: string[] | undefined): string[] =>
      planSeeding(cs, { budgetBytes: 1000, maxSeeders: 5, ...(collections ? { collections } : {}) })
        .chosen.map((c) => c.collection ?? '')
        .sort()
    assert.deepEqual(chosenFor(['zlib3_*']), ['zlib3_files', 'zlib3_records'])
    assert.deepEqual(chosenFor(['*_files']), ['ia_files', 'zlib3_files'])
    assert.deepEqual(chosenFor(['ia.files']), [], 'a dot is not a wildcard')
    assert.deepEqual(chosenFor(['ia_files', 'duxiu_*']), ['duxiu_records', 'ia_files'])
    assert.deepEqual(chosenFor(['zlib3']), ['zlib3'], 'a glob matches the whole name')
    assert.deepEqual(chosenFor(undefined), [...names].sort())
    assert.deepEqual(chosenFor([]), [...names].sort())
    const plan = planSeeding(cs, { budgetBytes: 1000, maxSeeders: 5, collections: ['zlib3_*'] })
    assert.equal(plan.skipped['not-followed'], 4)
  })

  test('globMatcher', () => {
    const m = globMatcher(['a*c', 'x(y)'])
    assert.ok(m('abc') && m('ac') && m('a_b_c') && m('x(y)'))
    assert.ok(!m('abcd') && !m('xy') && !m('bac'))
    assert.ok(globMatcher(undefined)('anything'))
  })
})
