export {
  scan,
  scanSettings,
  DEFAULT_IGNORE,
  MIRROR_WORK_DIR,
  type ScanOptions,
  type ScanReport,
  type ScanProgress,
  type ScanStats,
} from './scan.js'
export { getRecord } from './get.js'
export { ProblemQueries, type ProblemFilter, type ProblemRow } from './problems.js'
export { CatalogStore, type CatalogRelease, type CatalogTotals, type StoredProblem } from './store.js'
export {
  writeSampleRelease,
  writeLargeMetaFile,
  encodeMetaFile,
  seekTableFrame,
  DEMO_COLLECTIONS,
  prng,
  zlibMetadata,
  type SampleCollection,
  type SampleSummary,
} from './sample.js'
