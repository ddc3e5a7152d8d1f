/**
 * The coverage model: pure functions from plain data (the catalog's releases, the torrents,
 * the local engine's states, and the fleet, swarm and upstream figures of `ExternalFigures`) to
 * a per-collection report of how well each stretch of the AACID timeline is kept.
 *
 * A release (one metadata file or one data folder) is the unit: it has one AACID range. Each
 * level is a predicate on releases, and a level's figures are those of the releases meeting it:
 *
 *   cataloged    in the local catalog (with or without problems)
 *   held         cataloged here without problems (the data on this machine can be trusted)
 *   torrented    aacseed made its torrent
 *   seeded       the local engine reports its torrent `seeding`
 *   fleet_1      on at least one fleet seedbox (complete copy)
 *   fleet_n      on at least N seedboxes (N: the fleet's target for the torrent, else `copiesTarget`)
 *   swarm_lt4 / swarm_4to10 / swarm_gt10
 *                its torrent's public swarm has < 4, 4 to 10, or > 10 seeders: the buckets
 *                Anna's Archive's torrent page uses (torrents never scraped are in none)
 *
 * Levels are independent: a release lost here may still be on three seedboxes. `ratio` is the
 * level's bytes over the bytes of everything known of the collection (cataloged, torrented, or
 * listed upstream with a size). The timeline of each level is the union of its ranges.
 */
import { timestampFromSeconds } from '../aac/index.js'
import type { CopyState } from '../engines/engine.js'
import type { ExternalFigures, SeedboxFigures, TorrentHealth, UpstreamRelease } from './inputs.js'
import {
  gapsBetween,
  mergeSpans,
  overlappingPairs,
  spanSeconds,
  totalSeconds,
  type Span,
} from './intervals.js'

export type ReleaseKind = 'meta' | 'data'

export type LevelKey =
  | 'cataloged'
  | 'held'
  | 'torrented'
  | 'seeded'
  | 'fleet_1'
  | 'fleet_n'
  | 'swarm_lt4'
  | 'swarm_4to10'
  | 'swarm_gt10'

export interface LevelInfo {
  key: LevelKey
  label: string
  description: string
}

/** Plain-language names for the CLI, the API and the dashboard; `N` is replaced by the target. */
export const LEVELS: readonly LevelInfo[] = [
  {
    key: 'cataloged',
    label: 'Cataloged',
    description: 'found in a release root on this machine (problems or not)',
  },
  { key: 'held', label: 'Held here', description: 'on this machine and free of problems' },
  { key: 'torrented', label: 'Torrent made', description: 'aacseed made its .torrent' },
  { key: 'seeded', label: 'Seeded here', description: 'the local torrent engine is seeding it' },
  { key: 'fleet_1', label: 'On ≥ 1 seedbox', description: 'a complete copy on at least one fleet seedbox' },
  {
    key: 'fleet_n',
    label: 'On ≥ N seedboxes',
    description: 'complete copies on at least N fleet seedboxes (the target)',
  },
  {
    key: 'swarm_lt4',
    label: '< 4 swarm seeders',
    description: 'the public swarm has fewer than 4 seeders: at risk',
  },
  { key: 'swarm_4to10', label: '4–10 swarm seeders', description: 'the public swarm has 4 to 10 seeders' },
  {
    key: 'swarm_gt10',
    label: '> 10 swarm seeders',
    description: 'the public swarm has more than 10 seeders',
  },
]

export const LEVEL_KEYS: readonly LevelKey[] = LEVELS.map((l) => l.key)

export type SwarmBucket = 'lt4' | '4to10' | 'gt10' | 'unknown'
export const SWARM_BUCKETS: readonly SwarmBucket[] = ['lt4', '4to10', 'gt10', 'unknown']

/** Anna's Archive's buckets: < 4 seeders, 4 to 10, > 10. */
export function swarmBucket(seeders: number | null): SwarmBucket {
  if (seeders === null) return 'unknown'
  if (seeders < 4) return 'lt4'
  if (seeders <= 10) return '4to10'
  return 'gt10'
}

/**
 * A release's colour on the timeline: the strongest thing true of it, from `fleet_n` down to
 * `upstream` (known from an upstream list only) and `problems` (here, but with problems).
 */
export type TimelineState = 'upstream' | 'problems' | 'held' | 'torrented' | 'seeded' | 'fleet_1' | 'fleet_n'
export const TIMELINE_STATES: readonly TimelineState[] = [
  'upstream',
  'problems',
  'held',
  'torrented',
  'seeded',
  'fleet_1',
  'fleet_n',
]

// ---- input ---------------------------------------------------------------------------------

export interface RangeFields {
  collection: string
  /** `YYYYMMDDTHHMMSSZ`, inclusive. */
  from: string
  to: string
  /** The same as Unix seconds. */
  fromS: number
  toS: number
}

export interface CatalogReleaseInput extends RangeFields {
  kind: ReleaseKind
  name: string
  /** Records of a metadata file; 0 for a data folder. */
  records: number
  /** Blobs of a data folder; 1 for a metadata file. */
  files: number
  bytes: number
  /** Problems naming it; > 0 means not `held`. */
  problems: number
}

export interface TorrentInput extends RangeFields {
  name: string
  infohash: string
  kind: ReleaseKind
  bytes: number
  files: number
  /** `YYYY-MM-DD`, the day it entered the published list. */
  addedAt: string
}

export interface EngineTorrentInput {
  infohash: string
  state: CopyState
  lastSeedingAt: string | null
}

/** A catalog problem between overlapping releases (`overlap-mismatch`, `immutable-conflict`). */
export interface OverlapProblemInput {
  collection: string | null
  code: string
  path: string
  message: string
}

export interface CoverageData {
  releases: readonly CatalogReleaseInput[]
  torrents: readonly TorrentInput[]
  engine: ReadonlyMap<string, EngineTorrentInput>
  overlapProblems: readonly OverlapProblemInput[]
  external: ExternalFigures
}

// ---- output --------------------------------------------------------------------------------

export interface LevelFigures {
  records: number
  files: number
  bytes: number
  /** Releases (each one AACID range) at this level. */
  ranges: number
  /** Seconds of the timeline their union covers. */
  seconds: number
  /** bytes / the collection's known bytes; 0 when nothing is known. */
  ratio: number
  /** The union of their ranges: sorted, disjoint, inclusive Unix seconds. */
  spans: Span[]
}

export interface BucketFigures {
  torrents: number
  bytes: number
}

export interface Gap {
  from: string
  to: string
  fromS: number
  toS: number
  seconds: number
  /** The release whose range ends right before the gap, and the one starting right after it. */
  after: string
  before: string
}

export type OverlapCheck = 'ok' | 'conflict' | 'unchecked'

export interface Overlap {
  kind: ReleaseKind
  a: string
  b: string
  from: string
  to: string
  fromS: number
  toS: number
  seconds: number
  /**
   * The catalog's immutability check of the overlap: `ok` (both files hold the same records),
   * `conflict` (see `problems`), `unchecked` (data folders: the catalog compares records only).
   */
  check: OverlapCheck
  problems: string[]
}

export interface TorrentCoverage extends RangeFields {
  name: string
  infohash: string
  kind: ReleaseKind
  bytes: number
  files: number
  addedAt: string
  /** Its release is in the local catalog. */
  cataloged: boolean
  /** Problems the catalog has on its release. */
  problems: number
  engineState: string | null
  seedingLocally: boolean
  lastSeedingAt: string | null
  /** Complete copies on fleet seedboxes; null when the fleet does not report it. */
  fleetCopies: number | null
  /** Copies counted for health (src/fleet/health.ts): seedboxes', and the local engine's where it counts. */
  copies: number
  /** The copies it should have (N for its kind or collection). */
  target: number
  health: TorrentHealth
  seeders: number | null
  leechers: number | null
  completed: number | null
  scrapedAt: string | null
  bucket: SwarmBucket
  /** Below the target number of copies, or fewer than 4 seeders in the swarm. */
  atRisk: boolean
}

export interface CoverageItem extends RangeFields {
  name: string
  kind: ReleaseKind
  records: number
  files: number
  bytes: number
  problems: number
  cataloged: boolean
  /** Known from the upstream list. */
  upstream: boolean
  infohash: string | null
  state: TimelineState
  copies: number
  /** The copies it should have. */
  target: number
  seeders: number | null
}

export interface CollectionTotals {
  releases: number
  metaFiles: number
  dataFolders: number
  records: number
  files: number
  bytes: number
  torrents: number
}

export interface CollectionCoverage {
  collection: string
  /** The first and last second any known range covers; null for an empty collection. */
  from: string | null
  to: string | null
  fromS: number | null
  toS: number | null
  totals: CollectionTotals
  levels: Record<LevelKey, LevelFigures>
  swarm: Record<SwarmBucket, BucketFigures>
  health: Record<TorrentHealth, number>
  atRisk: number
  /** The first `LIST_LIMIT` gaps by start (`gapCount` counts them all). */
  gaps: Gap[]
  gapCount: number
  gapSeconds: number
  overlaps: Overlap[]
  /** More overlapping pairs existed than are listed. */
  overlapsTruncated: boolean
  /**
   * The first `LIST_LIMIT` (by start of range) of the releases the upstream list knows of that
   * are not held here; `missingCount` counts them all.
   */
  missing: UpstreamRelease[]
  missingCount: number
  /**
   * Every release held, cataloged or torrented here, and the first `LIST_LIMIT` of those known
   * from an upstream list only, by start of range; `unlisted` counts the rest of those.
   */
  items: CoverageItem[]
  /** Releases known from an upstream list only that `items` leaves out (counted in `totals`). */
  unlisted: number
}

/**
 * How many gaps, missing releases and releases known upstream only a collection lists (its
 * counts and totals cover them all). A mirror following Anna's Archive's whole list knows of a
 * million releases: listed one by one, coverage over it took gigabytes of serve's memory and
 * minutes; a view shows a few hundred at most. The lists are most of a report that crosses
 * from the coverage worker to serve's main thread while the worker still holds its heap: over
 * that list (about 50 collections), 1,000 each took serve's peak RSS to 380-410 MB, 250 each to
 * 324-338 MB (`bench:mirror-list`, bar 400 MB).
 */
export const LIST_LIMIT = 250

export type SummaryLevelFigures = Omit<LevelFigures, 'spans'>

export interface CoverageTotals extends CollectionTotals {
  collections: number
  levels: Record<LevelKey, SummaryLevelFigures>
  swarm: Record<SwarmBucket, BucketFigures>
  health: Record<TorrentHealth, number>
  atRisk: number
  gaps: number
  gapSeconds: number
  overlaps: number
  conflicts: number
  missing: number
}

export interface CoverageReport {
  copiesTarget: number
  collections: CollectionCoverage[]
  totals: CoverageTotals
  /** Every torrent, by collection and range. */
  torrents: TorrentCoverage[]
  seedboxes: SeedboxFigures[]
  /** The local engine's torrents by state. */
  engine: { torrents: number; states: Record<string, number> }
}

// ---- computation ---------------------------------------------------------------------------

/** A release being computed: its item, and its torrent if there is one. */
interface Item {
  item: CoverageItem
  torrent: TorrentCoverage | null
}

const OVERLAP_CODES = new Set(['overlap-mismatch', 'immutable-conflict'])

function torrentCoverage(
  t: TorrentInput,
  data: CoverageData,
  release: CatalogReleaseInput | undefined,
): TorrentCoverage {
  const { external } = data
  const engine = data.engine.get(t.infohash)
  const seedingLocally = engine?.state === 'seeding'
  // The one health model's answer (src/fleet/health.ts); coverage never counts copies itself.
  const fleet = external.fleet.get(t.infohash)
  const swarm = external.swarm.get(t.infohash)
  const copies = fleet?.copies ?? 0
  const target = fleet?.target ?? Math.max(1, external.copiesTarget)
  const health = fleet?.health ?? 'lost'
  const seeders = swarm ? swarm.seeders : null
  return {
    name: t.name,
    infohash: t.infohash,
    kind: t.kind,
    collection: t.collection,
    from: t.from,
    to: t.to,
    fromS: t.fromS,
    toS: t.toS,
    bytes: t.bytes,
    files: t.files,
    addedAt: t.addedAt,
    cataloged: release !== undefined,
    problems: release?.problems ?? 0,
    engineState: engine?.state ?? null,
    seedingLocally,
    lastSeedingAt: engine?.lastSeedingAt ?? null,
    fleetCopies: fleet ? fleet.seedboxCopies : null,
    copies,
    target,
    health,
    seeders,
    leechers: swarm ? swarm.leechers : null,
    completed: swarm ? swarm.completed : null,
    scrapedAt: swarm ? swarm.scrapedAt : null,
    bucket: swarmBucket(seeders),
    atRisk: health !== 'ok' || (seeders !== null && seeders < 4),
  }
}

function levelHolds(level: LevelKey, { item, torrent: t }: Item): boolean {
  switch (level) {
    case 'cataloged':
      return item.cataloged
    case 'held':
      return item.cataloged && item.problems === 0
    case 'torrented':
      return t !== null
    case 'seeded':
      return t !== null && t.seedingLocally
    case 'fleet_1':
      return t !== null && (t.fleetCopies ?? 0) >= 1
    case 'fleet_n':
      return t !== null && (t.fleetCopies ?? 0) >= t.target
    case 'swarm_lt4':
      return t !== null && t.bucket === 'lt4'
    case 'swarm_4to10':
      return t !== null && t.bucket === '4to10'
    case 'swarm_gt10':
      return t !== null && t.bucket === 'gt10'
  }
}

function timelineState({ item, torrent: t }: Item): TimelineState {
  if (t && (t.fleetCopies ?? 0) >= t.target) return 'fleet_n'
  if (t && (t.fleetCopies ?? 0) >= 1) return 'fleet_1'
  if (t?.seedingLocally) return 'seeded'
  if (t) return 'torrented'
  if (item.cataloged) return item.problems === 0 ? 'held' : 'problems'
  return 'upstream'
}

function emptyLevel(): LevelFigures {
  return { records: 0, files: 0, bytes: 0, ranges: 0, seconds: 0, ratio: 0, spans: [] }
}

function emptyBuckets(): Record<SwarmBucket, BucketFigures> {
  return {
    lt4: { torrents: 0, bytes: 0 },
    '4to10': { torrents: 0, bytes: 0 },
    gt10: { torrents: 0, bytes: 0 },
    unknown: { torrents: 0, bytes: 0 },
  }
}

function emptyHealth(): Record<TorrentHealth, number> {
  return { ok: 0, degraded: 0, lost: 0 }
}

const text = (s: number): string => timestampFromSeconds(s).text

function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list) list.push(value)
  else map.set(key, [value])
}

function compareItems(
  a: RangeFields & { kind: ReleaseKind; name: string },
  b: RangeFields & { kind: ReleaseKind; name: string },
): number {
  return (
    a.fromS - b.fromS ||
    (a.kind === b.kind ? 0 : a.kind === 'meta' ? -1 : 1) ||
    a.toS - b.toS ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  )
}

/** The first `n` of what it is given, in `compare` order, holding at most 2n meanwhile. */
class FirstN<T> {
  readonly #n: number
  readonly #compare: (a: T, b: T) => number
  #held: T[] = []
  count = 0
  constructor(n: number, compare: (a: T, b: T) => number) {
    this.#n = n
    this.#compare = compare
  }
  add(v: T): void {
    this.count++
    this.#held.push(v)
    if (this.#held.length >= 2 * this.#n) this.#held = this.#held.sort(this.#compare).slice(0, this.#n)
  }
  list(): T[] {
    return this.#held.sort(this.#compare).slice(0, this.#n)
  }
}

/** What a collection's releases known from an upstream list only add up to, without listing them. */
interface UpstreamOnly {
  releases: number
  metaFiles: number
  bytes: number
  fromS: number
  toS: number
  /** Their ranges, as [from, to, from, to, …]. */
  spans: number[]
  first: FirstN<UpstreamRelease>
}

type Named = RangeFields & { kind: ReleaseKind; name: string }

/**
 * The gaps of the union of every known range: their count and seconds, and the first
 * `LIST_LIMIT` as spans with the seconds either side whose releases name them.
 */
function gapSpans(
  items: readonly CoverageItem[],
  only: UpstreamOnly | undefined,
): { count: number; seconds: number; first: Span[] } {
  const spans = items.map((i) => ({ from: i.fromS, to: i.toS }))
  if (only)
    for (let k = 0; k < only.spans.length; k += 2)
      spans.push({ from: only.spans[k]!, to: only.spans[k + 1]! })
  const all = gapsBetween(mergeSpans(spans))
  return {
    count: all.length,
    seconds: all.reduce((n, g) => n + spanSeconds(g), 0),
    first: all.slice(0, LIST_LIMIT),
  }
}

/** The release named on a gap's edge: of those ending (or starting) on that second, the first by start. */
function edgeName(best: Map<number, Named | null>, second: number, r: Named): void {
  if (!best.has(second)) return
  const b = best.get(second)
  if (!b || compareItems(r, b) < 0) best.set(second, r)
}

function findOverlaps(
  items: readonly CoverageItem[],
  problems: readonly OverlapProblemInput[],
): { overlaps: Overlap[]; truncated: boolean } {
  const byPath = new Map<string, OverlapProblemInput[]>()
  for (const p of problems) pushTo(byPath, p.path, p)
  const out: Overlap[] = []
  let truncated = false
  for (const kind of ['meta', 'data'] as const) {
    const local = items
      .filter((i) => i.kind === kind && i.cataloged)
      .map((i) => ({ from: i.fromS, to: i.toS, name: i.name }))
    const found = overlappingPairs(local, 1000)
    truncated ||= found.truncated
    for (const { a, b, overlap } of found.pairs) {
      // The catalog names one file as `path` and the other in the message.
      const codes = [
        ...(byPath.get(a.name) ?? []).filter((p) => p.message.includes(b.name)),
        ...(byPath.get(b.name) ?? []).filter((p) => p.message.includes(a.name)),
      ].map((p) => p.code)
      const check: OverlapCheck = kind === 'data' ? 'unchecked' : codes.length > 0 ? 'conflict' : 'ok'
      out.push({
        kind,
        a: a.name,
        b: b.name,
        from: text(overlap.from),
        to: text(overlap.to),
        fromS: overlap.from,
        toS: overlap.to,
        seconds: spanSeconds(overlap),
        check,
        problems: [...new Set(codes)].sort(),
      })
    }
  }
  out.sort((x, y) => x.fromS - y.fromS || (x.a < y.a ? -1 : 1))
  return { overlaps: out, truncated }
}

function collectionCoverage(
  collection: string,
  entries: Item[],
  data: CoverageData,
  missing: FirstN<UpstreamRelease> | undefined,
  only: UpstreamOnly | undefined,
  gaps: Gap[],
  gapFigures: { count: number; seconds: number },
): CollectionCoverage {
  const items = entries.map((e) => e.item)
  const listed = items.filter((i) => !i.cataloged && i.upstream && i.infohash === null).length
  const knownBytes = items.reduce((n, i) => n + i.bytes, 0) + (only?.bytes ?? 0) - listedBytes(items)
  const levels = {} as Record<LevelKey, LevelFigures>
  for (const key of LEVEL_KEYS) {
    const f = emptyLevel()
    const spans: Span[] = []
    for (const e of entries) {
      if (!levelHolds(key, e)) continue
      const i = e.item
      f.records += i.records
      f.files += i.files
      f.bytes += i.bytes
      f.ranges++
      spans.push({ from: i.fromS, to: i.toS })
    }
    f.spans = mergeSpans(spans)
    f.seconds = totalSeconds(f.spans)
    f.ratio = knownBytes > 0 ? f.bytes / knownBytes : 0
    levels[key] = f
  }
  const swarm = emptyBuckets()
  const health = emptyHealth()
  let atRisk = 0
  let torrents = 0
  let metaFiles = 0
  let records = 0
  let files = 0
  let fromS = only?.fromS ?? Infinity
  let toS = only?.toS ?? -Infinity
  for (const { item: i, torrent: t } of entries) {
    if (i.fromS < fromS) fromS = i.fromS
    if (i.toS > toS) toS = i.toS
    // Releases known upstream only are counted from `only`, listed or not.
    if (!i.cataloged && !t) continue
    if (i.kind === 'meta') metaFiles++
    records += i.records
    files += i.files
    if (!t) continue
    torrents++
    swarm[t.bucket].torrents++
    swarm[t.bucket].bytes += t.bytes
    health[t.health]++
    if (t.atRisk) atRisk++
  }
  metaFiles += only?.metaFiles ?? 0
  const releases = items.length - listed + (only?.releases ?? 0)
  const { overlaps, truncated } = findOverlaps(
    items,
    data.overlapProblems.filter((p) => p.collection === collection && OVERLAP_CODES.has(p.code)),
  )
  const empty = releases === 0
  return {
    collection,
    from: empty ? null : text(fromS),
    to: empty ? null : text(toS),
    fromS: empty ? null : fromS,
    toS: empty ? null : toS,
    totals: {
      releases,
      metaFiles,
      dataFolders: releases - metaFiles,
      records,
      files,
      bytes: knownBytes,
      torrents,
    },
    levels,
    swarm,
    health,
    atRisk,
    gaps,
    gapCount: gapFigures.count,
    gapSeconds: gapFigures.seconds,
    overlaps,
    overlapsTruncated: truncated,
    missing: missing?.list() ?? [],
    missingCount: missing?.count ?? 0,
    items,
    unlisted: (only?.releases ?? 0) - listed,
  }
}

/** The bytes of the listed releases known upstream only (`only.bytes` counts them already). */
function listedBytes(items: readonly CoverageItem[]): number {
  let n = 0
  for (const i of items) if (!i.cataloged && i.upstream && i.infohash === null) n += i.bytes
  return n
}

function totalsOf(collections: readonly CollectionCoverage[]): CoverageTotals {
  const t: CoverageTotals = {
    collections: collections.length,
    releases: 0,
    metaFiles: 0,
    dataFolders: 0,
    records: 0,
    files: 0,
    bytes: 0,
    torrents: 0,
    levels: {} as Record<LevelKey, SummaryLevelFigures>,
    swarm: emptyBuckets(),
    health: emptyHealth(),
    atRisk: 0,
    gaps: 0,
    gapSeconds: 0,
    overlaps: 0,
    conflicts: 0,
    missing: 0,
  }
  for (const key of LEVEL_KEYS)
    t.levels[key] = { records: 0, files: 0, bytes: 0, ranges: 0, seconds: 0, ratio: 0 }
  for (const c of collections) {
    for (const k of [
      'releases',
      'metaFiles',
      'dataFolders',
      'records',
      'files',
      'bytes',
      'torrents',
    ] as const)
      t[k] += c.totals[k]
    for (const key of LEVEL_KEYS) {
      const l = t.levels[key]
      const cl = c.levels[key]
      l.records += cl.records
      l.files += cl.files
      l.bytes += cl.bytes
      l.ranges += cl.ranges
      l.seconds += cl.seconds
    }
    for (const b of SWARM_BUCKETS) {
      t.swarm[b].torrents += c.swarm[b].torrents
      t.swarm[b].bytes += c.swarm[b].bytes
    }
    for (const h of ['ok', 'degraded', 'lost'] as const) t.health[h] += c.health[h]
    t.atRisk += c.atRisk
    t.gaps += c.gapCount
    t.gapSeconds += c.gapSeconds
    t.overlaps += c.overlaps.length
    t.conflicts += c.overlaps.filter((o) => o.check === 'conflict').length
    t.missing += c.missingCount
  }
  for (const key of LEVEL_KEYS) t.levels[key].ratio = t.bytes > 0 ? t.levels[key].bytes / t.bytes : 0
  return t
}

/** The whole report. Deterministic: the same data gives the same report, whatever its order. */
export function computeCoverage(data: CoverageData): CoverageReport {
  const target = Math.max(1, data.external.copiesTarget)
  const input =
    target === data.external.copiesTarget
      ? data
      : { ...data, external: { ...data.external, copiesTarget: target } }
  const releases = new Map<string, CatalogReleaseInput>()
  for (const r of input.releases) if (!releases.has(r.name)) releases.set(r.name, r)
  const entries = new Map<string, Item>()
  const item = (
    r: RangeFields & { name: string; kind: ReleaseKind },
    f: {
      records: number
      files: number
      bytes: number
      problems: number
      cataloged: boolean
      upstream: boolean
    },
  ): CoverageItem => ({
    name: r.name,
    kind: r.kind,
    collection: r.collection,
    from: r.from,
    to: r.to,
    fromS: r.fromS,
    toS: r.toS,
    ...f,
    infohash: null,
    state: 'held',
    copies: 0,
    target,
    seeders: null,
  })
  for (const r of releases.values())
    entries.set(r.name, {
      item: item(r, {
        records: r.records,
        files: r.files,
        bytes: r.bytes,
        problems: r.problems,
        cataloged: true,
        upstream: false,
      }),
      torrent: null,
    })
  const torrents: TorrentCoverage[] = []
  for (const t of input.torrents) {
    const tc = torrentCoverage(t, input, releases.get(t.name))
    torrents.push(tc)
    const e = entries.get(t.name)
    if (e) e.torrent = tc
    else
      entries.set(t.name, {
        item: item(t, {
          records: 0,
          files: t.files,
          bytes: t.bytes,
          problems: 0,
          cataloged: false,
          upstream: false,
        }),
        torrent: tc,
      })
  }
  // The upstream list may hold a million releases: folded one at a time, only the first few
  // per collection kept (see LIST_LIMIT). Each name comes once (`ExternalFigures.upstream`).
  const local = new Set(entries.keys())
  const missing = new Map<string, FirstN<UpstreamRelease>>()
  const upstreamOnly = new Map<string, UpstreamOnly>()
  for (const u of input.external.upstream) {
    const e = entries.get(u.name)
    if (e) e.item.upstream = true
    else {
      let o = upstreamOnly.get(u.collection)
      if (o === undefined) {
        o = {
          releases: 0,
          metaFiles: 0,
          bytes: 0,
          fromS: Infinity,
          toS: -Infinity,
          spans: [],
          first: new FirstN<UpstreamRelease>(LIST_LIMIT, compareItems),
        }
        upstreamOnly.set(u.collection, o)
      }
      o.releases++
      if (u.kind === 'meta') o.metaFiles++
      o.bytes += u.bytes ?? 0
      if (u.fromS < o.fromS) o.fromS = u.fromS
      if (u.toS > o.toS) o.toS = u.toS
      o.spans.push(u.fromS, u.toS)
      o.first.add(u)
    }
    const held = releases.get(u.name)
    if (!held || held.problems > 0) {
      let m = missing.get(u.collection)
      if (!m) missing.set(u.collection, (m = new FirstN<UpstreamRelease>(LIST_LIMIT, compareItems)))
      m.add(u)
    }
  }
  for (const o of upstreamOnly.values())
    for (const u of o.first.list())
      entries.set(u.name, {
        item: item(u, {
          records: 0,
          files: 0,
          bytes: u.bytes ?? 0,
          problems: 0,
          cataloged: false,
          upstream: true,
        }),
        torrent: null,
      })
  const byCollection = new Map<string, Item[]>()
  for (const e of entries.values()) {
    const t = e.torrent
    if (t) {
      e.item.infohash = t.infohash
      e.item.copies = t.copies
      e.item.target = t.target
      e.item.seeders = t.seeders
    }
    e.item.state = timelineState(e)
    pushTo(byCollection, e.item.collection, e)
  }
  // Gaps, and the releases on either side of the listed ones: the local releases and, when
  // one is known upstream only, a second pass over the list.
  const names = [...byCollection.keys()].sort()
  const gapFigures = new Map<string, ReturnType<typeof gapSpans>>()
  const ends = new Map<string, Map<number, Named | null>>()
  const starts = new Map<string, Map<number, Named | null>>()
  for (const c of names) {
    const list = byCollection.get(c)!
    list.sort((a, b) => compareItems(a.item, b.item))
    const items = list.map((e) => e.item)
    const g = gapSpans(
      items.filter((i) => local.has(i.name)),
      upstreamOnly.get(c),
    )
    gapFigures.set(c, g)
    const e = new Map<number, Named | null>(g.first.map((s) => [s.from - 1, null]))
    const st = new Map<number, Named | null>(g.first.map((s) => [s.to + 1, null]))
    for (const i of items)
      if (local.has(i.name)) {
        edgeName(e, i.toS, i)
        edgeName(st, i.fromS, i)
      }
    ends.set(c, e)
    starts.set(c, st)
  }
  if (upstreamOnly.size > 0 && [...gapFigures.values()].some((g) => g.first.length > 0))
    for (const u of input.external.upstream) {
      if (local.has(u.name)) continue
      const e = ends.get(u.collection)
      if (e) edgeName(e, u.toS, u)
      const st = starts.get(u.collection)
      if (st) edgeName(st, u.fromS, u)
    }
  const collections = names.map((c) => {
    const g = gapFigures.get(c)!
    const gaps: Gap[] = g.first.map((s) => ({
      from: text(s.from),
      to: text(s.to),
      fromS: s.from,
      toS: s.to,
      seconds: spanSeconds(s),
      after: ends.get(c)!.get(s.from - 1)?.name ?? '',
      before: starts.get(c)!.get(s.to + 1)?.name ?? '',
    }))
    return collectionCoverage(c, byCollection.get(c)!, input, missing.get(c), upstreamOnly.get(c), gaps, g)
  })
  torrents.sort((a, b) =>
    a.collection < b.collection ? -1 : a.collection > b.collection ? 1 : compareItems(a, b),
  )
  const states: Record<string, number> = {}
  for (const e of input.engine.values()) states[e.state] = (states[e.state] ?? 0) + 1
  return {
    copiesTarget: target,
    collections,
    totals: totalsOf(collections),
    torrents,
    seedboxes: [...input.external.seedboxes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    engine: { torrents: input.engine.size, states },
  }
}
