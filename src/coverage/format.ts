/** `aacseed coverage` on a terminal: one compact line per collection, or one collection in detail. */
import { LEVELS, LIST_LIMIT, type CollectionCoverage, type CoverageReport, type LevelKey } from './model.js'

// One home for both, shared with the dashboard's script (src/units.ts says how).
export { formatBytes, formatRatio } from '../units.js'
import { formatBytes, formatRatio } from '../units.js'

/** 90061 → `1d 1h`; the two largest units. */
export function formatDuration(seconds: number): string {
  const units: Array<[string, number]> = [
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
    ['s', 1],
  ]
  const parts: string[] = []
  let rest = Math.round(seconds)
  for (const [u, n] of units) {
    if (rest >= n || (parts.length === 0 && u === 's')) {
      parts.push(`${Math.floor(rest / n)}${u}`)
      rest %= n
    }
    if (parts.length === 2) break
  }
  return parts.join(' ')
}

export function levelLabel(key: LevelKey, target: number): string {
  const l = LEVELS.find((x) => x.key === key)!
  return key === 'fleet_n' ? l.label.replace('N', String(target)) : l.label
}

const int = (n: number): string => n.toLocaleString('en')

function table(rows: string[][], rightAligned: (col: number) => boolean): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => [...(r[c] ?? '')].length)))
  return rows
    .map((r) =>
      r
        .map((cell, c) => {
          const pad = ' '.repeat(widths[c]! - [...cell].length)
          return rightAligned(c) ? pad + cell : cell + pad
        })
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
}

const OVERVIEW_LEVELS: LevelKey[] = ['held', 'torrented', 'seeded', 'fleet_1', 'fleet_n', 'swarm_lt4']

function shortLabel(key: LevelKey, target: number): string {
  const labels: Partial<Record<LevelKey, string>> = {
    held: 'HELD',
    torrented: 'TORRENT',
    seeded: 'SEEDED',
    fleet_1: '≥1 BOX',
    fleet_n: `≥${target} BOXES`,
    swarm_lt4: '<4 SEEDERS',
  }
  return labels[key] ?? key
}

/** One line per collection: size, and the share of its bytes at each level. */
export function formatCoverageOverview(r: CoverageReport): string {
  const head = [
    'COLLECTION',
    'RANGES',
    'RECORDS',
    'SIZE',
    ...OVERVIEW_LEVELS.map((k) => shortLabel(k, r.copiesTarget)),
    'GAPS',
    'OVERLAPS',
  ]
  const line = (
    name: string,
    c: { totals: CollectionCoverage['totals']; levels: Record<LevelKey, { ratio: number }> },
    gaps: string,
    overlaps: string,
  ) => [
    name,
    int(c.totals.releases),
    int(c.totals.records),
    formatBytes(c.totals.bytes),
    ...OVERVIEW_LEVELS.map((k) => formatRatio(c.levels[k].ratio)),
    gaps,
    overlaps,
  ]
  const rows = [
    head,
    ...r.collections.map((c) =>
      line(
        c.collection,
        c,
        c.gapCount === 0 ? '0' : `${c.gapCount} (${formatDuration(c.gapSeconds)})`,
        overlapText(c.overlaps.length, c.overlaps.filter((o) => o.check === 'conflict').length),
      ),
    ),
  ]
  if (r.collections.length > 1)
    rows.push(
      line(
        'total',
        { totals: r.totals, levels: r.totals.levels },
        String(r.totals.gaps),
        overlapText(r.totals.overlaps, r.totals.conflicts),
      ),
    )
  if (r.collections.length === 0) return 'no collections cataloged yet: run `aacseed scan` first\n'
  return [
    table(rows, (c) => c > 0),
    '',
    "Shares of each collection's known bytes. HELD: here, problem-free; SEEDED: by this machine;",
    '≥N BOX(ES): complete copies on fleet seedboxes; <4 SEEDERS: in the public swarm.',
    `${r.totals.atRisk.toLocaleString('en')} of ${r.totals.torrents.toLocaleString('en')} torrent(s) at risk (fewer than ${r.copiesTarget} copies, or < 4 swarm seeders).`,
    '`aacseed coverage --collection NAME` shows one collection with its gaps and overlaps.',
    '',
  ].join('\n')
}

function overlapText(n: number, conflicts: number): string {
  return conflicts > 0 ? `${n} (${conflicts} conflicting)` : String(n)
}

/** One collection: every level, then its gaps, overlaps and missing upstream ranges. */
export function formatCollectionCoverage(c: CollectionCoverage, target: number): string {
  const out: string[] = []
  out.push(
    `${c.collection}: ${int(c.totals.releases)} range(s) (${c.totals.metaFiles} metadata file(s), ${c.totals.dataFolders} data folder(s)), ${int(c.totals.records)} records, ${formatBytes(c.totals.bytes)}`,
  )
  if (c.from !== null && c.to !== null) out.push(`timeline ${c.from} – ${c.to}`)
  out.push('')
  const rows = [['LEVEL', 'RANGES', 'RECORDS', 'FILES', 'SIZE', 'SHARE', 'TIME COVERED', 'SPANS']]
  for (const l of LEVELS) {
    const f = c.levels[l.key]
    rows.push([
      levelLabel(l.key, target),
      int(f.ranges),
      int(f.records),
      int(f.files),
      formatBytes(f.bytes),
      formatRatio(f.ratio),
      formatDuration(f.seconds),
      int(f.spans.length),
    ])
  }
  out.push(table(rows, (col) => col > 0))
  out.push('')
  out.push(
    c.gapCount === 0
      ? 'gaps: none'
      : `gaps: ${c.gapCount} (${formatDuration(c.gapSeconds)}); a gap may be a missing release`,
  )
  for (const g of c.gaps.slice(0, 50))
    out.push(`  ${g.from} – ${g.to}  ${formatDuration(g.seconds)}  after ${g.after || '?'}`)
  if (c.gapCount > 50)
    out.push(`  … and ${c.gapCount - 50} more (--json lists the first ${Math.min(c.gapCount, LIST_LIMIT)})`)
  out.push(
    c.overlaps.length === 0
      ? 'overlaps: none'
      : `overlaps: ${c.overlaps.length}${c.overlapsTruncated ? '+' : ''}`,
  )
  for (const o of c.overlaps.slice(0, 50))
    out.push(
      `  ${o.from} – ${o.to}  ${o.check}${o.problems.length > 0 ? ` (${o.problems.join(', ')})` : ''}  ${o.a} / ${o.b}`,
    )
  if (c.overlaps.length > 50) out.push(`  … and ${c.overlaps.length - 50} more (--json lists all)`)
  out.push(
    c.missingCount === 0 ? 'missing from upstream: none known' : `missing from upstream: ${c.missingCount}`,
  )
  for (const m of c.missing.slice(0, 50)) out.push(`  ${m.name}`)
  if (c.missingCount > 50)
    out.push(
      `  … and ${c.missingCount - 50} more (--json lists the first ${Math.min(c.missingCount, LIST_LIMIT)})`,
    )
  out.push(
    `torrents: ${int(c.totals.torrents)}; ok ${c.health.ok}, degraded ${c.health.degraded}, lost ${c.health.lost}; at risk ${c.atRisk}`,
  )
  return out.join('\n') + '\n'
}
