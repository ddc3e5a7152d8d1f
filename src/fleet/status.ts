/**
 * The fleet's state as every view reads it: `readHealth` reads the stored polls, the local
 * engine's report, the placements and the scrapes (through their owners' stores) and hands them
 * to the one health function (health.ts `torrentHealth`). Nothing is contacted, and no seedbox
 * client is built: `coverage`, `health` and the API call this without a seedbox's secret.
 */
import type { Config } from '../config/index.js'
import type { Db } from '../db/index.js'
import { EngineStatusStore } from '../engines/status.js'
import { redactUrl } from '../log/redact.js'
import { TorrentStore } from '../torrents/store.js'
import {
  countHealth,
  countsLocalEngine,
  seedboxStatus,
  torrentHealth,
  type HealthCounts,
  type LocalCopyInput,
  type SeedboxStatus,
  type TorrentHealthReport,
} from './health.js'
import { replicasFor, type ReplicationRules } from './placement.js'
import { FleetStore, type FleetTorrent, type SeedboxRow } from './store.js'

export type FleetConfig = Config['fleet']
type SeedboxConfig = FleetConfig['seedboxes'][number]

export interface SeedboxView {
  name: string
  /** The daemon it runs (config `kind`). */
  kind: SeedboxConfig['kind']
  url: string
  tags: string[]
  status: SeedboxStatus
  lastSeenAt: string | null
  lastPolledAt: string | null
  failingSince: string | null
  latencyMs: number | null
  freeBytes: number | null
  reserveBytes: number
  capacityBytes: number
  torrents: number
  errors: number
  /** Torrents the last plan put on it. */
  planned: number
  error: { code: string; message: string } | null
  version: string | null
}

/** What every view shows: the seedboxes, and each torrent's copies, target, health and swarm figures. */
export interface HealthState {
  at: string
  /** `fleet.replicas`: the default N. */
  replicas: number
  /** The local engine's seeding copy counts towards N (`count_local_engine`, or no seedbox configured). */
  localCounts: boolean
  seedboxes: SeedboxView[]
  torrents: TorrentHealthReport[]
  counts: HealthCounts
}

export function replicationRules(config: FleetConfig): ReplicationRules {
  return {
    replicas: config.replicas,
    byKind: config.replicas_by_kind,
    byCollection: config.replicas_by_collection,
  }
}

/**
 * Every torrent the fleet keeps: those aacseed made, then those a seed plan gave it (which it downloads from
 * the swarm).
 */
export function fleetTorrents(db: Db, store = new FleetStore(db)): FleetTorrent[] {
  const made = madeTorrents(db)
  const known = new Set(made.map((t) => t.infohash))
  return [...made, ...store.externalTorrents().filter((t) => !known.has(t.infohash))]
}

/**
 * The torrents aacseed made, as `fleetTorrents` reads them: read again only when the table moved
 * (`TorrentStore.signature`, the change detector coverage's own source uses for the same rows).
 * Coverage asks for the fleet's health with every report it makes, every few seconds while
 * serve starts over 10,000 torrents, and reading all 10,000 rows each time was the largest part
 * of its worker's CPU there (bench:seed's scale phase, #14 §4), on the core serve's main thread
 * shares with everything else. The rows are shared: read them, never change them.
 */
const madeRows = new WeakMap<Db, { signature: string; rows: readonly FleetTorrent[] }>()

function madeTorrents(db: Db): readonly FleetTorrent[] {
  const torrents = new TorrentStore(db)
  const signature = torrents.signature()
  const cached = madeRows.get(db)
  if (cached?.signature === signature) return cached.rows
  const rows = torrents.all()
  madeRows.set(db, { signature, rows })
  return rows
}

/** The configured seedboxes as the stored polls see them now. */
export function seedboxViews(
  db: Db,
  config: FleetConfig,
  now: Date,
  store = new FleetStore(db),
): SeedboxView[] {
  const rows = new Map(store.seedboxes().map((r) => [r.name, r]))
  const planned = new Map<string, number>()
  for (const names of store.placements().values())
    for (const n of names) planned.set(n, (planned.get(n) ?? 0) + 1)
  return config.seedboxes.map((s) =>
    view(s, rows.get(s.name), now, config.down_after_s * 1000, planned.get(s.name) ?? 0),
  )
}

/** The local engine's copies from its last report (engine_torrents). */
export function localCopies(db: Db): Map<string, LocalCopyInput> {
  return new Map(
    new EngineStatusStore(db)
      .copies()
      .map((c) => [c.infohash, { state: c.state, error: c.error, lastSeedingAt: c.lastSeedingAt }]),
  )
}

/**
 * The one answer, from the database, in one read transaction (figures of one moment even while a poll
 * writes).
 */
export function readHealth(db: Db, config: Config, now = new Date()): HealthState {
  return db
    .transaction((): HealthState => {
      const fleet = config.fleet
      const store = new FleetStore(db)
      const views = seedboxViews(db, fleet, now, store)
      const rules = replicationRules(fleet)
      const configured = new Set(fleet.seedboxes.map((s) => s.name))
      const torrents = torrentHealth({
        torrents: fleetTorrents(db, store).map((t) => ({
          infohash: t.infohash,
          name: t.name,
          kind: t.kind,
          collection: t.collection,
          target: replicasFor(rules, t),
        })),
        seedboxes: views.map((v) => ({ name: v.name, status: v.status, lastSeenAt: v.lastSeenAt })),
        copies: store.copies().filter((c) => configured.has(c.seedbox)),
        local: localCopies(db),
        countLocalEngine: fleet.count_local_engine,
        swarm: store.latestSwarm(),
        now,
      })
      return {
        at: now.toISOString(),
        replicas: fleet.replicas,
        localCounts: countsLocalEngine(fleet.count_local_engine, fleet.seedboxes.length),
        seedboxes: views,
        torrents,
        counts: countHealth(torrents),
      }
    })
    .deferred()
}

/**
 * The health state as coverage reads it (src/coverage/inputs.ts `ExternalFigures` without the
 * upstream releases): per torrent the copies counted, those on seedboxes, the target and the
 * verdict; the swarm figures; each seedbox's state.
 */
export function coverageFigures(s: HealthState): {
  copiesTarget: number
  fleet: Map<
    string,
    { copies: number; seedboxCopies: number; target: number; health: TorrentHealthReport['health'] }
  >
  swarm: Map<string, { seeders: number; leechers: number; completed: number; scrapedAt: string | null }>
  seedboxes: Array<{
    name: string
    up: boolean
    freeBytes: number | null
    torrents: number
    errors: number
    lastSeenAt: string | null
    error: string | null
  }>
} {
  return {
    copiesTarget: s.replicas,
    fleet: new Map(
      s.torrents.map((t) => [
        t.infohash,
        { copies: t.complete, seedboxCopies: t.holders.length, target: t.target, health: t.health },
      ]),
    ),
    swarm: new Map(s.torrents.flatMap((t) => (t.swarm ? [[t.infohash, t.swarm] as const] : []))),
    seedboxes: s.seedboxes.map((b) => ({
      name: b.name,
      up: b.status === 'up',
      freeBytes: b.freeBytes,
      torrents: b.torrents,
      errors: b.errors,
      lastSeenAt: b.lastSeenAt,
      error: b.error ? `${b.error.code}: ${b.error.message}` : null,
    })),
  }
}

function view(
  s: SeedboxConfig,
  row: SeedboxRow | undefined,
  now: Date,
  graceMs: number,
  planned: number,
): SeedboxView {
  const status = seedboxStatus(
    { lastSeenAt: row?.lastSeenAt ?? null, failingSince: row?.failingSince ?? null },
    now,
    graceMs,
  )
  return {
    name: s.name,
    kind: s.kind,
    url: row?.url ?? redactUrl(s.url),
    tags: s.tags,
    status,
    lastSeenAt: row?.lastSeenAt ?? null,
    lastPolledAt: row?.lastPolledAt ?? null,
    failingSince: row?.failingSince ?? null,
    latencyMs:
      row?.latencyMs === null || row?.latencyMs === undefined ? null : Math.round(row.latencyMs * 10) / 10,
    freeBytes: row?.freeBytes ?? null,
    reserveBytes: s.reserve_bytes,
    capacityBytes: s.capacity_bytes,
    torrents: row?.torrents ?? 0,
    errors: row?.errors ?? 0,
    planned,
    error: row?.errorCode ? { code: row.errorCode, message: row.error ?? '' } : null,
    version: row?.version ?? null,
  }
}
