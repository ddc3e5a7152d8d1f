/**
 * The HTTP API, metrics and dashboard of `aacseed serve` (Fastify).
 *
 *   GET  /                     the dashboard (HTML; its script and style are /dashboard.js (which imports
 *                              /units.js, src/units.ts) and /dashboard.css)
 *   GET  /api/collections      every collection with its totals
 *   GET  /api/coverage         coverage per collection and level [?collection=NAME] [?detail=true]
 *   GET  /api/timeline         every release's range and state, compact, for timelines [?collection=NAME]
 *   GET  /api/torrents         torrents with health and swarm figures, filtered and paginated
 *   GET  /api/seedboxes        the fleet's seedboxes (empty until a fleet reports)
 *   GET  /api/jobs             jobs, their schedules and recent runs
 *   POST /api/jobs/NAME/run    start a job now (bearer token required)
 *   GET  /api/problems         open problems, filtered and paginated
 *   GET  /api/groups           coverage per group of the upstream lists (AAC or not): upstream, held,
 *                              seeded, on seedboxes, swarm buckets
 *   GET  /torrents.json        the published torrent list, with live swarm and seeding figures
 *   GET  /torrents/NAME.torrent  each published .torrent file (see torrent-files.ts)
 *   GET  /healthz              200 when the database and the engine answer, else 503; torrent counts
 *                              and the first few in trouble
 *   GET  /metrics              Prometheus text format
 *
 * Reads come from their own database connection and from one coverage snapshot per database
 * change (see CoverageCache): every JSON answer derived from it is serialized once per
 * generation and carries an ETag, so a dashboard polling an unchanged catalog costs a lookup.
 *
 * Fences: read-only unless a token is configured (then POST needs `Authorization: Bearer`);
 * when bound to loopback, requests must name a loopback Host (a web page elsewhere cannot reach
 * the API through DNS rebinding); every answer forbids inline script and framing (CSP), and
 * the dashboard renders every string as text.
 */
import { STATUS_CODES } from 'node:http'
import { randomBytes } from 'node:crypto'
import { gunzipSync, gzipSync } from 'node:zlib'
import {
  fastify,
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify'
import { ProblemQueries } from '../catalog/problems.js'
import { mirrorSummary } from '../mirror/index.js'
import {
  coverageJson,
  groupCoverageJson,
  type GroupCoverage,
  timelineJson,
  torrentJson,
  type CoverageCache,
  type CoverageSnapshot,
  type TorrentCoverage,
  type TorrentHealth,
} from '../coverage/index.js'
import { schemaVersion, type Db } from '../db/index.js'
import { isFailedCopy } from '../engines/engine.js'
import { ConfigError, isAacseedError } from '../errors.js'
import type { Logger } from '../log/index.js'
import { requireToken } from './auth.js'
import { DASHBOARD_CSS, dashboardHtml, dashboardScript, FAVICON_SVG, unitsScript } from './dashboard/page.js'
import { errorBody, HttpError, type HttpErrorCode } from './errors.js'
import { runJson, type JobsApi } from './jobs.js'
import type {
  HealthzResponse,
  JobsResponse,
  ProblemsResponse,
  SeedboxesResponse,
  TorrentsResponse,
} from './shapes.js'
import { registerTorrentFiles } from './torrent-files.js'
import { HttpMetrics } from './metrics.js'

/** Whether the torrent engine answers; `check` rejects when it does not. */
export interface EngineProbe {
  kind: string
  check(): Promise<void>
}

export interface HttpServerOptions {
  /** A connection the API reads through (serve opens a read-only one). */
  db: Db
  coverage: CoverageCache
  jobs?: JobsApi | undefined
  engine?: EngineProbe | undefined
  /** Bearer token for POST endpoints; absent or empty: the API is read-only. */
  token?: string | undefined
  /**
   * GET /torrents.json: the published list's text (src/publish `torrentListJson`, the
   * function that writes the list file), or absent when serve publishes none.
   */
  torrentList?: (() => string) | undefined
  /**
   * GET /api/groups and the aacseed_group_* series (src/mirror/groups.ts `readGroupCoverage`); absent: none.
   */
  groups?: (() => GroupCoverage[]) | undefined
  perTorrentMetrics?: boolean
  /** How often the dashboard refreshes itself. */
  refreshSeconds?: number
  logger: Logger
  version: string
  /** The address bound; a loopback one turns on the Host check. Default 127.0.0.1. */
  host?: string
}

const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-resource-policy': 'same-origin',
}

const JSON_TYPE = 'application/json; charset=utf-8'
const COVERAGE_SUMMARY_KEY = 'coverage::false'
const TIMELINE_KEY = 'timeline:'
const ENGINE_TIMEOUT_MS = 3000
/** The problem torrents /healthz names: a probe's answer stays small whatever the number of torrents. */
export const HEALTHZ_PROBLEMS = 10

/** /healthz's torrent figures, read from one coverage report. */
function healthzTorrents(snap: CoverageSnapshot): NonNullable<HealthzResponse['torrents']> {
  const first: Array<{ name: string; infohash: string; engine_state: string }> = []
  let problems = 0
  for (const t of snap.report.torrents) {
    if (!isFailedCopy(t.engineState)) continue
    problems++
    if (first.length < HEALTHZ_PROBLEMS)
      first.push({ name: t.name, infohash: t.infohash, engine_state: t.engineState })
  }
  return {
    computed_at: snap.computedAt,
    total: snap.report.engine.torrents,
    states: snap.report.engine.states,
    problems,
    first_problems: first,
  }
}

export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase()
  return h === 'localhost' || h === '::1' || h === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h)
}

/** The host name of a Host header, without the port (`[::1]:8737` → `[::1]`). */
function hostName(header: string | undefined): string {
  if (!header) return ''
  if (header.startsWith('[')) return header.slice(0, header.indexOf(']') + 1)
  const colon = header.lastIndexOf(':')
  return colon < 0 ? header : header.slice(0, colon)
}

// ---- query schemas: unknown parameters are errors, not silently ignored ---------------------

const limit = (max: number, dflt: number) => ({ type: 'integer', minimum: 1, maximum: max, default: dflt })
const offset = { type: 'integer', minimum: 0, maximum: 1_000_000_000, default: 0 }
const name = { type: 'string', minLength: 1, maxLength: 300 }

const SCHEMAS = {
  coverage: {
    type: 'object',
    additionalProperties: false,
    properties: { collection: name, detail: { type: 'boolean', default: false } },
  },
  timeline: { type: 'object', additionalProperties: false, properties: { collection: name } },
  torrents: {
    type: 'object',
    additionalProperties: false,
    properties: {
      collection: name,
      kind: { type: 'string', enum: ['meta', 'data'] },
      health: { type: 'string', pattern: '^(ok|degraded|lost)(,(ok|degraded|lost))*$' },
      at_risk: { type: 'boolean' },
      swarm: { type: 'string', enum: ['lt4', '4to10', 'gt10', 'unknown'] },
      sort: { type: 'string', enum: ['range', 'risk'], default: 'range' },
      limit: limit(1000, 100),
      offset,
    },
  },
  jobs: { type: 'object', additionalProperties: false, properties: { job: name, limit: limit(500, 50) } },
  run: {
    type: 'object',
    additionalProperties: false,
    properties: { wait: { type: 'boolean', default: false } },
  },
  problems: {
    type: 'object',
    additionalProperties: false,
    properties: {
      code: name,
      collection: name,
      scope: { type: 'string', enum: ['root', 'meta', 'data', 'cross', 'torrent'] },
      limit: limit(1000, 100),
      offset,
    },
  },
  none: { type: 'object', additionalProperties: false, properties: {} },
} as const

interface TorrentQuery {
  collection?: string
  kind?: 'meta' | 'data'
  health?: string
  at_risk?: boolean
  swarm?: string
  sort: 'range' | 'risk'
  limit: number
  offset: number
}

const HEALTH_RANK: Record<TorrentHealth, number> = { lost: 0, degraded: 1, ok: 2 }

function torrentsKey(q: TorrentQuery): string {
  return `torrents:${JSON.stringify([q.collection, q.kind, q.health, q.at_risk, q.swarm, q.sort, q.limit, q.offset])}`
}

function torrentsPage(snap: CoverageSnapshot, q: TorrentQuery): TorrentsResponse {
  const health = q.health ? new Set(q.health.split(',')) : null
  let list = snap.report.torrents.filter(
    (t) =>
      (q.collection === undefined || t.collection === q.collection) &&
      (q.kind === undefined || t.kind === q.kind) &&
      (health === null || health.has(t.health)) &&
      (q.at_risk === undefined || t.atRisk === q.at_risk) &&
      (q.swarm === undefined || t.bucket === q.swarm),
  )
  if (q.sort === 'risk') list = [...list].sort(byRisk)
  return {
    generation: snap.generation,
    total: list.length,
    limit: q.limit,
    offset: q.offset,
    items: list.slice(q.offset, q.offset + q.limit).map(torrentJson),
  }
}

/**
 * Riskiest first: fewest copies, then fewest swarm seeders (never scraped counts as none), then the biggest.
 */
function byRisk(a: TorrentCoverage, b: TorrentCoverage): number {
  return (
    HEALTH_RANK[a.health] - HEALTH_RANK[b.health] ||
    a.copies - b.copies ||
    (a.seeders ?? -1) - (b.seeders ?? -1) ||
    b.bytes - a.bytes ||
    (a.name < b.name ? -1 : 1)
  )
}

/**
 * Bodies derived from one coverage snapshot, serialized once per generation and kept as bytes
 * (sending a cached Buffer costs no encoding per request), gzipped too when large.
 */
class Views {
  #generation = -1
  /** `bytes` absent: a body put gzipped only, inflated when a client asks for it plain. */
  readonly #bodies = new Map<string, { bytes?: Buffer; gzip?: Buffer }>()

  #entry(generation: number, key: string, make: () => string): { bytes?: Buffer; gzip?: Buffer } {
    if (generation !== this.#generation) {
      this.#bodies.clear()
      this.#generation = generation
    }
    let body = this.#bodies.get(key)
    if (body === undefined) {
      body = { bytes: Buffer.from(make(), 'utf8') }
      // Query strings are part of the keys: bound the map against a client cycling through them.
      if (this.#bodies.size >= 512) this.#bodies.clear()
      this.#bodies.set(key, body)
    }
    return body
  }

  get(generation: number, key: string, make: () => string): Buffer {
    const body = this.#entry(generation, key, make)
    return (body.bytes ??= gunzipSync(body.gzip!))
  }

  /** A body serialized elsewhere (by the coverage worker): plain, or gzipped only. */
  put(generation: number, key: string, body: { bytes: Buffer } | { gzip: Buffer }): void {
    this.#entry(generation, key, () => '')
    this.#bodies.set(key, body)
  }

  /** The body gzipped, for clients that accept it; only worth it (and only done) above 32 KiB. */
  gzip(generation: number, key: string, make: () => string): Buffer | null {
    const body = this.#entry(generation, key, make)
    // Put gzipped (by the worker), whatever its size.
    if (body.gzip) return body.gzip
    // Made here: plain.
    const bytes = body.bytes ?? Buffer.alloc(0)
    if (bytes.length < 32 * 1024) return null
    body.gzip = gzipSync(bytes, { level: 4 })
    return body.gzip
  }
}

/** `limit must be <= 1000`, `unknown parameter "bogus"`: the first thing wrong, named. */
function validationMessage(e: FastifyError): string {
  const v = e.validation?.[0]
  const where = e.validationContext === 'querystring' ? 'parameter' : (e.validationContext ?? 'request')
  if (!v) return e.message
  const extra = (v.params as { additionalProperty?: unknown }).additionalProperty
  if (v.keyword === 'additionalProperties' && typeof extra === 'string')
    return `unknown ${where} ${JSON.stringify(extra)}`
  const field = v.instancePath.replace(/^\//, '')
  return `${where} ${field ? `${field} ` : ''}${v.message ?? 'is invalid'}`
}

export function buildHttpServer(opts: HttpServerOptions): FastifyInstance {
  const log = opts.logger.child({ area: 'http' })
  const checkHost = isLoopbackHost(opts.host ?? '127.0.0.1')
  const boot = randomBytes(4).toString('hex')
  const views = new Views()
  const problems = new ProblemQueries(opts.db)
  const metrics = new HttpMetrics({ perTorrent: opts.perTorrentMetrics ?? false, version: opts.version })
  const html = dashboardHtml({ version: opts.version, refreshSeconds: opts.refreshSeconds ?? 10 })
  const script = dashboardScript()
  const units = unitsScript()
  let refreshedGeneration = -1
  let healthz: { generation: number; torrents: NonNullable<HealthzResponse['torrents']> } | null = null

  /** The current snapshot; on a new generation, the metrics follow it. */
  const snapshot = (): CoverageSnapshot => {
    const snap = opts.coverage.current()
    if (snap.generation !== refreshedGeneration) {
      refreshedGeneration = snap.generation
      if (snap.bodies) {
        views.put(snap.generation, COVERAGE_SUMMARY_KEY, { bytes: snap.bodies.summary })
        views.put(snap.generation, TIMELINE_KEY, { gzip: snap.bodies.timelineGzip })
      }
      setImmediate(() => {
        if (snap.generation === refreshedGeneration) warm(snap)
      })
      const jobs = opts.jobs
        ? {
            schedules: opts.jobs.schedules(),
            running: opts.jobs.running(),
            runs: opts.jobs.recentRuns({ limit: 200 }),
          }
        : null
      // Computed with the snapshot by the coverage worker when it has them: off the event loop.
      const groups = snap.groups ?? opts.groups?.() ?? null
      metrics.refresh(snap, problems.counts(), jobs, mirrorSummary(opts.db), groups)
    }
    return snap
  }

  /**
   * Sends a snapshot-derived body with its ETag, or 304 when the client has it. `make` returns
   * a value to serialize, or with `raw` the JSON text itself.
   */
  const sendView = (
    req: FastifyRequest,
    reply: FastifyReply,
    key: string,
    make: (snap: CoverageSnapshot) => unknown,
    raw = false,
  ): FastifyReply => {
    const snap = snapshot()
    const etag = `"${boot}-${snap.generation}"`
    reply.header('etag', etag).header('cache-control', 'no-cache').header('vary', 'accept-encoding')
    if (req.headers['if-none-match'] === etag) return reply.code(304).send()
    const text = () => (raw ? String(make(snap)) : JSON.stringify(make(snap)))
    const gzip = /\bgzip\b/.test(req.headers['accept-encoding'] ?? '')
      ? views.gzip(snap.generation, key, text)
      : null
    if (gzip) return reply.type(JSON_TYPE).header('content-encoding', 'gzip').send(gzip)
    return reply.type(JSON_TYPE).send(views.get(snap.generation, key, text))
  }

  /**
   * What the dashboard loads first, prepared ahead (after start and after each recomputation), off the
   * request that caused it.
   */
  const warm = (snap: CoverageSnapshot): void => {
    const g = snap.generation
    views.get(g, COVERAGE_SUMMARY_KEY, () =>
      JSON.stringify(
        coverageJson(snap.report, { detail: false, generation: g, computedAt: snap.computedAt }),
      ),
    )
    views.gzip(g, TIMELINE_KEY, () => JSON.stringify(timelineJson(snap.report, { generation: g })))
    const risk: TorrentQuery = { at_risk: true, sort: 'risk', limit: 25, offset: 0 }
    views.get(g, torrentsKey(risk), () => JSON.stringify(torrentsPage(snap, risk)))
  }

  const app = fastify({
    logger: false,
    // Release names run past Fastify's default of 100 (GET /torrents/NAME.torrent).
    routerOptions: { maxParamLength: 1000 },
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
    ajv: {
      customOptions: { removeAdditional: false, coerceTypes: true, useDefaults: true, allErrors: false },
    },
    // Requests Node's parser refuses before Fastify sees them (headers over 16 KiB, garbage):
    // answered in the API's error format too, not Node's or Fastify's own body.
    clientErrorHandler: (err: NodeJS.ErrnoException, socket) => {
      if (err.code === 'ECONNRESET' || socket.destroyed) return
      const [status, code, message]: [number, HttpErrorCode, string] =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? [431, 'headers-too-large', 'the request headers are larger than 16 KiB']
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? [408, 'request-timeout', 'the request was not received in time']
            : [400, 'bad-request', 'malformed HTTP request']
      const body = JSON.stringify(errorBody(code, message))
      const head = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status]}`,
        `content-type: ${JSON_TYPE}`,
        `content-length: ${Buffer.byteLength(body)}`,
        'connection: close',
        ...Object.entries(SECURITY_HEADERS).map(([k, v]) => `${k}: ${v}`),
      ]
      socket.end(`${head.join('\r\n')}\r\n\r\n${body}`)
    },
    // Requests Fastify refuses before routing (a malformed URL, a bad content type).
    frameworkErrors: (err, _req, reply) => {
      const r = reply as unknown as FastifyReply
      void r
        .code(err.statusCode ?? 400)
        .headers(SECURITY_HEADERS)
        .type(JSON_TYPE)
        .send(errorBody('bad-request', err.message))
    },
  })

  // /healthz reads no coverage report, so it never waits for the first one: that report is
  // computed by a worker at a lower CPU priority, which start-up jobs (a large list read in
  // two threads) can keep waiting for seconds, and /healthz is what says serve is alive.
  app.addHook('onRequest', async (req) => {
    if (!opts.coverage.hasSnapshot && req.routeOptions.url !== '/healthz') await opts.coverage.ready()
  })
  app.addHook('onRequest', (req, reply, done) => {
    reply.headers(SECURITY_HEADERS)
    if (checkHost && !isLoopbackHost(hostName(req.headers.host))) {
      done(
        new HttpError(
          403,
          'forbidden-host',
          'this aacseed listens on loopback only: use http://127.0.0.1:PORT/ (or localhost)',
        ),
      )
      return
    }
    done()
  })

  app.setErrorHandler((err: FastifyError | HttpError | Error, req, reply) => {
    if (err instanceof HttpError)
      return reply
        .code(err.status)
        .headers(err.headers)
        .type(JSON_TYPE)
        .send(errorBody(err.code, err.message, err.extra))
    const fe = err as FastifyError
    if (fe.validation)
      return reply
        .code(400)
        .type(JSON_TYPE)
        .send(errorBody('bad-request', validationMessage(fe)))
    if (isAacseedError(err) && err.code === 'unknown-job')
      return reply.code(404).type(JSON_TYPE).send(errorBody('unknown-job', err.message))
    if (isAacseedError(err) && (err.code === 'jobs-stopping' || err.code === 'coverage-closed'))
      return reply.code(503).type(JSON_TYPE).send(errorBody(err.code, err.message))
    const status = fe.statusCode ?? 500
    if (status < 500) {
      const codes: Record<number, HttpErrorCode> = {
        404: 'not-found',
        405: 'method-not-allowed',
        413: 'payload-too-large',
        415: 'unsupported-media-type',
      }
      return reply
        .code(status)
        .type(JSON_TYPE)
        .send(errorBody(codes[status] ?? 'bad-request', fe.message))
    }
    log.error({ err, method: req.method, url: req.url }, `internal error answering ${req.method} ${req.url}`)
    return reply.code(500).type(JSON_TYPE).send(errorBody('internal', 'internal error; see the aacseed log'))
  })

  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type(JSON_TYPE)
      .send(errorBody('not-found', `no such endpoint: ${req.method} ${req.url.split('?')[0]}`)),
  )

  // ---- dashboard ----

  app.get('/', (_req, reply) =>
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html),
  )
  app.get('/dashboard.js', (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(script),
  )
  app.get('/units.js', (_req, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(units),
  )
  app.get('/dashboard.css', (_req, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(DASHBOARD_CSS),
  )
  app.get('/favicon.svg', (_req, reply) =>
    reply.type('image/svg+xml').header('cache-control', 'max-age=86400').send(FAVICON_SVG),
  )

  // ---- coverage ----

  app.get('/api/collections', { schema: { querystring: SCHEMAS.none } }, (req, reply) =>
    sendView(req, reply, 'collections', (snap) => ({
      generation: snap.generation,
      collections: snap.report.collections.map((c) => ({
        collection: c.collection,
        from: c.from,
        to: c.to,
        releases: c.totals.releases,
        meta_files: c.totals.metaFiles,
        data_folders: c.totals.dataFolders,
        records: c.totals.records,
        files: c.totals.files,
        bytes: c.totals.bytes,
        torrents: c.totals.torrents,
        at_risk: c.atRisk,
        gaps: c.gapCount,
        overlaps: c.overlaps.length,
        missing: c.missingCount,
      })),
    })),
  )

  app.get<{ Querystring: { collection?: string; detail: boolean } }>(
    '/api/coverage',
    { schema: { querystring: SCHEMAS.coverage } },
    (req, reply) => {
      const { collection, detail } = req.query
      if (
        collection !== undefined &&
        !snapshot().report.collections.some((c) => c.collection === collection)
      ) {
        throw new HttpError(
          404,
          'unknown-collection',
          `no collection ${JSON.stringify(collection)}; GET /api/collections lists them`,
        )
      }
      return sendView(
        req,
        reply,
        collection === undefined && !detail ? COVERAGE_SUMMARY_KEY : `coverage:${collection ?? ''}:${detail}`,
        (snap) =>
          coverageJson(snap.report, {
            collection,
            detail,
            generation: snap.generation,
            computedAt: snap.computedAt,
          }),
      )
    },
  )

  app.get<{ Querystring: { collection?: string } }>(
    '/api/timeline',
    { schema: { querystring: SCHEMAS.timeline } },
    (req, reply) => {
      const { collection } = req.query
      if (
        collection !== undefined &&
        !snapshot().report.collections.some((c) => c.collection === collection)
      ) {
        throw new HttpError(
          404,
          'unknown-collection',
          `no collection ${JSON.stringify(collection)}; GET /api/collections lists them`,
        )
      }
      return sendView(
        req,
        reply,
        collection === undefined ? TIMELINE_KEY : `timeline:${collection}`,
        (snap) => timelineJson(snap.report, { collection, generation: snap.generation }),
      )
    },
  )

  app.get<{ Querystring: TorrentQuery }>(
    '/api/torrents',
    { schema: { querystring: SCHEMAS.torrents } },
    (req, reply) => {
      const q = req.query
      return sendView(req, reply, torrentsKey(q), (snap) => torrentsPage(snap, q))
    },
  )

  app.get('/api/seedboxes', { schema: { querystring: SCHEMAS.none } }, (req, reply) =>
    sendView(req, reply, 'seedboxes', (snap): SeedboxesResponse => ({
      generation: snap.generation,
      copies_target: snap.report.copiesTarget,
      seedboxes: snap.report.seedboxes.map((s) => ({
        name: s.name,
        up: s.up,
        free_bytes: s.freeBytes,
        torrents: s.torrents,
        errors: s.errors,
        last_seen_at: s.lastSeenAt,
        error: s.error,
      })),
    })),
  )

  app.get('/torrents.json', { schema: { querystring: SCHEMAS.none } }, (req, reply) => {
    const list = opts.torrentList
    if (!list) throw new HttpError(404, 'not-found', 'this aacseed publishes no torrent list')
    // The same text as the list file, per database generation.
    return sendView(req, reply, 'torrents.json', () => list(), true)
  })

  app.get('/api/groups', { schema: { querystring: SCHEMAS.none } }, (_req, reply) =>
    reply
      .type(JSON_TYPE)
      .header('cache-control', 'no-store')
      .send(groupCoverageJson(opts.groups?.() ?? [])),
  )
  registerTorrentFiles(app, opts.db)

  app.get('/api/mirror', { schema: { querystring: SCHEMAS.none } }, (_req, reply) =>
    reply.type(JSON_TYPE).header('cache-control', 'no-store').send(mirrorSummary(opts.db)),
  )

  // ---- jobs, problems, health ----

  app.get<{ Querystring: { job?: string; limit: number } }>(
    '/api/jobs',
    { schema: { querystring: SCHEMAS.jobs } },
    (req, reply) => {
      const api = opts.jobs
      if (!api)
        return reply
          .type(JSON_TYPE)
          .header('cache-control', 'no-store')
          .send({ jobs: [], running: [], runs: [] })
      const schedules = api.schedules()
      const running = api.running()
      const { job } = req.query
      if (job !== undefined && !Object.hasOwn(schedules, job))
        throw new HttpError(
          404,
          'unknown-job',
          `no job ${JSON.stringify(job)}; jobs: ${Object.keys(schedules).join(', ')}`,
        )
      const jobs = Object.entries(schedules).map(([name, schedule]) => {
        const last = api.recentRuns({ job: name, limit: 1 })[0]
        return { name, schedule, running: running.includes(name), last_run: last ? runJson(last) : null }
      })
      const runs = api
        .recentRuns({ ...(job !== undefined ? { job } : {}), limit: req.query.limit })
        .map(runJson)
      return reply
        .type(JSON_TYPE)
        .header('cache-control', 'no-store')
        .send({ jobs, running, runs } satisfies JobsResponse)
    },
  )

  app.post<{ Params: { name: string }; Querystring: { wait: boolean } }>(
    '/api/jobs/:name/run',
    { schema: { querystring: SCHEMAS.run } },
    async (req, reply) => {
      requireToken(req.headers.authorization, opts.token)
      const api = opts.jobs
      const name = req.params.name
      if (!api || !Object.hasOwn(api.schedules(), name))
        throw new HttpError(
          404,
          'unknown-job',
          `no job ${JSON.stringify(name)}${api ? `; jobs: ${Object.keys(api.schedules()).join(', ')}` : ''}`,
        )
      const { run, done } = await api.start(name)
      log.info(
        { job: name, run: run.id, outcome: run.outcome, remote: req.ip },
        `job ${name} requested over HTTP`,
      )
      reply.type(JSON_TYPE).header('cache-control', 'no-store')
      if (run.outcome === 'skipped')
        return reply.code(409).send(
          errorBody('job-running', `job ${name} is already running; this request was recorded as skipped`, {
            run: runJson(run),
          }),
        )
      if (req.query.wait) return reply.code(200).send({ run: runJson(await done) })
      return reply
        .code(202)
        .header('location', `/api/jobs?job=${encodeURIComponent(name)}`)
        .send({ run: runJson(run) })
    },
  )

  app.get<{
    Querystring: { code?: string; collection?: string; scope?: string; limit: number; offset: number }
  }>('/api/problems', { schema: { querystring: SCHEMAS.problems } }, (req, reply) => {
    const q = req.query
    const page = problems.page({ code: q.code, collection: q.collection, scope: q.scope }, q.limit, q.offset)
    const byCode: Record<string, number> = {}
    for (const c of problems.counts()) byCode[c.code] = (byCode[c.code] ?? 0) + c.n
    return reply
      .type(JSON_TYPE)
      .header('cache-control', 'no-store')
      .send({
        total: page.total,
        limit: q.limit,
        offset: q.offset,
        by_code: byCode,
        items: page.items,
      } satisfies ProblemsResponse)
  })

  app.get('/healthz', { schema: { querystring: SCHEMAS.none } }, async (_req, reply) => {
    let database: { ok: boolean; error?: string }
    try {
      schemaVersion(opts.db)
      database = { ok: true }
    } catch (e) {
      database = { ok: false, error: (e as Error).message }
    }
    let engine: { ok: boolean; kind: string; error?: string } | null = null
    if (opts.engine) {
      const probe = opts.engine
      let timer: NodeJS.Timeout | undefined
      try {
        await Promise.race([
          probe.check(),
          new Promise(
            (_, rej) =>
              (timer = setTimeout(
                () => rej(new Error(`no answer within ${ENGINE_TIMEOUT_MS} ms`)),
                ENGINE_TIMEOUT_MS,
              )),
          ),
        ])
        engine = { ok: true, kind: probe.kind }
      } catch (e) {
        engine = { ok: false, kind: probe.kind, error: (e as Error).message }
      } finally {
        clearTimeout(timer)
      }
    }
    const ok = database.ok && (engine?.ok ?? true)
    // The same report as the other views, the last one as it is (`computed_at` says when): never
    // waited for (a probe must answer during start-up), and never the cause of a recomputation,
    // nor of a new report's metrics and bodies: those are for the requests that need them.
    let torrents: HealthzResponse['torrents'] = null
    const snap = opts.coverage.last
    if (snap !== undefined) {
      if (healthz?.generation !== snap.generation)
        healthz = { generation: snap.generation, torrents: healthzTorrents(snap) }
      torrents = healthz.torrents
    }
    return reply
      .code(ok ? 200 : 503)
      .type(JSON_TYPE)
      .header('cache-control', 'no-store')
      .send({
        status: ok ? 'ok' : 'unhealthy',
        version: opts.version,
        database,
        engine,
        torrents,
      } satisfies HealthzResponse)
  })

  app.get('/metrics', { schema: { querystring: SCHEMAS.none } }, async (req, reply) => {
    const snap = snapshot()
    const body = await metrics.text(snap.generation)
    reply.type(metrics.contentType).header('cache-control', 'no-store').header('vary', 'accept-encoding')
    if (/\bgzip\b/.test(req.headers['accept-encoding'] ?? ''))
      return reply.header('content-encoding', 'gzip').send(body.gzip)
    return reply.send(body.plain)
  })

  // Coverage computed, and the dashboard's first answers prepared, before the first request. With a
  // worker the server listens at once (serve's start-up seeding does not wait for it) and the first
  // requests wait for the first report.
  if (opts.coverage.hasSnapshot) snapshot()
  else
    void opts.coverage
      .ready()
      .then(() => snapshot())
      .catch((e: unknown) => log.error({ err: (e as Error).message }, 'coverage: the first report failed'))
  return app
}

export interface RunningHttpServer {
  app: FastifyInstance
  url: string
  port: number
  close(): Promise<void>
}

/**
 * Builds (which computes coverage once) and listens. A taken or unusable address is a ConfigError (exit 2).
 */
export async function startHttpServer(
  opts: HttpServerOptions & { host: string; port: number },
): Promise<RunningHttpServer> {
  const app = buildHttpServer(opts)
  try {
    await app.listen({ host: opts.host, port: opts.port })
  } catch (e) {
    await app.close().catch(() => undefined)
    const code = (e as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE')
      throw new ConfigError(
        `http: port ${opts.port} on ${opts.host} is already in use (set http.port, or http.enabled = false)`,
        { field: 'http.port' },
      )
    if (code === 'EADDRNOTAVAIL' || code === 'EACCES' || code === 'ENOTFOUND')
      throw new ConfigError(`http: cannot listen on ${opts.host}:${opts.port}: ${code}`, {
        field: 'http.host',
      })
    throw e
  }
  const addr = app.server.address()
  const port = typeof addr === 'object' && addr ? addr.port : opts.port
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host
  return {
    app,
    url: `http://${host === '0.0.0.0' || host === '[::]' ? '127.0.0.1' : host}:${port}/`,
    port,
    close: () => app.close(),
  }
}
