/**
 * `GET /metrics`: Prometheus text exposition from prom-client, in a Registry of our own (never
 * the global one: two servers in one process, as in tests, must not share series).
 *
 * Names follow Prometheus conventions: the `aacseed_` prefix, the unit as a suffix
 * (`_bytes`, `_seconds`, `_ratio`), `_total` for counters only, and a gauge per count of things.
 * Gauges are set from the coverage snapshot when it changes; the job series count the runs that
 * finished while this process served (counters restart with the process, as counters do).
 * Per-torrent series exist only with `http.per_torrent_metrics` (10,000 torrents are 30,000
 * series). The text is rendered at most once per coverage generation and per 5 s, so a busy
 * scraper costs nothing.
 */
import { gzipSync } from 'node:zlib'
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client'
import type { CoverageSnapshot, GroupCoverage } from '../coverage/index.js'
import { LEVEL_KEYS, SWARM_BUCKETS } from '../coverage/index.js'
import type { JobRun } from '../jobs/index.js'
import type { MirrorSummary } from '../mirror/index.js'

export interface MetricsOptions {
  perTorrent: boolean
  version: string
  /** Runs that finished before this instant are history, not counted. Default: now. */
  since?: Date
}

/** Every series family aacseed exports besides prom-client's process_* and nodejs_* defaults. */
export const METRIC_NAMES = [
  'aacseed_build_info',
  'aacseed_copies_target',
  'aacseed_coverage_generation',
  'aacseed_coverage_compute_seconds',
  'aacseed_collection_bytes',
  'aacseed_collection_records',
  'aacseed_coverage_ratio',
  'aacseed_coverage_bytes',
  'aacseed_coverage_gaps',
  'aacseed_coverage_gap_seconds',
  'aacseed_coverage_overlaps',
  'aacseed_coverage_missing_releases',
  'aacseed_torrents',
  'aacseed_torrents_at_risk',
  'aacseed_engine_torrents',
  'aacseed_seedboxes',
  'aacseed_seedbox_up',
  'aacseed_seedbox_free_bytes',
  'aacseed_seedbox_torrents',
  'aacseed_seedbox_errors',
  'aacseed_swarm_torrents',
  'aacseed_swarm_bytes',
  'aacseed_job_runs_total',
  'aacseed_job_failures_total',
  'aacseed_job_duration_seconds',
  'aacseed_job_last_success_timestamp_seconds',
  'aacseed_job_running',
  'aacseed_problems',
  'aacseed_mirror_downloads',
  'aacseed_mirror_source_up',
  'aacseed_group_torrents',
  'aacseed_group_bytes',
  'aacseed_group_swarm_torrents',
] as const

export const PER_TORRENT_METRIC_NAMES = [
  'aacseed_torrent_copies',
  'aacseed_torrent_swarm_seeders',
  'aacseed_torrent_size_bytes',
] as const

const TEXT_TTL_MS = 5000

export class HttpMetrics {
  readonly registry = new Registry()
  readonly #g
  readonly #jobRuns
  readonly #jobFailures
  readonly #jobDuration
  readonly #torrent
  #watermark: string
  #text: { generation: number; at: number; body: Promise<{ plain: Buffer; gzip: Buffer }> } | undefined

  constructor(opts: MetricsOptions) {
    const r = [this.registry]
    this.#watermark = (opts.since ?? new Date()).toISOString()
    collectDefaultMetrics({ register: this.registry })
    const gauge = (name: string, help: string, labelNames: string[] = []) =>
      new Gauge({ name, help, labelNames, registers: r })
    new Gauge({
      name: 'aacseed_build_info',
      help: 'Always 1; the version of aacseed serving.',
      labelNames: ['version'],
      registers: r,
    }).set({ version: opts.version }, 1)
    const cl = ['collection', 'level']
    this.#g = {
      copiesTarget: gauge('aacseed_copies_target', 'Seedboxes each torrent should be on (N).'),
      generation: gauge(
        'aacseed_coverage_generation',
        'Recomputations of coverage since start (changes when the database does).',
      ),
      computeSeconds: gauge('aacseed_coverage_compute_seconds', 'Time the last coverage recomputation took.'),
      collectionBytes: gauge(
        'aacseed_collection_bytes',
        'Bytes of every known release of the collection (the denominator of the coverage ratio).',
        ['collection'],
      ),
      collectionRecords: gauge(
        'aacseed_collection_records',
        'Records of the collection in the local catalog.',
        ['collection'],
      ),
      ratio: gauge(
        'aacseed_coverage_ratio',
        "Share of the collection's known bytes at this level (0 to 1).",
        cl,
      ),
      bytes: gauge('aacseed_coverage_bytes', 'Bytes of the releases at this level.', cl),
      gaps: gauge(
        'aacseed_coverage_gaps',
        'Stretches of the timeline between releases that no known range covers.',
        ['collection'],
      ),
      gapSeconds: gauge('aacseed_coverage_gap_seconds', 'Seconds of the timeline in gaps.', ['collection']),
      overlaps: gauge(
        'aacseed_coverage_overlaps',
        'Pairs of overlapping releases, by the result of the immutability check (ok, conflict, unchecked).',
        ['collection', 'check'],
      ),
      missing: gauge('aacseed_coverage_missing_releases', 'Releases known upstream but not held here.', [
        'collection',
      ]),
      torrents: gauge(
        'aacseed_torrents',
        'Torrents by health: ok (at the target copies), degraded (fewer), lost (none).',
        ['health'],
      ),
      atRisk: gauge(
        'aacseed_torrents_at_risk',
        'Torrents below the target copies or with fewer than 4 swarm seeders.',
      ),
      engine: gauge(
        'aacseed_engine_torrents',
        'Torrents in the local engine by state (seeding, checking, error, ...).',
        ['state'],
      ),
      seedboxes: gauge('aacseed_seedboxes', 'Seedboxes the fleet reports.'),
      seedboxUp: gauge('aacseed_seedbox_up', '1 when the seedbox answered at its last check, else 0.', [
        'seedbox',
      ]),
      seedboxFree: gauge('aacseed_seedbox_free_bytes', 'Free space on the seedbox.', ['seedbox']),
      seedboxTorrents: gauge('aacseed_seedbox_torrents', 'Torrents the seedbox holds.', ['seedbox']),
      seedboxErrors: gauge('aacseed_seedbox_errors', 'Torrents the seedbox reports in error.', ['seedbox']),
      swarmTorrents: gauge(
        'aacseed_swarm_torrents',
        'Torrents by public swarm seeders: lt4 (< 4), 4to10, gt10 (> 10), unknown (never scraped).',
        ['collection', 'bucket'],
      ),
      swarmBytes: gauge('aacseed_swarm_bytes', 'Bytes of the torrents in each swarm seeder bucket.', [
        'collection',
        'bucket',
      ]),
      jobLastSuccess: gauge(
        'aacseed_job_last_success_timestamp_seconds',
        'When the job last finished ok (Unix time).',
        ['job'],
      ),
      jobRunning: gauge('aacseed_job_running', '1 while the job runs.', ['job']),
      problems: gauge('aacseed_problems', 'Open problems found in the releases, by scope and code.', [
        'scope',
        'code',
      ]),
      mirrorDownloads: gauge(
        'aacseed_mirror_downloads',
        'Mirror downloads by state (queued, downloading, verifying, placed, done, rejected).',
        ['state'],
      ),
      mirrorSourceUp: gauge(
        'aacseed_mirror_source_up',
        "1 when the mirror source's last fetch succeeded, else 0.",
        ['source'],
      ),
      groupTorrents: gauge(
        'aacseed_group_torrents',
        'Torrents of the upstream group (AAC or not), by level: upstream, held, seeded, on_seedbox, on_target.',
        ['group', 'level'],
      ),
      groupBytes: gauge(
        'aacseed_group_bytes',
        'Bytes of the upstream group, by level: upstream, held, seeded, on_seedbox, on_target.',
        ['group', 'level'],
      ),
      groupSwarm: gauge(
        'aacseed_group_swarm_torrents',
        'Torrents of the upstream group by swarm seeders: lt4, 4to10, gt10, unknown.',
        ['group', 'bucket'],
      ),
    }
    this.#jobRuns = new Counter({
      name: 'aacseed_job_runs_total',
      help: 'Job runs that finished since aacseed started, by outcome (ok, failed, skipped, interrupted).',
      labelNames: ['job', 'outcome'],
      registers: r,
    })
    this.#jobFailures = new Counter({
      name: 'aacseed_job_failures_total',
      help: 'Job runs that failed since aacseed started.',
      labelNames: ['job'],
      registers: r,
    })
    this.#jobDuration = new Histogram({
      name: 'aacseed_job_duration_seconds',
      help: 'How long job runs took (ok, failed or interrupted), since aacseed started.',
      labelNames: ['job'],
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 14400],
      registers: r,
    })
    this.#torrent = opts.perTorrent
      ? {
          copies: new Gauge({
            name: 'aacseed_torrent_copies',
            help: 'Copies of this torrent counted for health.',
            labelNames: ['infohash', 'collection', 'name'],
            registers: r,
          }),
          seeders: new Gauge({
            name: 'aacseed_torrent_swarm_seeders',
            help: 'Seeders the public swarm reported for this torrent (absent when never scraped).',
            labelNames: ['infohash', 'collection', 'name'],
            registers: r,
          }),
          size: new Gauge({
            name: 'aacseed_torrent_size_bytes',
            help: "Bytes of this torrent's data.",
            labelNames: ['infohash', 'collection', 'name'],
            registers: r,
          }),
        }
      : null
  }

  /** Sets every gauge from a new snapshot; called once per coverage generation. */
  refresh(
    snap: CoverageSnapshot,
    problems: ReadonlyArray<{ scope: string; code: string; n: number }>,
    jobs: { schedules: Record<string, string>; running: string[]; runs: JobRun[] } | null,
    mirror: Pick<MirrorSummary, 'downloads' | 'sources'> | null = null,
    groups: readonly GroupCoverage[] | null = null,
  ): void {
    const g = this.#g
    for (const gauge of Object.values(g)) gauge.reset()
    const r = snap.report
    g.copiesTarget.set(r.copiesTarget)
    g.generation.set(snap.generation)
    g.computeSeconds.set(snap.computeMs / 1000)
    for (const c of r.collections) {
      const collection = c.collection
      g.collectionBytes.set({ collection }, c.totals.bytes)
      g.collectionRecords.set({ collection }, c.totals.records)
      for (const level of LEVEL_KEYS) {
        const f = c.levels[level]
        g.ratio.set({ collection, level }, f.ratio)
        g.bytes.set({ collection, level }, f.bytes)
      }
      g.gaps.set({ collection }, c.gapCount)
      g.gapSeconds.set({ collection }, c.gapSeconds)
      for (const check of ['ok', 'conflict', 'unchecked'] as const)
        g.overlaps.set({ collection, check }, c.overlaps.filter((o) => o.check === check).length)
      g.missing.set({ collection }, c.missingCount)
      for (const bucket of SWARM_BUCKETS) {
        g.swarmTorrents.set({ collection, bucket }, c.swarm[bucket].torrents)
        g.swarmBytes.set({ collection, bucket }, c.swarm[bucket].bytes)
      }
    }
    for (const health of ['ok', 'degraded', 'lost'] as const)
      g.torrents.set({ health }, r.totals.health[health])
    g.atRisk.set(r.totals.atRisk)
    for (const [state, n] of Object.entries(r.engine.states)) g.engine.set({ state }, n)
    g.seedboxes.set(r.seedboxes.length)
    for (const s of r.seedboxes) {
      g.seedboxUp.set({ seedbox: s.name }, s.up ? 1 : 0)
      if (s.freeBytes !== null) g.seedboxFree.set({ seedbox: s.name }, s.freeBytes)
      g.seedboxTorrents.set({ seedbox: s.name }, s.torrents)
      g.seedboxErrors.set({ seedbox: s.name }, s.errors)
    }
    for (const p of problems) g.problems.set({ scope: p.scope, code: p.code }, p.n)
    if (jobs) this.#jobs(jobs)
    if (mirror) {
      for (const [state, n] of Object.entries(mirror.downloads)) g.mirrorDownloads.set({ state }, n)
      for (const src of mirror.sources) g.mirrorSourceUp.set({ source: src.name }, src.ok ? 1 : 0)
    }
    for (const x of groups ?? []) {
      const levels = {
        upstream: x.upstream,
        held: x.held,
        seeded: x.seeded,
        on_seedbox: x.onSeedbox,
        on_target: x.onTarget,
      }
      for (const [level, f] of Object.entries(levels)) {
        g.groupTorrents.set({ group: x.group, level }, f.torrents)
        g.groupBytes.set({ group: x.group, level }, f.bytes)
      }
      for (const bucket of SWARM_BUCKETS)
        g.groupSwarm.set({ group: x.group, bucket }, x.swarm[bucket].torrents)
    }
    if (this.#torrent) {
      const t = this.#torrent
      t.copies.reset()
      t.seeders.reset()
      t.size.reset()
      for (const x of r.torrents) {
        const labels = { infohash: x.infohash, collection: x.collection, name: x.name }
        t.copies.set(labels, x.copies)
        if (x.seeders !== null) t.seeders.set(labels, x.seeders)
        t.size.set(labels, x.bytes)
      }
    }
    this.#text = undefined
  }

  #jobs(jobs: { schedules: Record<string, string>; running: string[]; runs: JobRun[] }): void {
    const g = this.#g
    for (const job of Object.keys(jobs.schedules))
      g.jobRunning.set({ job }, jobs.running.includes(job) ? 1 : 0)
    const lastOk = new Map<string, string>()
    let watermark = this.#watermark
    // Runs come newest first; count each finished run once, by its finish time.
    for (const run of jobs.runs) {
      if (run.outcome === 'ok' && run.finishedAt && !lastOk.has(run.job)) lastOk.set(run.job, run.finishedAt)
      if (!run.finishedAt || run.finishedAt <= this.#watermark) continue
      if (run.finishedAt > watermark) watermark = run.finishedAt
      this.#jobRuns.inc({ job: run.job, outcome: run.outcome })
      if (run.outcome === 'failed') this.#jobFailures.inc({ job: run.job })
      if (run.outcome !== 'skipped')
        this.#jobDuration.observe(
          { job: run.job },
          Math.max(0, Date.parse(run.finishedAt) - Date.parse(run.startedAt)) / 1000,
        )
    }
    this.#watermark = watermark
    for (const [job, at] of lastOk) g.jobLastSuccess.set({ job }, Date.parse(at) / 1000)
  }

  /**
   * The exposition text as bytes, plain and gzipped (Prometheus asks for gzip), rendered again
   * only after a refresh or when 5 s old: a scrape costs no rendering or encoding of 60+ KB.
   */
  async text(generation: number): Promise<{ plain: Buffer; gzip: Buffer }> {
    const now = Date.now()
    // The promise is cached, so concurrent scrapes share one rendering.
    if (this.#text && this.#text.generation === generation && now - this.#text.at < TEXT_TTL_MS)
      return await this.#text.body
    const body = this.registry.metrics().then((t) => {
      // prom-client writes NaN as `Nan` (its event-loop lag before the first sample); the format says `NaN`.
      const plain = Buffer.from(t.replace(/ Nan$/gm, ' NaN'), 'utf8')
      return { plain, gzip: gzipSync(plain, { level: 4 }) }
    })
    this.#text = { generation, at: now, body }
    try {
      return await body
    } catch (e) {
      this.#text = undefined
      throw e
    }
  }

  get contentType(): string {
    return this.registry.contentType
  }
}
