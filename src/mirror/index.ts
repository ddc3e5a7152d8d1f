export { MirrorError, type MirrorErrorCode } from './errors.js'
export {
  parseTorrentList,
  magnetInfoHash,
  releaseOfTorrentName,
  type UpstreamTorrent,
  type OpaqueTorrent,
  type Rejection,
  type ParsedList,
  type ListContext,
} from './list.js'
export { checkUpstreamTorrent, checkOpaqueTorrent } from './check.js'
export { parseListDate } from './dates.js'
export { fetchBytes, displayLocation, type FetchOptions } from './fetch.js'
export {
  readSource,
  sourceLocation,
  storingUpstreamList,
  type SourceConfig,
  type MirrorConfig,
} from './sources.js'
export {
  MirrorStore,
  type DownloadRow,
  type DownloadState,
  type SourceRow,
  type StoredUpstream,
  type StoredOpaque,
} from './store.js'
export {
  MirrorSync,
  mirrorRoot,
  followedBy,
  type MirrorDeps,
  type SyncOptions,
  type SyncReport,
  type SourceReport,
  type DeferReason,
} from './sync.js'
export {
  planSeeding,
  globMatcher,
  planFollows,
  type PlanCandidate,
  type PlanOptions,
  type SeedPlan,
  type PlannedTorrent,
  type SkipReason,
} from './plan.js'
export { heldHere, planCandidates, scrapeCandidates, upstreamReleases } from './candidates.js'
export { applyPlanLocally, applyPlanToFleet, type ApplyPlanReport } from './apply.js'
export { mirrorSummary, type MirrorSummary } from './summary.js'
export { groupInputs, readGroupCoverage } from './groups.js'
