/**
 * The seed planner: which upstream torrents a volunteer with a given amount of disk should
 * seed to do the archive the most good. Pure: candidates in, a plan out, the same plan for
 * the same input.
 *
 * It plans over the whole list, AAC releases and opaque torrents alike (Library Genesis,
 * Sci-Hub, …: entries whose names are not AAC releases), as Anna's Archive's own generator
 * does. The rule, in order:
 * 1. leave out what is obsolete or embargoed, what is already held here or by the fleet, what
 *    the volunteer does not follow (collection and group globs), and what the swarm already
 *    keeps well (more than `maxSeeders` seeders in the latest figures);
 * 2. take the rest from the fewest seeders up (never-scraped torrents right after those
 *    reported at zero: unknown is not safe), metadata before data, then the smaller first
 *    (more torrents saved per byte), then by name; an opaque torrent ranks as data;
 * 3. a data torrent comes with its collection's metadata: every metadata torrent of the same
 *    collection whose range overlaps it and that is not held is taken first, and the data
 *    torrent is only taken if it fits together with them (data without the records that
 *    describe it is of little use to anyone restoring the archive);
 * 4. whatever does not fit in the budget is skipped, and smaller torrents further down may
 *    still fit.
 */
import { globToRegExp } from '../glob.js'

export interface PlanCandidate {
  btih: string
  /** An AAC release's name; an opaque torrent's display name (without `.torrent`). */
  name: string
  /** `other`: an opaque torrent, which has no collection or range. */
  kind: 'meta' | 'data' | 'other'
  /** The AAC collection; null for an opaque torrent. */
  collection: string | null
  /** The list's `group_name` and `top_level_group_name` ('' when it gives none). */
  group: string
  topGroup: string
  /** The range in Unix seconds; 0 for an opaque torrent. */
  fromS: number
  toS: number
  /** Null when the list gives no size: such a torrent cannot be budgeted. */
  bytes: number | null
  /** Latest swarm figure; null when never scraped. */
  seeders: number | null
  scrapedAt: string | null
  obsolete: boolean
  embargo: boolean
  /** Already on this machine (cataloged, torrented, being downloaded) or given to its fleet. */
  held: boolean
  magnet: string | null
  torrentUrl: string | null
}

export interface PlanOptions {
  budgetBytes: number
  /**
   * `*` globs over collection names and over group names (`scihub`, or `external/*` with the
   * top-level group). With neither, every torrent is followed; with either or both, a torrent
   * is followed when its collection matches `collections` or its group matches `groups`.
   */
  collections?: readonly string[]
  groups?: readonly string[]
  /** A torrent with more seeders than this is well seeded and left out. */
  maxSeeders: number
}

export type SkipReason =
  'held' | 'obsolete' | 'embargo' | 'not-followed' | 'well-seeded' | 'unknown-size' | 'over-budget'

export interface PlannedTorrent extends PlanCandidate {
  bytes: number
  /** For a metadata torrent taken along with a data torrent: that data torrent's name. */
  metadataFor: string | null
}

export interface SeedPlan {
  chosen: PlannedTorrent[]
  bytes: number
  budgetBytes: number
  skipped: Record<SkipReason, number>
}

export function globMatcher(globs: readonly string[] | undefined): (s: string) => boolean {
  if (!globs || globs.length === 0) return () => true
  const res = globs.map(globToRegExp)
  return (s) => res.some((r) => r.test(s))
}

/** Whether the volunteer follows a candidate: its collection or its group matches (see `PlanOptions`). */
export function planFollows(
  opts: Pick<PlanOptions, 'collections' | 'groups'>,
): (c: Pick<PlanCandidate, 'collection' | 'group' | 'topGroup'>) => boolean {
  const collections = opts.collections?.length ? globMatcher(opts.collections) : null
  const groups = opts.groups?.length ? globMatcher(opts.groups) : null
  if (!collections && !groups) return () => true
  return (c) =>
    (collections !== null && c.collection !== null && collections(c.collection)) ||
    (groups !== null && (groups(c.group) || groups(`${c.topGroup}/${c.group}`)))
}

function compareCandidates(a: PlanCandidate, b: PlanCandidate): number {
  return (
    (a.seeders ?? 0) - (b.seeders ?? 0) ||
    Number(a.seeders === null) - Number(b.seeders === null) ||
    Number(a.kind !== 'meta') - Number(b.kind !== 'meta') ||
    (a.bytes ?? 0) - (b.bytes ?? 0) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0) ||
    (a.btih < b.btih ? -1 : a.btih > b.btih ? 1 : 0)
  )
}

export function planSeeding(candidates: readonly PlanCandidate[], opts: PlanOptions): SeedPlan {
  const skipped: Record<SkipReason, number> = {
    held: 0,
    obsolete: 0,
    embargo: 0,
    'not-followed': 0,
    'well-seeded': 0,
    'unknown-size': 0,
    'over-budget': 0,
  }
  const followed = planFollows(opts)
  // Metadata that a chosen data torrent must bring along: any not held, not obsolete, in the collection.
  const metaByCollection = new Map<string, PlanCandidate[]>()
  for (const c of candidates) {
    if (c.kind !== 'meta' || c.collection === null || c.held || c.obsolete || c.embargo) continue
    const list = metaByCollection.get(c.collection) ?? []
    list.push(c)
    metaByCollection.set(c.collection, list)
  }
  const open: PlanCandidate[] = []
  const left = new Map<string, SkipReason>()
  for (const c of candidates) {
    const reason: SkipReason | null = c.obsolete
      ? 'obsolete'
      : c.embargo
        ? 'embargo'
        : c.held
          ? 'held'
          : !followed(c)
            ? 'not-followed'
            : c.seeders !== null && c.seeders > opts.maxSeeders
              ? 'well-seeded'
              : c.bytes === null
                ? 'unknown-size'
                : null
    if (reason === null) open.push(c)
    else left.set(c.btih, reason)
  }
  open.sort(compareCandidates)

  const chosen: PlannedTorrent[] = []
  const taken = new Set<string>()
  let bytes = 0
  for (const c of open) {
    if (taken.has(c.btih)) continue
    const needed: PlanCandidate[] = []
    if (c.kind === 'data' && c.collection !== null) {
      for (const m of metaByCollection.get(c.collection) ?? []) {
        if (!taken.has(m.btih) && m.fromS <= c.toS && c.fromS <= m.toS) needed.push(m)
      }
      needed.sort(compareCandidates)
    }
    if (needed.some((m) => m.bytes === null)) {
      left.set(c.btih, 'unknown-size')
      continue
    }
    const size = c.bytes! + needed.reduce((s, m) => s + m.bytes!, 0)
    if (bytes + size > opts.budgetBytes) {
      left.set(c.btih, 'over-budget')
      continue
    }
    for (const m of needed) {
      chosen.push({ ...m, bytes: m.bytes!, metadataFor: c.name })
      taken.add(m.btih)
    }
    chosen.push({ ...c, bytes: c.bytes!, metadataFor: null })
    taken.add(c.btih)
    bytes += size
  }
  // A well-seeded metadata torrent taken along with its data is chosen, not skipped.
  for (const [btih, reason] of left) if (!taken.has(btih)) skipped[reason]++
  return { chosen, bytes, budgetBytes: opts.budgetBytes, skipped }
}
