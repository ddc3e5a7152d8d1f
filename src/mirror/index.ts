export { MirrorError, type MirrorErrorCode } from './errors.js'
export {
  parseTorrentList,
  magnetInfoHash,
  releaseOfTorrentName,
  type UpstreamTorrent,
  type Rejection,
  type ParsedList,
  type ListContext,
} from './list.js'
export { checkUpstreamTorrent } from './check.js'
export { fetchBytes, displayLocation, type FetchOptions } from './fetch.js'
export { readSource, sourceLocation, type SourceConfig, type MirrorConfig } from './sources.js'
export {
  MirrorStore,
  type DownloadRow,
  type DownloadState,
  type SourceRow,
  type StoredUpstream,
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
  type PlanCandidate,
  type PlanOptions,
  type SeedPlan,
  type PlannedTorrent,
  type SkipReason,
} from './plan.js'
export { planCandidates, scrapeCandidates, upstreamReleases } from './candidates.js'
export { applyPlanLocally, applyPlanToFleet, type ApplyPlanReport } from './apply.js'
export { mirrorSummary, type MirrorSummary } from './summary.js'
