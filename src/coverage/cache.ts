/**
 * Keeps one computed coverage report and recomputes it only when the database changed.
 *
 * Change detection: SQLite's `PRAGMA data_version` on the reading connection changes whenever
 * another connection commits, so every job of `aacseed serve` (they write through the service's
 * own connection, and each finished run is a commit to `job_runs`) and every CLI run in another
 * process invalidates the report. `invalidate()` is for writes made through the same connection
 * (tests) and for inputs that live outside the database. While a long scan commits every few
 * seconds, recomputation is limited to once per `minIntervalMs`, and to once per `costFactor`
 * times what the last one took (see `DEFAULT_COST_FACTOR`); readers get the previous report
 * meanwhile. The data version itself is read at most every `checkIntervalMs`. Each recomputation gets the
 * next `generation`, which the HTTP layer uses for ETags
 * and its own caches.
 *
 * With `worker`, recomputation runs in a worker thread (./worker.ts: the same reader and the same
 * `computeCoverage`): `current()` answers the last report at once and starts a recomputation in
 * the background; the new report replaces it, under the next generation, once it has arrived in
 * full. Until the first one has arrived, `current()` computes in process (`ready()` awaits it
 * instead). The server's event loop then never spends the recomputation's hundreds of
 * milliseconds; a change shows a moment later, as it does after the interval anyway.
 */
import { Worker } from 'node:worker_threads'
import type { Db } from '../db/index.js'
import { AacseedError } from '../errors.js'
import type { GroupCoverage } from './groups.js'
import type { CoverageInputs } from './inputs.js'
import { computeCoverage, type CoverageReport } from './model.js'
import { CoverageSource } from './source.js'
import {
  applySlice,
  type CoverageWorkerData,
  type FromWorker,
  type InputsFactorySpec,
  type ReportSkeleton,
  type ToWorker,
} from './worker-protocol.js'

export interface CoverageSnapshot {
  generation: number
  computedAt: string
  /** Milliseconds the last recomputation took (reading and computing). */
  computeMs: number
  /** The database parts read again for it (catalog, torrents, engine); the rest was unchanged. */
  reread: string[]
  report: CoverageReport
  /**
   * Bodies serialized with the report (by the worker): the /api/coverage summary and /api/timeline,
   * the latter gzipped only (over a 1,000,000-entry upstream list it is 16 MB of JSON, 2 MB
   * gzipped; a client that does not accept gzip, rare, has it inflated on demand).
   */
  bodies?: { summary: Buffer; timelineGzip: Buffer }
  /** Coverage per upstream group, computed with the report (by the worker, when given `groups`). */
  groups?: GroupCoverage[]
}

/** Recompute in a worker thread reading `dbPath`, with external figures from `inputs` (see ./worker.ts). */
export interface CoverageWorkerOptions {
  dbPath: string
  /** The factory of the worker's `CoverageInputs`; null: none (`NO_EXTERNAL_INPUTS`). */
  inputs: InputsFactorySpec | null
  /** A function `(db, arg) => GroupCoverage[]` the worker computes with each report. */
  groups?: InputsFactorySpec
}

export interface CoverageCacheOptions {
  db: Db
  inputs: CoverageInputs
  /** Shortest time between two recomputations (default 2000 ms). */
  minIntervalMs?: number
  /**
   * Shortest time between two recomputations as a multiple of what the last one took (default
   * `DEFAULT_COST_FACTOR`); 0: `minIntervalMs` alone.
   */
  costFactor?: number
  /** Shortest time between two looks at the database's data version (default 200 ms). */
  checkIntervalMs?: number
  /** Called after each recomputation (e.g. to refresh metrics). */
  onRecompute?: (snapshot: CoverageSnapshot) => void
  now?: () => number
  worker?: CoverageWorkerOptions
  /** A recomputation in the worker failed (the last report stays). */
  onError?: (message: string) => void
  /**
   * While true, no recomputation starts once a report is there: readers get the last one (with
   * its `computedAt`), and the first look after it turns false recomputes. serve holds while a
   * job stores an upstream list (`storingUpstreamList`): its merge commits every moment, each
   * report over the half-merged list was stale at once, and computing them beside the list
   * threads pushed serve past its memory bar.
   */
  hold?: () => boolean
  /**
   * The worker ends after this long without a recomputation (default `DEFAULT_WORKER_IDLE_MS`),
   * giving back its heap; the next recomputation starts another.
   */
  workerIdleMs?: number
}

const toBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength)

/**
 * The next recomputation starts at least 5 times the last one's duration after the last one
 * started: coverage then takes at most about a fifth of a core, however often the database changes. While serve starts
 * over 10,000 torrents (engine_status rewriting the engine's states on every poll) a report took
 * a second or more of a core that the engine's adds and the API share, every 2 s; the dashboard
 * now follows a few seconds later there, and as before (every 2 s) wherever a report is cheap.
 */
export const DEFAULT_COST_FACTOR = 5

/**
 * A recomputation over a 1,000,000-entry upstream list leaves the worker's heap at about 130 MB
 * after it (V8 keeps what it grew to); a dashboard's few seconds between looks, or a scan's
 * commits, keep it running, and its cached reads with it.
 */
export const DEFAULT_WORKER_IDLE_MS = 15_000

export class CoverageCache {
  readonly #db: Db
  readonly #inputs: CoverageInputs
  #source: CoverageSource | undefined
  readonly #minIntervalMs: number
  readonly #costFactor: number
  /** What the last recomputation took, from its start to its report being published (ms). */
  #lastCostMs = 0
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
  readonly #workerOptions: CoverageWorkerOptions | undefined
  readonly #onError: ((message: string) => void) | undefined
  #worker: Worker | undefined
  /** The recomputation under way in the worker, if any. */
  #inFlight: Promise<void> | undefined
  #closed = false
  readonly #hold: (() => boolean) | undefined
  readonly #workerIdleMs: number
  #idleTimer: NodeJS.Timeout | undefined

  constructor(opts: CoverageCacheOptions) {
    this.#db = opts.db
    this.#inputs = opts.inputs
    this.#workerOptions = opts.worker
    this.#onError = opts.onError
    this.#hold = opts.hold
    this.#workerIdleMs = opts.workerIdleMs ?? DEFAULT_WORKER_IDLE_MS
    this.#minIntervalMs = opts.minIntervalMs ?? 2000
    this.#costFactor = opts.costFactor ?? DEFAULT_COST_FACTOR
    this.#checkIntervalMs = opts.checkIntervalMs ?? 200
    this.#onRecompute = opts.onRecompute
    this.#now = opts.now ?? Date.now
    this.#dataVersion = opts.db.prepare('PRAGMA data_version').pluck()
  }

  /** Marks the report stale: the next `current()` recomputes it (subject to the interval). */
  invalidate(): void {
    this.#dirty = true
  }

  /** The shortest time from the last recomputation to the next. */
  #intervalMs(): number {
    return Math.max(this.#minIntervalMs, this.#costFactor * this.#lastCostMs)
  }

  /** Recomputes on the next `current()`, whatever the interval. */
  invalidateNow(): void {
    this.#dirty = true
    this.#computedAtMs = -Infinity
    this.#checkedAtMs = -Infinity
  }

  /**
   * The current report. In process: recomputed first when the database changed and the interval
   * allows. With a worker: the last report, and a recomputation started in the background then.
   */
  current(): CoverageSnapshot {
    // Asking SQLite costs tens of microseconds: a server answering thousands of requests a
    // second asks at most every `checkIntervalMs`.
    const now = this.#now()
    if (this.#snapshot && !this.#dirty && now - this.#checkedAtMs < this.#checkIntervalMs)
      return this.#snapshot
    this.#checkedAtMs = now
    const version = this.#dataVersion.get() as number
    if (version !== this.#seenVersion) this.#dirty = true
    if (this.#snapshot && (!this.#dirty || this.#now() - this.#computedAtMs < this.#intervalMs()))
      return this.#snapshot
    // Still dirty: the first look after the hold recomputes.
    if (this.#snapshot && this.#hold?.()) return this.#snapshot
    if (this.#workerOptions && this.#snapshot) {
      if (!this.#inFlight) void this.#recomputeInWorker(version)
      return this.#snapshot
    }
    this.#seenVersion = version
    this.#dirty = false
    const started = performance.now()
    const startedAtMs = this.#now()
    this.#source ??= new CoverageSource(this.#db, this.#inputs)
    const report = computeCoverage(this.#source.read())
    this.#computedAtMs = this.#now()
    this.#lastCostMs = this.#computedAtMs - startedAtMs
    this.#publish({
      generation: ++this.#generation,
      computedAt: new Date(this.#computedAtMs).toISOString(),
      computeMs: Math.round(performance.now() - started),
      reread: this.#source.lastReread,
      report,
    })
    return this.#snapshot!
  }

  /**
   * The first report (with a worker: computed there); resolves at once without a worker.
   * Rejects with `coverage-closed` when the cache was closed before a report arrived: serve
   * stopped during start-up, and its database may already be closed, so nothing is computed.
   */
  async ready(): Promise<CoverageSnapshot> {
    if (this.#workerOptions && !this.#snapshot && !this.#closed) {
      try {
        const version = this.#dataVersion.get() as number
        await (this.#inFlight ?? this.#recomputeInWorker(version))
      } catch (e) {
        // No worker (it could not start): computed here instead, below.
        this.#onError?.(`coverage worker: ${(e as Error).message}`)
      }
    }
    if (this.#snapshot) return this.#snapshot
    if (this.#closed) throw new AacseedError('coverage-closed', 'coverage: stopped before its first report')
    return this.current()
  }

  /**
   * The last report as it is, or undefined before the first: no look for changes, no
   * recomputation started. For a health probe, which must cost nothing however often it asks:
   * through `current()`, probes every second during a job writing a 1,000,000-entry upstream
   * list recomputed coverage over it again and again (serve's peak RSS 600-665 MB, 274 MB
   * without).
   */
  get last(): CoverageSnapshot | undefined {
    return this.#snapshot
  }

  /** Whether a report is there to answer from (false only before the first one, with a worker). */
  get hasSnapshot(): boolean {
    return this.#snapshot !== undefined
  }

  /** Whether the worker thread is running (it ends when idle; see `workerIdleMs`). */
  get workerRunning(): boolean {
    return this.#worker !== undefined
  }

  /** Stops the worker, if any. */
  async close(): Promise<void> {
    this.#closed = true
    clearTimeout(this.#idleTimer)
    const w = this.#worker
    this.#worker = undefined
    await w?.terminate()
  }

  #publish(snapshot: CoverageSnapshot): void {
    this.#snapshot = snapshot
    this.#onRecompute?.(snapshot)
  }

  #startWorker(): Worker {
    const opts = this.#workerOptions!
    const w = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: {
        dbPath: opts.dbPath,
        inputs: opts.inputs,
        groups: opts.groups ?? null,
        first: this.#snapshot === undefined,
      } satisfies CoverageWorkerData,
      // A thread has its own V8 heap, and V8 sizes a worker's young generation as the main
      // thread's (up to 32 MB of semi-spaces, filled by each recomputation's garbage, then kept).
      // Measured with serve at 2,500 torrents: the worker's heap peaked at 58–65 MB, 38 MB with 8;
      // serve's CPU the same (16.1 against 15.5–16.2 s; more scavenges, each of a smaller space).
      // Its old generation likewise: over a 1,000,000-entry upstream list (streamed, its live set
      // well under 100 MB) V8 let the garbage grow to about 300 MB before collecting it; at 192 MB
      // it collected sooner (the process peaked at 333 MB against 386–467 MB for the same report),
      // and at 128 MB sooner still: serve, whose main thread takes the report over while the
      // worker still holds its heap, peaked at 387 MB against 404 in bench:mirror-list. The
      // whole report over that list, computed and serialized with the old generation at 96 MB,
      // completes (in a process of its own): 128 leaves a third of room.
      resourceLimits: { maxYoungGenerationSizeMb: 8, maxOldGenerationSizeMb: 128 },
    })
    // Idle between recomputations: it must not keep the process alive.
    w.unref()
    w.on('error', (e) => this.#onError?.(`coverage worker: ${e.message}`))
    w.on('exit', () => {
      if (this.#worker === w) this.#worker = undefined
    })
    this.#worker = w
    return w
  }

  /** One recomputation in the worker, received slice by slice, published whole. */
  #recomputeInWorker(version: number): Promise<void> {
    this.#seenVersion = version
    this.#dirty = false
    this.#computedAtMs = this.#now()
    const generation = this.#generation + 1
    const computedAt = new Date(this.#computedAtMs).toISOString()
    const run = new Promise<void>((resolve) => {
      if (this.#closed) return resolve()
      clearTimeout(this.#idleTimer)
      const w = this.#worker ?? this.#startWorker()
      w.ref()
      let begin: Extract<FromWorker, { type: 'begin' }> | undefined
      let skeleton: ReportSkeleton | undefined
      let left = 0
      const done = (): void => {
        w.off('message', onMessage)
        w.off('exit', onExit)
        w.unref()
        this.#idleTimer = setTimeout(() => {
          if (this.#worker !== w || this.#inFlight) return
          this.#worker = undefined
          void w.terminate()
        }, this.#workerIdleMs)
        this.#idleTimer.unref()
        resolve()
      }
      const fail = (message: string): void => {
        // Try again at the next look, not at once: a failure that repeats must not spin.
        this.#dirty = true
        this.#onError?.(message)
        done()
      }
      const onExit = (code: number): void => fail(`coverage worker exited with code ${code}`)
      const finish = (): void => {
        const b = begin!
        // The whole round trip: reading and computing in the worker, and the slices handed over.
        this.#lastCostMs = this.#now() - this.#computedAtMs
        this.#generation = Math.max(this.#generation, generation)
        this.#publish({
          generation,
          computedAt,
          computeMs: b.computeMs,
          reread: b.reread,
          report: skeleton as unknown as CoverageReport,
          bodies: {
            summary: toBuffer(b.summary),
            timelineGzip: toBuffer(b.timelineGzip),
          },
          ...(b.groups ? { groups: b.groups } : {}),
        })
        done()
      }
      // Each slice is asked for only after the previous one was applied, in its own task, so
      // HTTP requests run between them.
      const next = (): void => {
        if (left === 0) return finish()
        setImmediate(() => w.postMessage({ type: 'next' } satisfies ToWorker))
      }
      const onMessage = (msg: FromWorker): void => {
        if (msg.type === 'failed') return fail(`coverage worker: ${msg.message}`)
        if (msg.type === 'begin') {
          begin = msg
          skeleton = msg.skeleton
          left = msg.slices
          return next()
        }
        applySlice(skeleton!, msg)
        left--
        next()
      }
      w.on('message', onMessage)
      w.once('exit', onExit)
      w.postMessage({ type: 'compute', generation, computedAt } satisfies ToWorker)
    }).finally(() => {
      this.#inFlight = undefined
    })
    this.#inFlight = run
    return run
  }
}
