/**
 * What coverage needs from outside the local catalog, as plain data: how many complete copies
 * the fleet's seedboxes hold of each torrent, what the public swarm reported for it, each
 * seedbox's state, and the releases an upstream list knows of. The fleet (src/fleet), swarm
 * scraping and mirror sync provide these by implementing `CoverageInputs`; coverage never reads
 * their tables. `fleetCoverageInputs` adapts the fleet's summary; `NO_EXTERNAL_INPUTS` reports
 * nothing (the fleet and swarm levels then read zero).
 */

/** A torrent's state across the fleet: `ok` at the target number of copies, `degraded` below it, `lost` at none. */
export type TorrentHealth = 'ok' | 'degraded' | 'lost'

export const TORRENT_HEALTH: readonly TorrentHealth[] = ['ok', 'degraded', 'lost']

export interface FleetTorrentFigures {
  /** Seedboxes holding a complete, verified copy. */
  copies: number
  /** This torrent's own N when it differs from `copiesTarget` (per kind or collection). */
  target?: number
  /** The fleet's own verdict, when it has one; otherwise coverage derives it from `copies`. */
  health?: TorrentHealth
}

export interface SwarmTorrentFigures {
  seeders: number
  leechers: number
  completed: number
  /** `YYYY-MM-DDTHH:MM:SS` UTC, as in the published list, or null. */
  scrapedAt: string | null
}

export interface SeedboxFigures {
  name: string
  up: boolean
  /** Free space where the seedbox keeps data, or null when unknown. */
  freeBytes: number | null
  torrents: number
  /** Torrents the seedbox reports in error. */
  errors: number
  /** ISO 8601, or null when never reached. */
  lastSeenAt: string | null
  /** Why the seedbox is down, when it is. */
  error: string | null
}

/** A release an upstream list (e.g. Anna's Archive's torrent list) knows of. */
export interface UpstreamRelease {
  name: string
  kind: 'meta' | 'data'
  collection: string
  /** Range ends as `YYYYMMDDTHHMMSSZ` and as Unix seconds. */
  from: string
  to: string
  fromS: number
  toS: number
  bytes: number | null
}

export interface ExternalFigures {
  /** N: the number of seedboxes each torrent should be on (the fleet's target). */
  copiesTarget: number
  /** By infohash (40 lowercase hex). A torrent absent here is one the fleet does not report. */
  fleet: ReadonlyMap<string, FleetTorrentFigures>
  /** By infohash. Absent: never scraped. */
  swarm: ReadonlyMap<string, SwarmTorrentFigures>
  seedboxes: readonly SeedboxFigures[]
  upstream: readonly UpstreamRelease[]
}

/**
 * The seam other capabilities fill. `read()` is called when coverage is recomputed (after a
 * job changed the database), so it may query SQLite synchronously but should stay cheap.
 */
export interface CoverageInputs {
  read(): ExternalFigures
}

/** Until the fleet supplies its own target (its default `fleet.replicas`). */
export const DEFAULT_COPIES_TARGET = 2

export const NO_EXTERNAL_INPUTS: CoverageInputs = {
  read: () => ({
    copiesTarget: DEFAULT_COPIES_TARGET,
    fleet: new Map(),
    swarm: new Map(),
    seedboxes: [],
    upstream: [],
  }),
}

/**
 * The inputs from the fleet's own summary (`Fleet.figures()` in src/fleet: its stored polls
 * and scrapes; nothing is contacted) and the mirror's stored upstream lists. With no seedbox
 * configured there is no fleet to hold copies: its per-torrent figures are left out (they
 * would read "lost" for every torrent) and the local engine counts as the one copy; swarm
 * figures come from scrapes either way.
 */
export function fleetCoverageInputs(
  fleet: { figures(): Omit<ExternalFigures, 'upstream'> },
  hasSeedboxes: boolean,
  upstream: () => readonly UpstreamRelease[] = () => [],
): CoverageInputs {
  return {
    read() {
      const f = fleet.figures()
      return {
        copiesTarget: f.copiesTarget,
        fleet: hasSeedboxes ? f.fleet : new Map(),
        swarm: f.swarm,
        seedboxes: f.seedboxes,
        upstream: upstream(),
      }
    },
  }
}
