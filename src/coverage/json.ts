/**
 * The JSON shape of coverage, shared by `aacseed coverage --json` and `GET /api/coverage`:
 * snake_case like the published torrent list, every size in bytes, every time both as
 * `YYYYMMDDTHHMMSSZ` and as Unix seconds (`*_s`). Summary fields always; with `detail`, the
 * spans of every level, the gap, overlap and missing lists, and every release for a timeline.
 */
import { levelLabel } from './format.js'
import {
  LEVELS,
  LEVEL_KEYS,
  type CollectionCoverage,
  type CoverageReport,
  type LevelKey,
  type SummaryLevelFigures,
  type TorrentCoverage,
} from './model.js'

export interface CoverageJsonOptions {
  /** Only this collection (detail implied). */
  collection?: string | undefined
  detail?: boolean
  generation?: number
  computedAt?: string
}

function levelJson(
  f: SummaryLevelFigures & { spans?: Array<{ from: number; to: number }> },
  detail: boolean,
) {
  return {
    records: f.records,
    files: f.files,
    bytes: f.bytes,
    ranges: f.ranges,
    seconds: f.seconds,
    ratio: f.ratio,
    ...(detail && f.spans ? { spans: f.spans.map((s) => [s.from, s.to]) } : {}),
  }
}

function levelsJson(
  levels: Record<LevelKey, SummaryLevelFigures & { spans?: Array<{ from: number; to: number }> }>,
  detail: boolean,
) {
  return Object.fromEntries(LEVEL_KEYS.map((k) => [k, levelJson(levels[k], detail)])) as Record<
    LevelKey,
    ReturnType<typeof levelJson>
  >
}

export function collectionJson(c: CollectionCoverage, detail: boolean) {
  return {
    collection: c.collection,
    from: c.from,
    to: c.to,
    from_s: c.fromS,
    to_s: c.toS,
    releases: c.totals.releases,
    meta_files: c.totals.metaFiles,
    data_folders: c.totals.dataFolders,
    records: c.totals.records,
    files: c.totals.files,
    bytes: c.totals.bytes,
    torrents: c.totals.torrents,
    at_risk: c.atRisk,
    levels: levelsJson(c.levels, detail),
    swarm: c.swarm,
    health: c.health,
    gaps: { count: c.gapCount, seconds: c.gapSeconds },
    overlaps: {
      count: c.overlaps.length,
      conflicts: c.overlaps.filter((o) => o.check === 'conflict').length,
      truncated: c.overlapsTruncated,
    },
    missing: c.missingCount,
    unlisted_releases: c.unlisted,
    ...(detail
      ? {
          gap_list: c.gaps.map((g) => ({
            from: g.from,
            to: g.to,
            from_s: g.fromS,
            to_s: g.toS,
            seconds: g.seconds,
            after: g.after,
            before: g.before,
          })),
          overlap_list: c.overlaps.map((o) => ({
            kind: o.kind,
            a: o.a,
            b: o.b,
            from: o.from,
            to: o.to,
            from_s: o.fromS,
            to_s: o.toS,
            seconds: o.seconds,
            check: o.check,
            problems: o.problems,
          })),
          missing_list: c.missing.map((m) => ({
            name: m.name,
            kind: m.kind,
            from: m.from,
            to: m.to,
            from_s: m.fromS,
            to_s: m.toS,
            bytes: m.bytes,
          })),
          release_list: c.items.map((i) => ({
            name: i.name,
            kind: i.kind,
            from: i.from,
            to: i.to,
            from_s: i.fromS,
            to_s: i.toS,
            records: i.records,
            files: i.files,
            bytes: i.bytes,
            problems: i.problems,
            state: i.state,
            infohash: i.infohash,
            copies: i.copies,
            target: i.target,
            seeders: i.seeders,
            cataloged: i.cataloged,
            upstream: i.upstream,
          })),
        }
      : {}),
  }
}

export type CollectionJson = ReturnType<typeof collectionJson>

export function coverageJson(r: CoverageReport, opts: CoverageJsonOptions = {}) {
  const detail = opts.detail === true || opts.collection !== undefined
  const collections =
    opts.collection === undefined
      ? r.collections
      : r.collections.filter((c) => c.collection === opts.collection)
  const t = r.totals
  return {
    ...(opts.generation !== undefined ? { generation: opts.generation } : {}),
    ...(opts.computedAt !== undefined ? { computed_at: opts.computedAt } : {}),
    copies_target: r.copiesTarget,
    levels: LEVELS.map((l) => ({
      key: l.key,
      label: levelLabel(l.key, r.copiesTarget),
      description: l.key === 'fleet_n' ? l.description.replace('N ', `${r.copiesTarget} `) : l.description,
    })),
    totals: {
      collections: t.collections,
      releases: t.releases,
      meta_files: t.metaFiles,
      data_folders: t.dataFolders,
      records: t.records,
      files: t.files,
      bytes: t.bytes,
      torrents: t.torrents,
      at_risk: t.atRisk,
      gaps: t.gaps,
      gap_seconds: t.gapSeconds,
      overlaps: t.overlaps,
      conflicts: t.conflicts,
      missing: t.missing,
      levels: levelsJson(t.levels, false),
      swarm: t.swarm,
      health: t.health,
    },
    collections: collections.map((c) => collectionJson(c, detail)),
  }
}

export function torrentJson(t: TorrentCoverage) {
  return {
    name: t.name,
    infohash: t.infohash,
    kind: t.kind,
    collection: t.collection,
    from: t.from,
    to: t.to,
    bytes: t.bytes,
    files: t.files,
    added_at: t.addedAt,
    cataloged: t.cataloged,
    problems: t.problems,
    engine_state: t.engineState,
    seeding_locally: t.seedingLocally,
    last_seeding_at: t.lastSeedingAt,
    fleet_copies: t.fleetCopies,
    copies: t.copies,
    target: t.target,
    health: t.health,
    seeders: t.seeders,
    leechers: t.leechers,
    completed: t.completed,
    scraped_at: t.scrapedAt,
    swarm_bucket: t.bucket,
    at_risk: t.atRisk,
  }
}

/** The columns of a release row in `timelineJson`, in order. */
export const TIMELINE_COLUMNS = [
  'name',
  'kind',
  'from_s',
  'to_s',
  'state',
  'bytes',
  'records',
  'files',
  'problems',
  'copies',
  'target',
  'seeders',
] as const

const NAME_RE = /^(.+)_(meta|data)__aacid__([A-Za-z0-9_]+)__(\d{8}T\d{6}Z)--(\d{8}T\d{6}Z)(.*)$/

/**
 * A release name as a reference into the prefix and extension lists when it is exactly
 * `{prefix}_{meta|data}__aacid__{collection}__{from}--{to}{extension}` of this release, which
 * every cataloged name is; the name itself otherwise.
 */
function nameRef(
  i: { name: string; kind: string; collection: string; from: string; to: string },
  prefixes: Map<string, number>,
  extensions: Map<string, number>,
): string | [number, number] {
  const m = NAME_RE.exec(i.name)
  if (!m || m[2] !== i.kind || m[3] !== i.collection || m[4] !== i.from || m[5] !== i.to) return i.name
  const index = (map: Map<string, number>, key: string): number => {
    let n = map.get(key)
    if (n === undefined) map.set(key, (n = map.size))
    return n
  }
  return [index(prefixes, m[1]!), index(extensions, m[6]!)]
}

/**
 * What a timeline needs, compact: per collection its extent, gaps (the first `LIST_LIMIT`, and
 * their count) and overlaps, and one array per release in `TIMELINE_COLUMNS` order (those known
 * upstream only: the first `LIST_LIMIT`, and how many more). A name is `[p, e]` when it is the standard name of
 * the release's range with `prefixes[p]` and `extensions[e]`
 * (`{prefix}_{kind}__aacid__{collection}__{from}--{to}{extension}`, times as
 * `YYYYMMDDTHHMMSSZ`), else the name itself. For 10,000 releases that is a sixth of the size
 * of `release_list` objects and quicker to parse. `GET /api/timeline`; the dashboard draws from it.
 */
export function timelineJson(
  r: CoverageReport,
  opts: { collection?: string | undefined; generation?: number } = {},
) {
  const collections =
    opts.collection === undefined
      ? r.collections
      : r.collections.filter((c) => c.collection === opts.collection)
  const prefixes = new Map<string, number>()
  const extensions = new Map<string, number>()
  const out = collections.map((c) => ({
    collection: c.collection,
    from_s: c.fromS,
    to_s: c.toS,
    gap_count: c.gapCount,
    unlisted_releases: c.unlisted,
    gap_list: c.gaps.map((g) => ({
      from_s: g.fromS,
      to_s: g.toS,
      seconds: g.seconds,
      after: g.after,
      before: g.before,
    })),
    overlap_list: c.overlaps.map((o) => ({
      kind: o.kind,
      a: o.a,
      b: o.b,
      from_s: o.fromS,
      to_s: o.toS,
      check: o.check,
      problems: o.problems,
    })),
    releases: c.items.map(
      (i) =>
        [
          nameRef(i, prefixes, extensions),
          i.kind,
          i.fromS,
          i.toS,
          i.state,
          i.bytes,
          i.records,
          i.files,
          i.problems,
          i.copies,
          i.target,
          i.seeders,
        ] as const,
    ),
  }))
  return {
    ...(opts.generation !== undefined ? { generation: opts.generation } : {}),
    columns: TIMELINE_COLUMNS,
    prefixes: [...prefixes.keys()],
    extensions: [...extensions.keys()],
    collections: out,
  }
}
