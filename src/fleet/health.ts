/**
 * Torrent health as one pure function over what the polls stored: whether a seedbox is up, and
 * each torrent's copies (the local engine's and each seedbox's, with their state), its target N,
 * its verdict and its swarm figures. Every view (`fleet status`, `health`, `coverage`, the API,
 * /metrics, the dashboard, the published list and /torrents.json) reads `torrentHealth`'s
 * answer, through `readHealth` (src/fleet/status.ts); nothing else counts copies.
 */
import { isFailedCopy, type CopyState } from '../engines/engine.js'

export type { CopyState } from '../engines/engine.js'
/**
 * `up`: the last poll answered. `failing`: polls fail, but for less than the grace period, so the
 * seedbox keeps its placements (a restart or a network blip moves nothing). `down`: failing for
 * the grace period or longer; its torrents are placed elsewhere. `unknown`: never answered.
 */
export type SeedboxStatus = 'up' | 'failing' | 'down' | 'unknown'

export interface SeedboxPollState {
  /** ISO 8601 of the last poll that answered, or null. */
  lastSeenAt: string | null
  /** ISO 8601 of the first failed poll since the last answer, or null when the last poll answered. */
  failingSince: string | null
}

export function seedboxStatus(s: SeedboxPollState, now: Date, graceMs: number): SeedboxStatus {
  if (s.failingSince === null) return s.lastSeenAt === null ? 'unknown' : 'up'
  if (s.lastSeenAt === null) return now.getTime() - Date.parse(s.failingSince) >= graceMs ? 'down' : 'unknown'
  return now.getTime() - Date.parse(s.failingSince) >= graceMs ? 'down' : 'failing'
}

/** Placements stay on a seedbox that is up or only failing within its grace period. */
export function holdsPlacements(status: SeedboxStatus): boolean {
  return status === 'up' || status === 'failing'
}

/**
 * `ok`: at least N copies count; `degraded`: fewer, but at least one; `lost`: none. A copy
 * counts when its state is `seeding` and it is on a configured seedbox that holds placements
 * (up, or failing within `fleet.down_after_s`), or it is the local engine's and the local
 * engine counts (`fleet.count_local_engine`, or no seedbox configured: then the local engine
 * is the only place a copy can be).
 */
export type TorrentHealth = 'ok' | 'degraded' | 'lost'

export const TORRENT_HEALTH: readonly TorrentHealth[] = ['ok', 'degraded', 'lost']

/** `aa_currently_seeding`: seen seeding by the local engine or a seedbox within this long. */
export const CURRENTLY_SEEDING_MS = 7 * 86_400_000

export function verdict(counted: number, target: number): TorrentHealth {
  return counted >= target ? 'ok' : counted > 0 ? 'degraded' : 'lost'
}

/** A seedbox's stored copy. */
export interface CopyInput {
  seedbox: string
  infohash: string
  state: CopyState
  /** The daemon's error kind (Transmission's tr_stat_errtype: 1, 2 tracker; 3 local) and text. */
  error: number
  errorString: string
  /** The daemon's own word for the state (`stalledUP`, `Seeding`, `6`, ...), shown beside `state`. */
  nativeState?: string
  /** When the copy was last written seeding (the row is current as of its seedbox's `lastSeenAt`). */
  lastSeedingAt: string | null
}

/** The local engine's stored copy (engine_torrents). */
export interface LocalCopyInput {
  state: CopyState
  error: string | null
  lastSeedingAt: string | null
}

export interface HealthSeedboxInput {
  name: string
  status: SeedboxStatus
  lastSeenAt: string | null
}

export interface HealthTorrentInput {
  infohash: string
  name: string
  /** `other`: an opaque torrent (not an AAC release) from an upstream list. */
  kind: 'meta' | 'data' | 'other'
  collection: string
  /** N: copies wanted (src/fleet/placement.ts `replicasFor`). */
  target: number
}

export interface SwarmInput {
  seeders: number
  leechers: number
  completed: number
  /** ISO 8601 of the newest scrape the figures come from. */
  scrapedAt: string
}

export interface HealthInput {
  torrents: readonly HealthTorrentInput[]
  /** The configured seedboxes; copies on any other count for nothing and are not shown. */
  seedboxes: readonly HealthSeedboxInput[]
  copies: readonly CopyInput[]
  /** The local engine's copies, by infohash. */
  local: ReadonlyMap<string, LocalCopyInput>
  /** `fleet.count_local_engine`. */
  countLocalEngine: boolean
  /** The latest scrape per torrent. */
  swarm: ReadonlyMap<string, SwarmInput>
  now: Date
}

export interface Copy {
  /** `local`, or the seedbox's name. */
  holder: string
  local: boolean
  state: CopyState
  /** The client's own word for the state, where a daemon said it (null for the local engine). */
  native: string | null
  /** Counted towards the target. */
  counted: boolean
  /** The client's error or warning text, or null. */
  error: string | null
}

export interface CopyError {
  /** The seedbox's name, or `local`. */
  seedbox: string
  /** `local`: the copy cannot serve (missing data...); `tracker`: a tracker's warning or error. */
  kind: 'local' | 'tracker'
  message: string
}

export interface SwarmReport {
  seeders: number
  leechers: number
  completed: number
  /** `YYYY-MM-DDTHH:MM:SS` UTC, no zone: the published list's format. */
  scrapedAt: string
}

export interface TorrentHealthReport {
  infohash: string
  name: string
  /** `other`: an opaque torrent (not an AAC release) from an upstream list. */
  kind: 'meta' | 'data' | 'other'
  collection: string
  target: number
  /** Every copy known: the local engine's first, then the configured seedboxes' by name. */
  copies: Copy[]
  /** Copies counted towards the target. */
  complete: number
  /** Seedboxes whose copy counts. */
  holders: string[]
  /** The local engine's copy counts. */
  local: boolean
  /** Copies downloading or checking (on any configured seedbox, or here). */
  downloading: number
  errors: CopyError[]
  health: TorrentHealth
  /** The latest scrape's figures, or null when never scraped. */
  swarm: SwarmReport | null
  /** Last seen seeding here or on a configured seedbox (ISO 8601), or null. */
  lastSeedingAt: string | null
  /** Seen seeding within `CURRENTLY_SEEDING_MS`: the list's `aa_currently_seeding`. */
  currentlySeeding: boolean
}

/** Whether the local engine's copy counts towards N: configured, or the only place a copy can be. */
export function countsLocalEngine(countLocalEngine: boolean, seedboxes: number): boolean {
  return countLocalEngine || seedboxes === 0
}

const latest = (a: string | null, b: string | null): string | null =>
  a === null || (b !== null && b > a) ? b : a

/** Each torrent's copies, health and swarm figures: the one answer every view shows. */
export function torrentHealth(input: HealthInput): TorrentHealthReport[] {
  const boxes = new Map(input.seedboxes.map((s) => [s.name, s]))
  const countLocal = countsLocalEngine(input.countLocalEngine, input.seedboxes.length)
  const byHash = new Map<string, CopyInput[]>()
  for (const c of input.copies) {
    if (!boxes.has(c.seedbox)) continue
    const list = byHash.get(c.infohash)
    if (list) list.push(c)
    else byHash.set(c.infohash, [c])
  }
  const nowMs = input.now.getTime()
  return input.torrents.map((t) => {
    const copies: Copy[] = []
    const errors: CopyError[] = []
    let lastSeedingAt: string | null = null
    const local = input.local.get(t.infohash)
    if (local) {
      copies.push({
        holder: 'local',
        local: true,
        state: local.state,
        native: null,
        counted: countLocal && local.state === 'seeding',
        error: local.error,
      })
      if (isFailedCopy(local.state))
        errors.push({
          seedbox: 'local',
          kind: 'local',
          message: local.error ?? `the local engine reports ${local.state}`,
        })
      lastSeedingAt = latest(lastSeedingAt, local.lastSeedingAt)
    }
    const seedboxCopies = (byHash.get(t.infohash) ?? []).sort((a, b) => (a.seedbox < b.seedbox ? -1 : 1))
    for (const c of seedboxCopies) {
      const box = boxes.get(c.seedbox)!
      copies.push({
        holder: c.seedbox,
        local: false,
        state: c.state,
        native: c.nativeState || null,
        counted: c.state === 'seeding' && holdsPlacements(box.status),
        error: c.errorString || (c.error !== 0 ? `error ${c.error}` : null),
      })
      const isLocal = isFailedCopy(c.state)
      if (isLocal || c.error !== 0) {
        errors.push({
          seedbox: c.seedbox,
          kind: isLocal ? 'local' : 'tracker',
          message: c.errorString || (isLocal ? `the daemon reports ${c.state}` : `tracker error ${c.error}`),
        })
      }
      // A copy row is current as of its seedbox's last answered poll (unchanged rows are not rewritten).
      lastSeedingAt = latest(
        lastSeedingAt,
        c.state === 'seeding' ? (box.lastSeenAt ?? c.lastSeedingAt) : c.lastSeedingAt,
      )
    }
    const counted = copies.filter((c) => c.counted)
    const s = input.swarm.get(t.infohash)
    return {
      infohash: t.infohash,
      name: t.name,
      kind: t.kind,
      collection: t.collection,
      target: t.target,
      copies,
      complete: counted.length,
      holders: counted.filter((c) => !c.local).map((c) => c.holder),
      local: counted.some((c) => c.local),
      downloading: copies.filter((c) => c.state === 'downloading' || c.state === 'checking').length,
      errors,
      health: verdict(counted.length, t.target),
      swarm: s
        ? {
            seeders: s.seeders,
            leechers: s.leechers,
            completed: s.completed,
            scrapedAt: s.scrapedAt.slice(0, 19),
          }
        : null,
      lastSeedingAt,
      currentlySeeding: lastSeedingAt !== null && nowMs - Date.parse(lastSeedingAt) <= CURRENTLY_SEEDING_MS,
    }
  })
}

export interface HealthCounts {
  ok: number
  degraded: number
  lost: number
}

export function countHealth(reports: readonly Pick<TorrentHealthReport, 'health'>[]): HealthCounts {
  const out: HealthCounts = { ok: 0, degraded: 0, lost: 0 }
  for (const r of reports) out[r.health]++
  return out
}
