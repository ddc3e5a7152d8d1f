/**
 * Coverage: how well each stretch of every collection's AACID timeline is kept, from held here
 * to on N seedboxes and in the public swarm. Pure model (`computeCoverage`), its database reader,
 * a cache invalidated by database changes, the seam for fleet/swarm/upstream figures
 * (`CoverageInputs`), and the terminal format of `aacseed coverage`.
 */
export {
  groupCoverage,
  groupCoverageJson,
  type GroupCoverage,
  type GroupFigure,
  type GroupTorrentInput,
} from './groups.js'
export {
  computeCoverage,
  LIST_LIMIT,
  swarmBucket,
  LEVELS,
  LEVEL_KEYS,
  SWARM_BUCKETS,
  TIMELINE_STATES,
  type BucketFigures,
  type CatalogReleaseInput,
  type CollectionCoverage,
  type CollectionTotals,
  type CoverageData,
  type CoverageItem,
  type CoverageReport,
  type CoverageTotals,
  type EngineTorrentInput,
  type Gap,
  type LevelFigures,
  type LevelInfo,
  type LevelKey,
  type Overlap,
  type OverlapCheck,
  type OverlapProblemInput,
  type ReleaseKind,
  type SummaryLevelFigures,
  type SwarmBucket,
  type TimelineState,
  type TorrentCoverage,
  type TorrentInput,
} from './model.js'
export {
  DEFAULT_COPIES_TARGET,
  NO_EXTERNAL_INPUTS,
  fleetCoverageInputs,
  TORRENT_HEALTH,
  type CoverageInputs,
  type ExternalFigures,
  type FleetTorrentFigures,
  type SeedboxFigures,
  type SwarmTorrentFigures,
  type TorrentHealth,
  type ReleaseSpan,
  type UpstreamRelease,
} from './inputs.js'
export {
  gapsBetween,
  mergeSpans,
  overlappingPairs,
  spanSeconds,
  totalSeconds,
  intersect,
  type Span,
} from './intervals.js'
export { readCoverageData, CoverageSource } from './source.js'
export {
  CoverageCache,
  type CoverageCacheOptions,
  type CoverageSnapshot,
  type CoverageWorkerOptions,
} from './cache.js'
export type { InputsFactorySpec } from './worker-protocol.js'
export {
  formatBytes,
  formatCollectionCoverage,
  formatCoverageOverview,
  formatDuration,
  formatRatio,
  levelLabel,
} from './format.js'
export {
  coverageJson,
  collectionJson,
  torrentJson,
  timelineJson,
  TIMELINE_COLUMNS,
  type CollectionJson,
  type CoverageJsonOptions,
} from './json.js'
