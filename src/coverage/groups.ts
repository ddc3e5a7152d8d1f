/**
 * Coverage per group of the upstream lists, beside the per-collection view, in the manner of
 * Anna's Archive's torrents page: for each `group_name`, its torrents and bytes upstream, how
 * many are held here, seeded here, on at least one seedbox and on at least N, and how many
 * the swarm keeps with < 4, 4–10 and > 10 seeders. Pure: one row per torrent in, rows out.
 * AAC releases and opaque torrents are counted alike; a torrent listed in two groups counts in
 * the first one listed.
 */
import { swarmBucket, type SwarmBucket } from './model.js'

export interface GroupTorrentInput {
  btih: string
  group: string
  topGroup: string
  bytes: number | null
  /** The latest figure (the list's or our scrape's, whichever is newer); null when never scraped. */
  seeders: number | null
  /** Held here or by the fleet (src/mirror/candidates.ts `heldHere`). */
  held: boolean
  /** The local engine reports it seeding. */
  seeded: boolean
  /** Seedboxes whose copy counts (src/fleet/health.ts), and N for this torrent. */
  seedboxCopies: number
  target: number
}

export interface GroupFigure {
  torrents: number
  bytes: number
}

export interface GroupCoverage {
  group: string
  topGroup: string
  upstream: GroupFigure
  held: GroupFigure
  seeded: GroupFigure
  /** On at least one seedbox. */
  onSeedbox: GroupFigure
  /** On at least N seedboxes (each torrent's own N). */
  onTarget: GroupFigure
  /** Anna's Archive's buckets (model.ts `swarmBucket`). */
  swarm: Record<SwarmBucket, GroupFigure>
}

const zero = (): GroupFigure => ({ torrents: 0, bytes: 0 })

/** Rows sorted by top-level group, then group. */
export function groupCoverage(torrents: Iterable<GroupTorrentInput>): GroupCoverage[] {
  const out = new Map<string, GroupCoverage>()
  const add = (f: GroupFigure, bytes: number): void => {
    f.torrents++
    f.bytes += bytes
  }
  for (const t of torrents) {
    let g = out.get(t.group)
    if (!g) {
      g = {
        group: t.group,
        topGroup: t.topGroup,
        upstream: zero(),
        held: zero(),
        seeded: zero(),
        onSeedbox: zero(),
        onTarget: zero(),
        swarm: { lt4: zero(), '4to10': zero(), gt10: zero(), unknown: zero() },
      }
      out.set(t.group, g)
    }
    const bytes = t.bytes ?? 0
    add(g.upstream, bytes)
    if (t.held) add(g.held, bytes)
    if (t.seeded) add(g.seeded, bytes)
    if (t.seedboxCopies >= 1) add(g.onSeedbox, bytes)
    if (t.seedboxCopies >= t.target) add(g.onTarget, bytes)
    add(g.swarm[swarmBucket(t.seeders)], bytes)
  }
  return [...out.values()].sort((a, b) =>
    a.topGroup !== b.topGroup
      ? a.topGroup < b.topGroup
        ? -1
        : 1
      : a.group < b.group
        ? -1
        : a.group > b.group
          ? 1
          : 0,
  )
}

/** The JSON of `/api/groups` and `coverage --groups --json` (snake_case, as the other APIs). */
export function groupCoverageJson(rows: readonly GroupCoverage[]) {
  return {
    groups: rows.map((g) => ({
      group: g.group,
      top_level_group: g.topGroup,
      upstream: g.upstream,
      held: g.held,
      seeded: g.seeded,
      on_seedbox: g.onSeedbox,
      on_target: g.onTarget,
      swarm: { lt4: g.swarm.lt4, '4_to_10': g.swarm['4to10'], gt10: g.swarm.gt10, unknown: g.swarm.unknown },
    })),
  }
}
