/**
 * The fleet: keeps every torrent on N seedboxes (weighted rendezvous placement, capacity-aware),
 * polls their health, and scrapes the trackers for swarm figures. Others use these names only.
 */
export {
  Fleet,
  replicationRules,
  type ApplyReport,
  type FleetOptions,
  type FleetStatus,
  type PlanReport,
  type PollReport,
  type SeedboxView,
} from './fleet.js'
export { FleetError, type FleetErrorCode } from './errors.js'
export {
  countHealth,
  CURRENTLY_SEEDING_MS,
  TORRENT_HEALTH,
  torrentHealth,
  type Copy,
  type CopyState,
  type HealthCounts,
  type HealthInput,
  type SeedboxStatus,
  type TorrentHealth,
  type TorrentHealthReport,
} from './health.js'
export { coverageFigures, readHealth, type HealthState } from './status.js'
export { listFigures, publishedList, publishedListJson } from './list.js'
export {
  movedPlacements,
  planPlacement,
  replicasFor,
  type Placement,
  type PlacementInput,
} from './placement.js'
export { SeedboxClient, seedboxPasswordEnv } from './seedbox.js'
export { FleetStore } from './store.js'
export { scrapeInto, scrapeSwarm, scrapeTrackers, type ScrapeReport } from './swarm.js'
