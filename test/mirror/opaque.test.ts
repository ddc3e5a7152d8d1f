/**
 * Anna's Archive's real list: AAC releases and opaque torrents (every entry whose name is not
 * an AAC release), read from a generated 20,000-entry list in the real shape and proportions
 * (test/support/aa-list.ts); the list's date formats; `mirror sources`' summary; and `plan`
 * over the whole list, checked against a plain reference implementation of the generator's
 * rule written here.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  parseListDate,
  parseTorrentList,
  planSeeding,
  releaseOfTorrentName,
  type PlanCandidate,
} from '../../src/mirror/index.js'
import { runCli, tempDir } from '../helpers.js'
import { generateAaList, type AaListEntry } from '../support/aa-list.js'

describe('parseListDate: the dates real lists write, read as UTC', () => {
  test('a day and a time without a zone are UTC', () => {
    assert.equal(parseListDate('2023-12-21'), Date.UTC(2023, 11, 21))
    assert.equal(parseListDate('2025-08-14T12:11:10'), Date.UTC(2025, 7, 14, 12, 11, 10))
    assert.equal(parseListDate('2025-08-14T12:11'), Date.UTC(2025, 7, 14, 12, 11))
    assert.equal(parseListDate('2025-08-14T12:11:10.250'), Date.UTC(2025, 7, 14, 12, 11, 10, 250))
  })
  test('an explicit zone is honoured', () => {
    assert.equal(parseListDate('2025-08-14T12:11:10Z'), Date.UTC(2025, 7, 14, 12, 11, 10))
    assert.equal(parseListDate('2025-08-14T12:11:10+02:00'), Date.UTC(2025, 7, 14, 10, 11, 10))
    assert.equal(parseListDate('2025-08-14T12:11:10-0130'), Date.UTC(2025, 7, 14, 13, 41, 10))
  })
  test('not dates', () => {
    for (const s of [
      '',
      '2023',
      '2023-12',
      '21-12-2023',
      '2023-02-30',
      '2023-13-01',
      '2023-12-21T24:00:00',
      '2023-12-21T12:60:00',
      '2023-12-21 garbage',
      '2023-12-21T12:00:00+25:00',
      'yesterday',
    ])
      assert.equal(parseListDate(s), null, s)
    assert.equal(parseListDate('2024-02-29'), Date.UTC(2024, 1, 29), 'a leap day is a day')
  })
})

const BIG = generateAaList({ count: 20_000, malformed: 6 })

function ctx() {
  return { source: 'aa', location: 'https://annas-archive.org/dyn/torrents.json', maxEntries: 100_000 }
}

describe('the generated list in the real shape', () => {
  test('has the real proportions: mostly external, then AAC releases, obsolete, embargoed and duplicated entries', () => {
    const e = BIG.entries
    assert.ok(e.length >= 20_000)
    const external = e.filter((x) => x.top_level_group_name === 'external').length
    assert.ok(external > e.length * 0.7, `${external} external of ${e.length}`)
    assert.ok(e.some((x) => x.obsolete) && e.some((x) => x.embargo))
    assert.ok(BIG.expected.duplicates > 100)
    assert.ok(e.some((x) => /^\d{4}-\d{2}-\d{2}$/.test(x.added_to_torrents_list_at)))
    assert.ok(e.every((x) => /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$/.test(x.stats_scraped_at)))
  })

  test('reads into AAC releases, opaque torrents in their groups, and the malformed entries as rejections', () => {
    const parsed = parseTorrentList(JSON.stringify(BIG.entries), ctx())
    assert.equal(parsed.torrents.length, BIG.expected.aac)
    assert.equal(parsed.opaque.length, BIG.expected.other)
    assert.equal(new Set(parsed.opaque.map((o) => o.group)).size, BIG.expected.otherGroups)
    assert.equal(parsed.duplicates, BIG.expected.duplicates)
    assert.deepEqual(
      parsed.rejected.map((r) => r.code),
      ['entry-invalid', 'magnet-invalid', 'entry-invalid', 'entry-invalid', 'entry-invalid', 'entry-invalid'],
    )
    assert.match(parsed.rejected[2]!.message, /not a safe file name/)
    assert.match(parsed.rejected[5]!.message, /stats_scraped_at "2025-02-30T00:00:00" is not a date/)
    // Every AAC release keeps its group; its collection comes from its name.
    const zlib = parsed.torrents.find((t) => t.collection === 'zlib3_records')!
    assert.equal(zlib.topGroup, 'managed_by_aa')
    assert.equal(zlib.group, 'zlib3')
  })

  test('an opaque torrent keeps every field the list gives, and the entry as written', () => {
    const sm = BIG.entries.find((x) => x.group_name === 'scihub' && x.display_name.startsWith('sm_00200000'))!
    const parsed = parseTorrentList(JSON.stringify([sm]), ctx())
    assert.deepEqual(parsed.rejected, [])
    const o = parsed.opaque[0]!
    assert.deepEqual(
      {
        btih: o.btih,
        displayName: o.displayName,
        topGroup: o.topGroup,
        group: o.group,
        torrentUrl: o.torrentUrl,
        magnet: o.magnet,
        torrentSize: o.torrentSize,
        dataSize: o.dataSize,
        numFiles: o.numFiles,
        seeders: o.seeders,
        leechers: o.leechers,
        completed: o.completed,
        scrapedAt: o.scrapedAt,
        addedAt: o.addedAt,
        obsolete: o.obsolete,
        embargo: o.embargo,
        partiallyBroken: o.partiallyBroken,
        isMetadata: o.isMetadata,
      },
      {
        btih: sm.btih,
        displayName: 'sm_00200000-00299999.torrent',
        topGroup: 'external',
        group: 'scihub',
        torrentUrl: sm.url,
        magnet: sm.magnet_link,
        torrentSize: sm.torrent_size,
        dataSize: sm.data_size,
        numFiles: 100,
        seeders: sm.seeders,
        leechers: sm.leechers,
        completed: sm.completed,
        scrapedAt: sm.stats_scraped_at,
        addedAt: sm.added_to_torrents_list_at,
        obsolete: sm.obsolete,
        embargo: false,
        partiallyBroken: sm.partially_broken,
        isMetadata: false,
      },
    )
    assert.deepEqual(JSON.parse(o.entry), sm)
  })

  test('the same btih as an AAC release and as an opaque torrent: the second listing is rejected', () => {
    const aac = BIG.entries.find((x) => x.top_level_group_name === 'managed_by_aa')!
    const other = { ...BIG.entries.find((x) => x.group_name === 'scihub')!, btih: aac.btih, magnet_link: '' }
    const parsed = parseTorrentList(JSON.stringify([aac, other]), ctx())
    assert.equal(parsed.torrents.length, 1)
    assert.equal(parsed.opaque.length, 0)
    assert.match(parsed.rejected[0]!.message, /is also listed for annas_archive_/)
  })

  test('groups that could leave a folder are rejected', () => {
    const sm = BIG.entries.find((x) => x.group_name === 'scihub')!
    for (const g of ['..', 'a/b', 'a\\b', '', 'x\u0001'] as const) {
      const parsed = parseTorrentList(JSON.stringify([{ ...sm, group_name: g }]), ctx())
      if (g === '') assert.equal(parsed.opaque[0]!.group, '', 'an empty group is no group')
      else assert.match(parsed.rejected[0]?.message ?? '', /group_name .* is not a safe file name/, g)
    }
  })
})

// ---- the plan against a reference implementation of the generator's rule --------------------

/**
 * Candidates straight from the list entries (first listing of each btih), without aacseed's reader or store.
 */
function candidatesOf(
  entries: readonly AaListEntry[],
  held: ReadonlySet<string> = new Set(),
): PlanCandidate[] {
  const seen = new Set<string>()
  const out: PlanCandidate[] = []
  for (const e of entries) {
    if (e.group_name === 'broken' || seen.has(e.btih)) continue
    seen.add(e.btih)
    let aac: ReturnType<typeof releaseOfTorrentName> | null = null
    try {
      aac = releaseOfTorrentName(e.display_name)
    } catch {
      aac = null
    }
    out.push({
      btih: e.btih,
      name: aac ? aac.name : e.display_name.replace(/\.torrent$/, ''),
      kind: aac ? aac.kind : 'other',
      collection: aac ? aac.collection : null,
      group: e.group_name,
      topGroup: e.top_level_group_name,
      fromS: aac ? aac.fromS : 0,
      toS: aac ? aac.toS : 0,
      bytes: e.data_size,
      seeders: e.seeders,
      scrapedAt: e.stats_scraped_at,
      obsolete: e.obsolete,
      embargo: e.embargo,
      held: held.has(e.btih),
      magnet: e.magnet_link,
      torrentUrl: e.url,
    })
  }
  return out
}

/**
 * Anna's Archive's generator, written plainly: leave out obsolete and embargoed torrents (and
 * what is held here, and what is not followed), take the rest from the fewest seeders up, and
 * add each one whose size still fits in the budget. aacseed's documented additions: more than
 * `maxSeeders` seeders is well seeded; ties go metadata first, then smaller, then by name; an
 * AAC data torrent comes with the unheld metadata of its collection that overlaps its range.
 */
function referencePlan(
  cands: readonly PlanCandidate[],
  budget: number,
  maxSeeders: number,
  groups?: readonly string[],
): string[] {
  const glob = (g: string) => new RegExp(`^${g.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`)
  const follows = (c: PlanCandidate) =>
    !groups || groups.some((g) => glob(g).test(c.group) || glob(g).test(`${c.topGroup}/${c.group}`))
  const key = (c: PlanCandidate): [number, number, number, string] => [
    c.seeders === null ? 0.5 : c.seeders,
    c.kind === 'meta' ? 0 : 1,
    c.bytes ?? 0,
    c.name,
  ]
  const before = (a: PlanCandidate, b: PlanCandidate) => {
    const x = key(a)
    const y = key(b)
    for (let i = 0; i < 4; i++) if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1
    return a.btih < b.btih ? -1 : 1
  }
  const open = cands
    .filter(
      (c) =>
        !c.obsolete &&
        !c.embargo &&
        !c.held &&
        follows(c) &&
        c.bytes !== null &&
        (c.seeders === null || c.seeders <= maxSeeders),
    )
    .sort(before)
  const taken = new Set<string>()
  const out: string[] = []
  let used = 0
  for (const c of open) {
    if (taken.has(c.btih)) continue
    const bring =
      c.kind === 'data'
        ? cands
            .filter(
              (m) =>
                m.kind === 'meta' &&
                m.collection === c.collection &&
                !m.held &&
                !m.obsolete &&
                !m.embargo &&
                !taken.has(m.btih) &&
                m.fromS <= c.toS &&
                c.fromS <= m.toS,
            )
            .sort(before)
        : []
    if (bring.some((m) => m.bytes === null)) continue
    const size = c.bytes! + bring.reduce((s, m) => s + m.bytes!, 0)
    if (used + size > budget) continue
    for (const m of [...bring, c]) {
      out.push(m.btih)
      taken.add(m.btih)
    }
    used += size
  }
  return out
}

const TB = 1e12

describe('plan over the whole list, opaque torrents included', () => {
  const cands = candidatesOf(BIG.entries)

  test('10 TB: the same torrents in the same order as the reference, most of them not AAC releases', () => {
    const plan = planSeeding(cands, { budgetBytes: 10 * TB, maxSeeders: 10 })
    assert.deepEqual(
      plan.chosen.map((c) => c.btih),
      referencePlan(cands, 10 * TB, 10),
    )
    assert.ok(plan.bytes <= 10 * TB && plan.bytes > 9.9 * TB, `${plan.bytes} fills the budget`)
    assert.ok(plan.chosen.filter((c) => c.kind === 'other').length > plan.chosen.length / 2)
    assert.ok(plan.chosen.every((c) => !c.obsolete && !c.embargo))
  })

  test('budgets from 1 GB to 1 PB, and every seeder cap, agree with the reference', () => {
    for (const budget of [1e9, 77e9, 1 * TB, 50 * TB, 1000 * TB])
      for (const max of [0, 3, 10, 1_000_000]) {
        const plan = planSeeding(cands, { budgetBytes: budget, maxSeeders: max })
        assert.deepEqual(
          plan.chosen.map((c) => c.btih),
          referencePlan(cands, budget, max),
          `budget ${budget}, max seeders ${max}`,
        )
      }
  })

  test('--groups: by group name or top-level/group, and nothing held here or by the fleet', () => {
    const held = new Set(cands.filter((_, i) => i % 7 === 0).map((c) => c.btih))
    const withHeld = candidatesOf(BIG.entries, held)
    for (const groups of [['scihub'], ['libgen_*'], ['external/*'], ['zlib3', 'aa_derived_*']]) {
      const plan = planSeeding(withHeld, { budgetBytes: 5 * TB, maxSeeders: 10, groups })
      assert.deepEqual(
        plan.chosen.map((c) => c.btih),
        referencePlan(withHeld, 5 * TB, 10, groups),
        groups.join(','),
      )
      assert.ok(plan.chosen.length > 0, groups.join(','))
      assert.ok(plan.chosen.every((c) => !held.has(c.btih)))
    }
    const sci = planSeeding(withHeld, { budgetBytes: 5 * TB, maxSeeders: 10, groups: ['scihub'] })
    assert.ok(sci.chosen.every((c) => c.group === 'scihub'))
  })

  test('--collections and --groups together: a torrent matching either is followed', () => {
    const plan = planSeeding(cands, {
      budgetBytes: 1000 * TB,
      maxSeeders: 1000,
      collections: ['zlib3_records'],
      groups: ['scihub'],
    })
    const seen = new Set(plan.chosen.map((c) => c.collection ?? c.group))
    assert.deepEqual([...seen].sort(), ['scihub', 'zlib3_records'])
  })
})

describe('aacseed mirror sources and plan over the 20,000-entry list', () => {
  test('the summary line; exit 1 only for rejections; plan --groups from the stored list', async (t) => {
    const dir = tempDir(t)
    const write = (name: string, entries: readonly AaListEntry[]) => {
      writeFileSync(join(dir, name), JSON.stringify(entries))
      return join(dir, name)
    }
    const clean = BIG.entries.filter((e) => e.group_name !== 'broken')
    const config = (list: string) => {
      writeFileSync(
        join(dir, 'aacseed.toml'),
        `[catalog]\nroots = []\ndatabase = "aacseed.db"\n[[mirror.sources]]\nname = "aa"\nlist = "${list}"\n`,
      )
      return { ...process.env, AACSEED_CONFIG: join(dir, 'aacseed.toml') }
    }
    const x = BIG.expected
    const bad = await runCli(['mirror', 'sources'], { env: config(write('all.json', BIG.entries)), cwd: dir })
    assert.equal(bad.code, 1, 'rejected entries: exit 1')
    assert.match(
      bad.stdout,
      new RegExp(
        `${x.aac} AAC releases, ${x.other} other torrents in ${x.otherGroups} groups, 6 rejected \\(${x.duplicates} listed again, kept once\\)`,
      ),
    )
    assert.match(bad.stdout, /external\/scihub: \d+ other, [\d.]+ TB; 0 held here/)

    const env = config(write('clean.json', clean))
    const ok = await runCli(['mirror', 'sources'], { env, cwd: dir })
    assert.equal(ok.code, 0, ok.stderr)
    assert.match(
      ok.stdout,
      new RegExp(`${x.aac} AAC releases, ${x.other} other torrents in ${x.otherGroups} groups, 0 rejected`),
    )

    const plan = await runCli(
      ['plan', '--budget', '10TB', '--groups', 'scihub,libgen_li_*', '--format', 'json'],
      {
        env,
        cwd: dir,
      },
    )
    assert.equal(plan.code, 0, plan.stderr)
    const got = JSON.parse(plan.stdout) as {
      chosen: Array<{ btih: string; kind: string; group_name: string }>
    }
    assert.deepEqual(
      got.chosen.map((c) => c.btih),
      referencePlan(candidatesOf(clean), 10 * TB, 10, ['scihub', 'libgen_li_*']),
    )
    assert.ok(got.chosen.every((c) => c.kind === 'other' && /^(scihub|libgen_li_)/.test(c.group_name)))
  })
})
