/** Scheduled jobs for `aacseed serve` and their run log (`aacseed jobs`). */
export {
  InvalidCronError,
  JobRunner,
  withProblems,
  type CountName,
  type JobDefinition,
  type JobRunnerOptions,
} from './runner.js'
export type { JobCounts, JobOutcome, JobRun, JobTrigger } from './runs.js'
export {
  Lease,
  Leases,
  LeaseHeldError,
  heldMessage,
  pidAlive,
  type LeaseInfo,
  type LeaseHolderKind,
} from './leases.js'
