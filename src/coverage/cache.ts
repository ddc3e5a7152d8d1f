/**
 * Keeps one computed coverage report and recomputes it only when the database changed.
 *
 * Change detection: SQLite's `PRAGMA data_version` on the reading connection changes whenever
 * another connection commits, so every job of `aacseed serve` (they write through the service's
 * own connection, and each finished run is a commit to `job_runs`) and every CLI run in another
 * process invalidates the report. `invalidate()` is for writes made through the same connection
 * (tests) and for inputs that live outside the database. While a long scan commits every few
 * seconds, recomputation is limited to once per `minIntervalMs`; readers get the previous report
 * meanwhile. The data version itself is read at most every `checkIntervalMs`. Each recomputation gets the
 * next `generation`, which the HTTP layer uses for ETags
 * and its own caches.
 */
import type { Db } from '../db/index.js'
import type { CoverageInputs } from './inputs.js'
import { computeCoverage, type CoverageReport } from './model.js'
import { CoverageSource } from './source.js'

export interface CoverageSnapshot {
  generation: number
  computedAt: string
  /** Milliseconds the last recomputation took (reading and computing). */
  computeMs: number
  /** The database parts read again for it (catalog, torrents, engine); the rest was unchanged. */
  reread: string[]
  report: CoverageReport
}

export interface CoverageCacheOptions {
  db: Db
  inputs: CoverageInputs
  /** Shortest time between two recomputations (default 2000 ms). */
  minIntervalMs?: number
  /** Shortest time between two looks at the database's data version (default 200 ms). */
  checkIntervalMs?: number
  /** Called after each recomputation (e.g. to refresh metrics). */
  onRecompute?: (snapshot: CoverageSnapshot) => void
  now?: () => number
}

export class CoverageCache {
  readonly #source: CoverageSource
  readonly #minIntervalMs: number
  readonly #checkIntervalMs: number
  readonly #onRecompute: ((s: CoverageSnapshot) => void) | undefined
  readonly #now: () => number
  readonly #dataVersion
  #snapshot: CoverageSnapshot | undefined
  #seenVersion = -1
  #dirty = true
  #computedAtMs = -Infinity
  #checkedAtMs = -Infinity
  #generation = 0

  constructor(opts: CoverageCacheOptions) {
    this.#source = new CoverageSource(opts.db, opts.inputs)
    this.#minIntervalMs = opts.minIntervalMs ?? 2000
    this.#checkIntervalMs = opts.checkIntervalMs ?? 200
    this.#onRecompute = opts.onRecompute
    this.#now = opts.now ?? Date.now
    this.#dataVersion = opts.db.prepare('PRAGMA data_version').pluck()
  }

  /** Marks the report stale: the next `current()` recomputes it (subject to the interval). */
  invalidate(): void {
    this.#dirty = true
  }

  /** Recomputes on the next `current()`, whatever the interval. */
  invalidateNow(): void {
    this.#dirty = true
    this.#computedAtMs = -Infinity
    this.#checkedAtMs = -Infinity
  }

  /** The current report: recomputed first when the database changed and the interval allows. */
  current(): CoverageSnapshot {
    // Asking SQLite costs tens of microseconds: a server answering thousands of requests a
    // second asks at most every `checkIntervalMs`.
    const now = this.#now()
    if (this.#snapshot && !this.#dirty && now - this.#checkedAtMs < this.#checkIntervalMs)
      return this.#snapshot
    this.#checkedAtMs = now
    const version = this.#dataVersion.get() as number
    if (version !== this.#seenVersion) this.#dirty = true
    if (this.#snapshot && (!this.#dirty || this.#now() - this.#computedAtMs < this.#minIntervalMs))
      return this.#snapshot
    this.#seenVersion = version
    this.#dirty = false
    const started = performance.now()
    const report = computeCoverage(this.#source.read())
    this.#computedAtMs = this.#now()
    this.#snapshot = {
      generation: ++this.#generation,
      computedAt: new Date(this.#computedAtMs).toISOString(),
      computeMs: Math.round(performance.now() - started),
      reread: this.#source.lastReread,
      report,
    }
    this.#onRecompute?.(this.#snapshot)
    return this.#snapshot
  }
}
