/**
 * The JSON answers of the HTTP API, typed once. The server builds them (the coverage ones in
 * src/coverage/json.ts), and the dashboard's script (dashboard/client.ts) reads them through
 * these types. Type-only: nothing here reaches the browser.
 */
import type { groupCoverageJson } from '../coverage/index.js'
import type { ProblemRow } from '../catalog/problems.js'
import type { coverageJson, timelineJson, torrentJson } from '../coverage/json.js'
import type { MirrorSummary } from '../mirror/summary.js'
import type { runJson } from './jobs.js'

/** GET /api/coverage (the API always names the generation and when it was computed). */
export type CoverageResponse = ReturnType<typeof coverageJson> & { generation: number; computed_at: string }
/** GET /api/timeline */
export type TimelineResponse = ReturnType<typeof timelineJson> & { generation: number }
export type TorrentItem = ReturnType<typeof torrentJson>

/** GET /api/torrents */
export interface TorrentsResponse {
  generation: number
  total: number
  limit: number
  offset: number
  items: TorrentItem[]
}

export interface SeedboxItem {
  name: string
  up: boolean
  free_bytes: number | null
  torrents: number
  errors: number
  last_seen_at: string | null
  error: string | null
}

/** GET /api/seedboxes */
export interface SeedboxesResponse {
  generation: number
  copies_target: number
  seedboxes: SeedboxItem[]
}

/** GET /api/mirror */
export type MirrorResponse = MirrorSummary

/** GET /api/groups */
export type GroupsResponse = ReturnType<typeof groupCoverageJson>

export type RunItem = ReturnType<typeof runJson>

/** GET /api/jobs */
export interface JobsResponse {
  jobs: Array<{ name: string; schedule: string; running: boolean; last_run: RunItem | null }>
  running: string[]
  runs: RunItem[]
}

/** GET /api/problems */
export interface ProblemsResponse {
  total: number
  limit: number
  offset: number
  by_code: Record<string, number>
  items: ProblemRow[]
}

/** GET /healthz */
export interface HealthzResponse {
  status: 'ok' | 'unhealthy'
  version: string
  database: { ok: boolean; error?: string }
  engine: { ok: boolean; kind: string; error?: string } | null
  /**
   * From the current coverage report (the one /api/torrents and /metrics read); null before the
   * first one. `problems` counts the torrents whose engine state is error or missing;
   * `first_problems` names at most `HEALTHZ_PROBLEMS` of them, whatever the number of torrents.
   */
  torrents: {
    /** When that report was computed: a probe reads the last one and never starts another. */
    computed_at: string
    total: number
    states: Record<string, number>
    problems: number
    first_problems: Array<{ name: string; infohash: string; engine_state: string }>
  } | null
}
