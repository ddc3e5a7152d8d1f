/**
 * What coverage needs from outside the local catalog, as plain data: how many complete copies
 * the fleet's seedboxes hold of each torrent, what the public swarm reported for it, each
 * seedbox's state, and the releases an upstream list knows of. The fleet (src/fleet), swarm
 * scraping and mirror sync provide these by implementing `CoverageInputs`; coverage never reads
 * their tables. `fleetCoverageInputs` adapts the health state; `NO_EXTERNAL_INPUTS` reports
 * nothing (every torrent then reads lost, and the fleet and swarm levels zero).
 */

import type { TorrentHealth } from '../fleet/health.js'

export { TORRENT_HEALTH, type TorrentHealth } from '../fleet/health.js'

/** A torrent's copies and verdict, as the one health model (src/fleet/health.ts) decided them. */
export interface FleetTorrentFigures {
  /** Copies counted towards the target (seedboxes', and the local engine's where it counts). */
  copies: number
  /** Complete copies on seedboxes that hold placements. */
  seedboxCopies: number
  /** This torrent's N (per kind or collection). */
  target: number
  health: TorrentHealth
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

/** An AAC release as a list names it: a metadata file or data folder, its collection and range. */
export interface ReleaseSpan {
  /** The metadata file or data folder name (the .torrent is `<name>.torrent`). */
  name: string
  kind: 'meta' | 'data'
  collection: string
  /** Range ends as `YYYYMMDDTHHMMSSZ` and as Unix seconds. */
  from: string
  to: string
  fromS: number
  toS: number
}

/** A release an upstream list (e.g. Anna's Archive's torrent list) knows of. */
export interface UpstreamRelease extends ReleaseSpan {
  bytes: number | null
}

export interface ExternalFigures {
  /** N: the number of seedboxes each torrent should be on (the fleet's target). */
  copiesTarget: number
  /**
   * By infohash (40 lowercase hex): every torrent's health. One absent here (made after the
   * health state was read) has no copy counted: `lost`.
   */
  fleet: ReadonlyMap<string, FleetTorrentFigures>
  /** By infohash. Absent: never scraped. */
  swarm: ReadonlyMap<string, SwarmTorrentFigures>
  seedboxes: readonly SeedboxFigures[]
  /**
   * Each release the upstream lists name, once per name (the first source's). Iterated twice at
   * most per report, so it may be a stream read again from the database (a million releases
   * are never held at once: src/mirror/candidates.ts `upstreamReleases`).
   */
  upstream: Iterable<UpstreamRelease>
}

/**
 * The seam other capabilities fill. `read()` is called when coverage is recomputed (after a
 * job changed the database), so it may query SQLite synchronously but should stay cheap.
 */
export interface CoverageInputs {
  read(): ExternalFigures
}

/** `fleet.replicas`' default, for inputs that report no fleet. */
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
 * The inputs from the health state (src/fleet/status.ts `readHealth` and `coverageFigures`:
 * stored polls, the local engine's report and scrapes; nothing is contacted) and the mirror's
 * stored upstream lists. Coverage takes each torrent's copies and verdict as they are: it never
 * counts copies itself.
 */
export function fleetCoverageInputs(
  figures: () => Omit<ExternalFigures, 'upstream'>,
  upstream: () => Iterable<UpstreamRelease> = () => [],
): CoverageInputs {
  return { read: () => ({ ...figures(), upstream: upstream() }) }
}
