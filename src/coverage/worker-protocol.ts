/**
 * What the coverage worker (./worker.ts) and the cache (./cache.ts) exchange, and how a report is
 * cut into slices and put together again.
 */
import type { GroupCoverage } from './groups.js'
import type { CoverageReport } from './model.js'

/** Where the worker finds its `CoverageInputs`: `(await import(module))[name](db, arg)`. */
export interface InputsFactorySpec {
  /** A file: URL or absolute path of an ES module. */
  module: string
  name: string
  /** Structured-cloneable (e.g. the parsed config). */
  arg?: unknown
}

export interface CoverageWorkerData {
  dbPath: string
  inputs: InputsFactorySpec | null
  /** A function `(db, arg) => GroupCoverage[]` computed with each report; absent: none. */
  groups?: InputsFactorySpec | null
  /**
   * No report yet: requests are waiting for this one, so the thread lowers its priority only
   * after it (see worker.ts `lowerThreadPriority`).
   */
  first?: boolean
}

/** Main thread to worker. */
export type ToWorker = { type: 'compute'; generation: number; computedAt: string } | { type: 'next' }

/** The report without its long arrays; the slices fill them in. */
export interface ReportSkeleton extends Omit<CoverageReport, 'torrents' | 'collections'> {
  collections: Array<Omit<CoverageReport['collections'][number], 'items'> & { items: [] }>
  torrents: []
}

/** Worker to main thread. */
export type FromWorker =
  | {
      type: 'begin'
      generation: number
      computeMs: number
      reread: string[]
      skeleton: ReportSkeleton
      slices: number
      /** Bodies serialized ahead: the summary of /api/coverage (JSON) and /api/timeline (gzipped JSON). */
      summary: Uint8Array
      timelineGzip: Uint8Array
      /** Coverage per upstream group, when the worker was given a `groups` function. */
      groups?: GroupCoverage[]
    }
  | { type: 'slice'; target: number; values: unknown[] }
  | { type: 'failed'; generation: number; message: string }

/** Slices of the report's long arrays: `target` -1 is `torrents`, i ≥ 0 is `collections[i].items`. */
export const SLICE = 500

export function reportSlices(report: CoverageReport): Array<{ target: number; values: unknown[] }> {
  const out: Array<{ target: number; values: unknown[] }> = []
  const cut = (target: number, list: readonly unknown[]): void => {
    for (let i = 0; i < list.length; i += SLICE) out.push({ target, values: list.slice(i, i + SLICE) })
  }
  report.collections.forEach((c, i) => cut(i, c.items))
  cut(-1, report.torrents)
  return out
}

export function reportSkeleton(report: CoverageReport): ReportSkeleton {
  return {
    ...report,
    collections: report.collections.map((c) => ({ ...c, items: [] })),
    torrents: [],
  }
}

/** The inverse of `reportSkeleton` + `reportSlices`, applied slice by slice. */
export function applySlice(skeleton: ReportSkeleton, slice: { target: number; values: unknown[] }): void {
  const list: unknown[] = slice.target < 0 ? skeleton.torrents : skeleton.collections[slice.target]!.items
  for (const v of slice.values) list.push(v)
}
