/** The mirror at a glance, for the HTTP API and /metrics (edge: reads SQLite; shows no secret). */
import type { Db } from '../db/index.js'
import { displayLocation } from './fetch.js'
import { MirrorStore, type DownloadState } from './store.js'

export const DOWNLOAD_STATES: readonly DownloadState[] = [
  'queued',
  'downloading',
  'verifying',
  'placed',
  'done',
  'rejected',
]

export interface MirrorSummary {
  sources: Array<{
    name: string
    location: string
    fetched_at: string | null
    ok_at: string | null
    ok: boolean
    error: string | null
    offered: number
    rejected: number
  }>
  downloads: Record<DownloadState, number>
  /** Every download not done, newest change first. */
  pending: Array<{
    btih: string
    name: string
    state: DownloadState
    total_size: number | null
    attempts: number
    next_attempt_at: string | null
    error_code: string | null
    error: string | null
    updated_at: string
  }>
}

export function mirrorSummary(db: Db): MirrorSummary {
  const store = new MirrorStore(db)
  const rows = store.downloads()
  const downloads = Object.fromEntries(DOWNLOAD_STATES.map((s) => [s, 0])) as Record<DownloadState, number>
  for (const d of rows) downloads[d.state]++
  return {
    sources: store.sources().map((s) => ({
      name: s.name,
      location: displayLocation(s.location),
      fetched_at: s.fetchedAt,
      ok_at: s.okAt,
      ok: s.error === null && s.okAt !== null,
      error: s.error,
      offered: s.offered,
      rejected: s.rejected,
    })),
    downloads,
    pending: rows
      .filter((d) => d.state !== 'done')
      .sort((a, b) => (a.updatedAt < b.updatedAt ? 1 : a.updatedAt > b.updatedAt ? -1 : 0))
      .map((d) => ({
        btih: d.btih,
        name: d.name,
        state: d.state,
        total_size: d.totalSize,
        attempts: d.attempts,
        next_attempt_at: d.nextAttemptAt,
        error_code: d.errorCode,
        error: d.error,
        updated_at: d.updatedAt,
      })),
  }
}
