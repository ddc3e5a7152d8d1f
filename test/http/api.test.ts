/**
 * Every endpoint of the HTTP API through fastify.inject: shapes, filters, pagination, errors, auth, caching
 * and fences.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { readFileSync } from 'node:fs'
import { gunzipSync } from 'node:zlib'
import {
  computeCoverage,
  coverageJson,
  fleetCoverageInputs,
  LIST_LIMIT,
  NO_EXTERNAL_INPUTS,
  readCoverageData,
} from '../../src/coverage/index.js'
import { EngineStatusStore } from '../../src/engines/index.js'
import { timelineRows } from '../../src/http/dashboard/client.js'
import { runnerJobs, startServeHttp, tokenMatches, type JobsApi } from '../../src/http/index.js'
import { HEALTHZ_PROBLEMS } from '../../src/http/server.js'
import type { HealthzResponse } from '../../src/http/shapes.js'
import { pino } from 'pino'
import { FakeEngine } from '../support/fake-engine.js'
import { JobRunner } from '../../src/jobs/index.js'
import { publishList } from '../../src/publish/index.js'
import { FleetStore } from '../../src/fleet/index.js'
import { waitFor } from '../helpers.js'
import {
  apiServer,
  apiTree,
  fakeInputs,
  HOSTILE_KEY,
  HOSTILE_NAMES,
  silentLogger,
  T0,
  type ApiTree,
} from './fixtures.js'

interface ErrorJson {
  error: { code: string; message: string }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void
  const promise = new Promise<void>((r) => (resolve = r))
  return { promise, resolve }
}

/** A job runner over the tree's writer: `scan` waits for its gate, `broken` throws. */
function jobs(
  t: TestContext,
  tree: ApiTree,
): { api: JobsApi; gate: { promise: Promise<void>; resolve: () => void }; runner: JobRunner } {
  const gate = deferred()
  const runner = new JobRunner({
    db: tree.writer,
    logger: silentLogger,
    jobs: [
      { name: 'scan', schedule: '0 0 1 1 *', run: async () => (await gate.promise, { entries_read: 3 }) },
      { name: 'broken', schedule: '0 0 1 1 *', run: async () => Promise.reject(new Error('disk on fire')) },
    ],
  })
  t.after(() => runner.stop(1000))
  return { api: runnerJobs(runner, { scan: '0 0 1 1 *', broken: '0 0 1 1 *' }), gate, runner }
}

test('GET /api/collections and /api/coverage: the figures of the coverage model, summary and detail', async (t) => {
  const tree = await apiTree(t)
  const inputs = fakeInputs(tree.infohashes)
  const { app } = apiServer(t, tree, { inputs })
  const expected = computeCoverage(readCoverageData(tree.reader, inputs))

  const cols = await app.inject('/api/collections')
  assert.equal(cols.statusCode, 200)
  assert.match(cols.headers['content-type'] as string, /^application\/json/)
  const colsJson = cols.json<{
    collections: Array<{ collection: string; records: number; bytes: number; torrents: number; gaps: number }>
  }>()
  assert.deepEqual(
    colsJson.collections.map((c) => [c.collection, c.records, c.bytes, c.torrents, c.gaps]),
    expected.collections.map((c) => [
      c.collection,
      c.totals.records,
      c.totals.bytes,
      c.totals.torrents,
      c.gaps.length,
    ]),
  )

  const summary = await app.inject('/api/coverage')
  assert.equal(summary.statusCode, 200)
  const body = summary.json<ReturnType<typeof coverageJson> & { generation: number; computed_at: string }>()
  const { generation, computed_at, ...rest } = body
  assert.equal(typeof generation, 'number')
  assert.match(computed_at, /^\d{4}-\d\d-\d\dT/)
  assert.deepEqual(rest, JSON.parse(JSON.stringify(coverageJson(expected))))
  assert.equal(body.totals.records, 1548)
  assert.equal(body.totals.torrents, 10)
  assert.ok(body.totals.levels.fleet_1.bytes > 0, 'the fleet inputs reach the levels')
  assert.equal(body.levels.find((l) => l.key === 'fleet_n')!.label, 'On ≥ 2 seedboxes')
  assert.ok(!('release_list' in body.collections[0]!), 'the summary has no per-release list')

  const one = await app.inject('/api/coverage?collection=zlib3_files')
  assert.equal(one.statusCode, 200)
  const oneJson = one.json<{
    collections: Array<{
      collection: string
      release_list: Array<{ name: string; state: string }>
      gap_list: unknown[]
      levels: { held: { spans: number[][] } }
    }>
  }>()
  assert.deepEqual(
    oneJson.collections.map((c) => c.collection),
    ['zlib3_files'],
  )
  assert.equal(oneJson.collections[0]!.release_list.length, 6)
  assert.equal(oneJson.collections[0]!.gap_list.length, 1)
  assert.ok(Array.isArray(oneJson.collections[0]!.levels.held.spans))

  const all = (await app.inject('/api/coverage?detail=true')).json<{
    collections: Array<{ release_list: unknown[] }>
  }>()
  assert.equal(
    all.collections.reduce((n, c) => n + c.release_list.length, 0),
    10,
  )

  const unknown = await app.inject('/api/coverage?collection=nope')
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json<ErrorJson>().error.code, 'unknown-collection')
  for (const bad of ['/api/coverage?detail=maybe', '/api/coverage?colection=x', '/api/collections?x=1']) {
    const r = await app.inject(bad)
    assert.equal(r.statusCode, 400, bad)
    assert.equal(r.json<ErrorJson>().error.code, 'bad-request')
  }
  assert.match(
    (await app.inject('/api/coverage?colection=x')).json<ErrorJson>().error.message,
    /unknown parameter "colection"/,
  )
})

test('coverage answers carry an ETag; 304 until another connection commits, then a new generation', async (t) => {
  const tree = await apiTree(t)
  const { app } = apiServer(t, tree)
  const first = await app.inject('/api/coverage')
  const etag = first.headers.etag as string
  assert.match(etag, /^"[0-9a-f]+-\d+"$/)
  assert.equal(first.headers['cache-control'], 'no-cache')
  const again = await app.inject({ url: '/api/coverage', headers: { 'if-none-match': etag } })
  assert.equal(again.statusCode, 304)
  assert.equal(again.body, '')
  // The engine_status job writes through the service's connection; the API sees it at once here (interval 0).
  new EngineStatusStore(tree.writer).record('webtorrent', [])
  const after = await app.inject({ url: '/api/coverage', headers: { 'if-none-match': etag } })
  assert.equal(after.statusCode, 200)
  assert.notEqual(after.headers.etag, etag)
  assert.equal(
    after.json<{ totals: { levels: { seeded: { ranges: number } } } }>().totals.levels.seeded.ranges,
    0,
  )
  assert.ok(after.json<{ generation: number }>().generation > first.json<{ generation: number }>().generation)
})

test('GET /api/torrents: pagination covers every torrent once; filters by collection, kind, health, risk and swarm', async (t) => {
  const tree = await apiTree(t)
  const { app } = apiServer(t, tree)
  type Item = {
    name: string
    infohash: string
    collection: string
    kind: string
    health: string
    copies: number
    seeders: number | null
    at_risk: boolean
    swarm_bucket: string
    seeding_locally: boolean
  }
  type PageJson = { total: number; limit: number; offset: number; items: Item[] }
  const get = async (q: string) => {
    const r = await app.inject(`/api/torrents${q}`)
    assert.equal(r.statusCode, 200, r.body)
    return r.json<PageJson>()
  }
  const all = await get('')
  assert.equal(all.total, 10)
  assert.equal(all.limit, 100)
  assert.equal(all.items.length, 10)
  const seen: string[] = []
  for (let offset = 0; offset < 10; offset += 3) {
    const p = await get(`?limit=3&offset=${offset}`)
    assert.equal(p.total, 10)
    assert.equal(p.offset, offset)
    assert.equal(p.items.length, Math.min(3, 10 - offset))
    seen.push(...p.items.map((i) => i.infohash))
  }
  assert.deepEqual(
    seen,
    all.items.map((i) => i.infohash),
  )
  assert.equal((await get('?offset=50')).items.length, 0)

  assert.ok(all.items.every((i) => i.seeding_locally === tree.infohashes.indexOf(i.infohash) < 5))
  const files = await get('?collection=zlib3_files')
  assert.equal(files.total, 6)
  assert.ok(files.items.every((i) => i.collection === 'zlib3_files'))
  const data = await get('?kind=data')
  assert.equal(data.total, 4)
  assert.ok(data.items.every((i) => i.kind === 'data'))
  assert.equal((await get('?collection=zlib3_files&kind=meta')).total, 2)

  // Fleet copies are 0, 1, 2, 3, … by position with a target of 2.
  const byHealth = (h: string) => all.items.filter((i) => i.health === h).length
  for (const h of ['ok', 'degraded', 'lost']) assert.equal((await get(`?health=${h}`)).total, byHealth(h), h)
  assert.equal((await get('?health=degraded,lost')).total, byHealth('degraded') + byHealth('lost'))
  const risky = await get('?at_risk=true&sort=risk')
  assert.equal(risky.total, all.items.filter((i) => i.at_risk).length)
  assert.equal((await get('?at_risk=false')).total, 10 - risky.total)
  const rank = { lost: 0, degraded: 1, ok: 2 } as Record<string, number>
  for (let i = 1; i < risky.items.length; i++) {
    const [a, b] = [risky.items[i - 1]!, risky.items[i]!]
    assert.ok(
      rank[a.health]! < rank[b.health]! || (rank[a.health] === rank[b.health] && a.copies <= b.copies),
      'riskiest first',
    )
  }
  assert.equal(
    (await get('?swarm=lt4')).total,
    all.items.filter((i) => i.seeders !== null && i.seeders < 4).length,
  )
  assert.equal((await get('?swarm=unknown')).total, all.items.filter((i) => i.seeders === null).length)

  for (const bad of [
    '?limit=0',
    '?limit=1001',
    '?offset=-1',
    '?kind=blob',
    '?health=fine',
    '?health=ok,',
    '?sort=size',
    '?at_risk=maybe',
    '?page=2',
  ]) {
    const r = await app.inject(`/api/torrents${bad}`)
    assert.equal(r.statusCode, 400, bad)
    assert.equal(r.json<ErrorJson>().error.code, 'bad-request', bad)
  }
  assert.match(
    (await app.inject('/api/torrents?limit=5000')).json<ErrorJson>().error.message,
    /parameter limit must be <= 1000/,
  )
})

test('GET /api/seedboxes: the fleet inputs, or an empty list until the fleet lands', async (t) => {
  const tree = await apiTree(t)
  const withFleet = apiServer(t, tree).app
  const r = (await withFleet.inject('/api/seedboxes')).json<{
    copies_target: number
    seedboxes: Array<{
      name: string
      up: boolean
      free_bytes: number | null
      torrents: number
      errors: number
      error: string | null
    }>
  }>()
  assert.equal(r.copies_target, 2)
  assert.deepEqual(
    r.seedboxes.map((s) => [s.name, s.up, s.free_bytes, s.torrents, s.errors, s.error]),
    [
      ['box-1', true, 5e12, 7, 1, null],
      ['box-2', false, null, 0, 0, 'connection refused'],
    ],
  )
  const none = apiServer(t, tree, { inputs: NO_EXTERNAL_INPUTS }).app
  assert.deepEqual((await none.inject('/api/seedboxes')).json<{ seedboxes: unknown[] }>().seedboxes, [])
  const cov = (await none.inject('/api/coverage')).json<{
    totals: { levels: Record<string, { bytes: number }>; swarm: Record<string, { torrents: number }> }
  }>()
  assert.equal(cov.totals.levels.fleet_1!.bytes, 0)
  assert.equal(cov.totals.levels.fleet_n!.bytes, 0)
  assert.equal(cov.totals.swarm.unknown!.torrents, 10)
})

test('GET /api/jobs and POST /api/jobs/NAME/run: runs listed; starting one needs the token', async (t) => {
  const tree = await apiTree(t)
  const { api, gate } = jobs(t, tree)
  const readOnly = apiServer(t, tree, { jobs: api }).app
  const r0 = await readOnly.inject({ method: 'POST', url: '/api/jobs/scan/run' })
  assert.equal(r0.statusCode, 403)
  assert.equal(r0.json<ErrorJson>().error.code, 'read-only')

  const token = 's3cret-token'
  const { app } = apiServer(t, tree, { jobs: api, token })
  const listed = (await app.inject('/api/jobs')).json<{
    jobs: Array<{ name: string; schedule: string; running: boolean; last_run: unknown }>
    runs: unknown[]
  }>()
  assert.deepEqual(
    listed.jobs.map((j) => [j.name, j.schedule, j.running, j.last_run]),
    [
      ['scan', '0 0 1 1 *', false, null],
      ['broken', '0 0 1 1 *', false, null],
    ],
  )
  assert.deepEqual(listed.runs, [])

  for (const authorization of [
    undefined,
    '',
    'Bearer',
    'Bearer wrong-token',
    `Basic ${Buffer.from(`x:${token}`).toString('base64')}`,
    `Bearer ${token}x`,
    `bearer  ${token.slice(0, -1)}`,
  ]) {
    const r = await app.inject({
      method: 'POST',
      url: '/api/jobs/scan/run',
      headers: authorization === undefined ? {} : { authorization },
    })
    assert.equal(r.statusCode, 401, String(authorization))
    assert.equal(r.json<ErrorJson>().error.code, 'unauthorized')
    assert.match(r.headers['www-authenticate'] as string, /^Bearer/)
  }
  assert.equal(
    (await app.inject('/api/jobs')).json<{ runs: unknown[] }>().runs.length,
    0,
    'refused requests start nothing',
  )

  const auth = { authorization: `Bearer ${token}` }
  const started = await app.inject({ method: 'POST', url: '/api/jobs/scan/run', headers: auth })
  assert.equal(started.statusCode, 202, started.body)
  const run = started.json<{
    run: { id: number; job: string; trigger: string; outcome: string; finished_at: null }
  }>().run
  assert.deepEqual([run.job, run.trigger, run.outcome, run.finished_at], ['scan', 'manual', 'running', null])
  assert.equal(started.headers.location, '/api/jobs?job=scan')
  assert.equal(
    (await app.inject('/api/jobs')).json<{ jobs: Array<{ running: boolean }> }>().jobs[0]!.running,
    true,
  )

  const twice = await app.inject({ method: 'POST', url: '/api/jobs/scan/run', headers: auth })
  assert.equal(twice.statusCode, 409)
  assert.equal(twice.json<ErrorJson & { run: { outcome: string } }>().error.code, 'job-running')
  assert.equal(twice.json<{ run: { outcome: string } }>().run.outcome, 'skipped')

  gate.resolve()
  await waitFor(
    'the scan run to finish',
    async () =>
      (await app.inject('/api/jobs?job=scan&limit=5'))
        .json<{ runs: Array<{ id: number; outcome: string }> }>()
        .runs.find((r) => r.id === run.id)?.outcome === 'ok',
  )
  const waited = await app.inject({
    method: 'POST',
    url: '/api/jobs/scan/run?wait=true',
    headers: { authorization: `bearer ${token}` },
  })
  assert.equal(waited.statusCode, 200)
  const done = waited.json<{
    run: { outcome: string; counts: Record<string, number>; duration_ms: number }
  }>().run
  assert.deepEqual([done.outcome, done.counts], ['ok', { entries_read: 3 }])
  assert.equal(typeof done.duration_ms, 'number')
  const failed = await app.inject({ method: 'POST', url: '/api/jobs/broken/run?wait=true', headers: auth })
  assert.equal(failed.statusCode, 200)
  assert.deepEqual(
    (({ outcome, error }) => [outcome, error])(
      failed.json<{ run: { outcome: string; error: string } }>().run,
    ),
    ['failed', 'disk on fire'],
  )

  const unknown = await app.inject({ method: 'POST', url: '/api/jobs/nope/run', headers: auth })
  assert.equal(unknown.statusCode, 404)
  assert.equal(unknown.json<ErrorJson>().error.code, 'unknown-job')
  assert.equal((await app.inject('/api/jobs?job=nope')).statusCode, 404)
  const runs = (await app.inject('/api/jobs?limit=2')).json<{ runs: Array<{ job: string }> }>().runs
  assert.equal(runs.length, 2)
  assert.equal(runs[0]!.job, 'broken', 'newest first')
  assert.equal((await app.inject({ method: 'GET', url: '/api/jobs/scan/run' })).statusCode, 404)
})

test('the token comparison is exact', () => {
  assert.equal(tokenMatches('abc', 'abc'), true)
  for (const other of ['', 'ab', 'abcd', 'ABC', 'abc '])
    assert.equal(tokenMatches(other, 'abc'), false, other)
})

test('GET /api/problems: open problems, counted by code, filtered and paginated; hostile text stays data', async (t) => {
  const tree = await apiTree(t, { hostile: true })
  const { app } = apiServer(t, tree)
  type P = {
    total: number
    by_code: Record<string, number>
    items: Array<{
      code: string
      path: string
      message: string
      scope: string
      collection: string | null
      root: string
    }>
  }
  const all = (await app.inject('/api/problems')).json<P>()
  assert.equal(all.total, 3)
  assert.deepEqual(all.by_code, { 'invalid-meta-file-name': 2, 'unexpected-key': 1 })
  assert.deepEqual(
    all.items
      .filter((p) => p.code === 'invalid-meta-file-name')
      .map((p) => p.path)
      .sort(),
    [...HOSTILE_NAMES].sort(),
  )
  const key = all.items.find((p) => p.code === 'unexpected-key')!
  assert.ok(key.message.includes(JSON.stringify(HOSTILE_KEY)), key.message)
  assert.equal(key.collection, 'hostile_records')
  const names = (await app.inject('/api/problems?code=invalid-meta-file-name&limit=1')).json<P>()
  assert.equal(names.total, 2)
  assert.equal(names.items.length, 1)
  const next = (await app.inject('/api/problems?code=invalid-meta-file-name&limit=1&offset=1')).json<P>()
  assert.notEqual(next.items[0]!.path, names.items[0]!.path)
  assert.equal((await app.inject('/api/problems?scope=meta')).json<P>().total, 1)
  assert.equal((await app.inject('/api/problems?collection=hostile_records')).json<P>().total, 1)
  assert.equal((await app.inject('/api/problems?scope=everywhere')).statusCode, 400)
  // The release with the bad record is cataloged but not held, so no torrent was made for it.
  const cov = (await app.inject('/api/coverage?collection=hostile_records')).json<{
    collections: Array<{ levels: Record<string, { ranges: number }>; release_list: Array<{ state: string }> }>
  }>()
  assert.deepEqual(
    [
      cov.collections[0]!.levels.cataloged!.ranges,
      cov.collections[0]!.levels.held!.ranges,
      cov.collections[0]!.release_list[0]!.state,
    ],
    [1, 0, 'problems'],
  )
})

test('GET /torrents.json: byte for byte the published list file, with the stored swarm figures and seeding state', async (t) => {
  const tree = await apiTree(t)
  // Scrapes as the scrape job stores them: 0, 5, 20 seeders, never scraped, … by position.
  new FleetStore(tree.writer).recordScrape(
    'udp://tracker.example:6969',
    tree.infohashes.flatMap((h, i) =>
      i % 4 === 3 ? [] : [{ infohash: h, seeders: [0, 5, 20][i % 4]!, leechers: 1, completed: 9 }],
    ),
    tree.infohashes.length,
    '2026-11-24T10:00:00.000Z',
    null,
  )
  const { app } = apiServer(t, tree)
  const r = await app.inject('/torrents.json')
  assert.equal(r.statusCode, 200)
  const listPath = await publishList(tree.writer, tree.config)
  assert.ok(listPath)
  assert.equal(
    r.body,
    readFileSync(listPath, 'utf8'),
    'the file and the endpoint: one function, the same bytes',
  )
  type Entry = {
    btih: string
    seeders: number
    leechers: number
    completed: number
    stats_scraped_at: string | null
    aa_currently_seeding: boolean
    url: string
  }
  const list = r.json<Entry[]>()
  assert.equal(list.length, 10)
  const pos = (e: Entry) => tree.infohashes.indexOf(e.btih)
  for (const e of list) {
    assert.equal(e.seeders, pos(e) % 4 === 3 ? 0 : [0, 5, 20][pos(e) % 4])
    assert.equal(e.completed, pos(e) % 4 === 3 ? 0 : 9)
    assert.equal(e.stats_scraped_at, pos(e) % 4 === 3 ? null : '2026-11-24T10:00:00')
    assert.equal(e.aa_currently_seeding, pos(e) < 5)
    assert.ok(e.url.startsWith('https://example.org/t/'))
  }
})

test('GET /healthz: database and engine; 503 when the engine does not answer', async (t) => {
  const tree = await apiTree(t)
  const okServer = apiServer(t, tree, { engine: { kind: 'webtorrent', check: async () => undefined } })
  const ok = okServer.app
  const r = await ok.inject('/healthz')
  assert.equal(r.statusCode, 200)
  const seeding = Math.ceil(tree.infohashes.length / 2)
  const torrents = {
    computed_at: okServer.coverage.last!.computedAt,
    total: seeding,
    states: { seeding },
    problems: 0,
    first_problems: [],
  }
  assert.deepEqual(r.json(), {
    status: 'ok',
    version: '9.9.9-test',
    database: { ok: true },
    engine: { ok: true, kind: 'webtorrent' },
    torrents,
  })
  const down = apiServer(t, tree, {
    engine: {
      kind: 'transmission',
      check: async () =>
        Promise.reject(new Error('transmission: connection refused at http://127.0.0.1:9/transmission/rpc')),
    },
  }).app
  const d = await down.inject('/healthz')
  assert.equal(d.statusCode, 503)
  assert.deepEqual(
    {
      ...d.json<HealthzResponse>(),
      torrents: { ...d.json<HealthzResponse>().torrents, computed_at: torrents.computed_at },
    },
    {
      status: 'unhealthy',
      version: '9.9.9-test',
      database: { ok: true },
      engine: {
        ok: false,
        kind: 'transmission',
        error: 'transmission: connection refused at http://127.0.0.1:9/transmission/rpc',
      },
      torrents,
    },
  )
  assert.equal((await apiServer(t, tree).app.inject('/healthz')).json<{ engine: unknown }>().engine, null)
})

test('GET /healthz answers before the first coverage report has arrived; the API waits for it', async (t) => {
  const tree = await apiTree(t)
  let arrive: () => void = () => undefined
  const first = new Promise<void>((r) => (arrive = r))
  const real = apiServer(t, tree).coverage
  // The first report held back, as when its worker waits for the CPU during start-up.
  let held = true
  const coverage = new Proxy(real, {
    get(target, key) {
      if (key === 'hasSnapshot') return held ? false : target.hasSnapshot
      if (key === 'ready')
        return async () => {
          await first
          return target.ready()
        }
      const v: unknown = Reflect.get(target, key, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  const { app } = apiServer(t, tree, { coverage })
  const health = await app.inject('/healthz')
  assert.equal(health.statusCode, 200)
  let answered = false
  const collections = app.inject('/api/collections').then((r) => ((answered = true), r))
  await new Promise((r) => setTimeout(r, 200))
  assert.equal(answered, false, '/api/collections answered without a coverage report')
  held = false
  arrive()
  assert.equal((await collections).statusCode, 200)
})

test('fences: JSON errors with codes, a CSP without inline script, and loopback Host names only', async (t) => {
  const tree = await apiTree(t)
  const { app } = apiServer(t, tree, { host: '127.0.0.1' })
  const missing = await app.inject('/api/nothing?x=<b>')
  assert.equal(missing.statusCode, 404)
  assert.deepEqual(missing.json(), {
    error: { code: 'not-found', message: 'no such endpoint: GET /api/nothing' },
  })
  assert.equal(
    (await app.inject({ method: 'DELETE', url: '/api/coverage' })).json<ErrorJson>().error.code,
    'not-found',
  )
  const big = await app.inject({
    method: 'POST',
    url: '/api/jobs/scan/run',
    headers: { 'content-type': 'application/json' },
    payload: JSON.stringify({ x: 'y'.repeat(100_000) }),
  })
  assert.equal(big.statusCode, 413)
  assert.equal(big.json<ErrorJson>().error.code, 'payload-too-large')

  for (const url of ['/', '/api/coverage', '/metrics', '/api/nothing']) {
    const r = await app.inject(url)
    const csp = r.headers['content-security-policy'] as string
    assert.match(csp, /default-src 'none'/, url)
    assert.match(csp, /script-src 'self'(;|$)/, url)
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/, url)
    assert.equal(r.headers['x-content-type-options'], 'nosniff', url)
    assert.equal(r.headers['x-frame-options'], 'DENY', url)
  }
  for (const host of ['127.0.0.1:8737', 'localhost:8737', 'localhost', '[::1]:8737', '127.0.0.2'])
    assert.equal((await app.inject({ url: '/api/collections', headers: { host } })).statusCode, 200, host)
  for (const host of ['evil.example', 'evil.example:8737', '127.0.0.1.evil.example', '[::2]:80']) {
    const r = await app.inject({ url: '/api/collections', headers: { host } })
    assert.equal(r.statusCode, 403, host)
    assert.equal(r.json<ErrorJson>().error.code, 'forbidden-host')
  }
  // Bound to all interfaces (behind a proxy, say), any Host is served.
  const open = apiServer(t, tree, { host: '0.0.0.0' }).app
  assert.equal(
    (await open.inject({ url: '/api/collections', headers: { host: 'aacseed.example.org' } })).statusCode,
    200,
  )
})

test('the dashboard: HTML without inline script or outside URLs; script, style and icon served by aacseed', async (t) => {
  const tree = await apiTree(t)
  const { app } = apiServer(t, tree, { refreshSeconds: 7 })
  const page = await app.inject('/')
  assert.equal(page.statusCode, 200)
  assert.match(page.headers['content-type'] as string, /^text\/html; charset=utf-8/)
  const html = page.body
  assert.match(html, /<script type="module" src="\/dashboard.js"><\/script>/)
  assert.equal(html.match(/<script/g)?.length, 1, 'the only script is the external one')
  assert.doesNotMatch(html, /\son[a-z]+=/i, 'no inline event handlers')
  assert.doesNotMatch(html, /\sstyle=/i, 'no inline styles')
  assert.doesNotMatch(html, /(https?:)?\/\/(?!www\.w3\.org)/, 'nothing loaded from elsewhere')
  assert.match(html, /data-refresh-seconds="7"/)
  assert.match(html, /9\.9\.9-test/)
  const js = await app.inject('/dashboard.js')
  assert.equal(js.statusCode, 200)
  assert.match(js.headers['content-type'] as string, /^text\/javascript/)
  assert.doesNotMatch(
    js.body,
    /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function/,
    'the script never parses markup',
  )
  assert.doesNotMatch(js.body, /sourceMappingURL/)
  assert.doesNotMatch(js.body, /https?:\/\/(?!www\.w3\.org\/2000\/svg)/)
  const css = await app.inject('/dashboard.css')
  assert.match(css.headers['content-type'] as string, /^text\/css/)
  assert.doesNotMatch(css.body, /@import|url\(/)
  assert.equal((await app.inject('/favicon.svg')).statusCode, 200)
})

test('GET /api/timeline: compact rows whose names the dashboard rebuilds exactly; gzip when large', async (t) => {
  const tree = await apiTree(t, { hostile: true })
  const base = fakeInputs(tree.infohashes)
  // 600 releases known upstream only in each of two collections: a timeline big enough to be
  // compressed, even with only the first LIST_LIMIT of each drawn.
  const upstream = ['zlib3_records', 'duxiu_records'].flatMap((collection) =>
    Array.from({ length: 600 }, (_, i) => {
      const from = T0 + 86400 * 10 + i * 100
      const ts = (s: number) =>
        new Date(s * 1000)
          .toISOString()
          .replace(/\.\d{3}Z$/, 'Z')
          .replace(/[-:]/g, '')
      return {
        name: `other_institute_meta__aacid__${collection}__${ts(from)}--${ts(from + 99)}.jsonl.zst`,
        kind: 'meta' as const,
        collection,
        from: ts(from),
        to: ts(from + 99),
        fromS: from,
        toS: from + 99,
        bytes: 1000,
      }
    }),
  )
  upstream.push({
    ...upstream[0]!,
    name: 'not-a-standard-name',
    fromS: upstream[0]!.fromS - 5000,
    toS: upstream[0]!.fromS - 4000,
  })
  const { app } = apiServer(t, tree, { inputs: { read: () => ({ ...base.figures, upstream }) } })
  const plain = await app.inject('/api/timeline')
  assert.equal(plain.statusCode, 200)
  assert.equal(plain.headers['content-encoding'], undefined)
  assert.equal(plain.headers.vary, 'accept-encoding')
  const tl = plain.json<Parameters<typeof timelineRows>[0]>()
  assert.deepEqual(tl.columns, [
    'name',
    'kind',
    'from_s',
    'to_s',
    'state',
    'bytes',
    'records',
    'files',
    'problems',
    'copies',
    'target',
    'seeders',
  ])
  assert.deepEqual(tl.prefixes.sort(), ['annas_archive', 'other_institute'])
  const detail = (await app.inject('/api/coverage?detail=true')).json<{
    collections: Array<{
      collection: string
      release_list: Array<{
        name: string
        kind: string
        from_s: number
        to_s: number
        state: string
        bytes: number
        copies: number
        seeders: number | null
      }>
    }>
  }>()
  const rows = timelineRows(tl)
  for (const c of detail.collections) {
    const line = rows.get(c.collection)!
    assert.deepEqual(
      line.release_list.map((r) => [
        line.nameOf(r),
        r.kind,
        r.from_s,
        r.to_s,
        r.state,
        r.bytes,
        r.copies,
        r.seeders,
      ]),
      c.release_list.map((r) => [r.name, r.kind, r.from_s, r.to_s, r.state, r.bytes, r.copies, r.seeders]),
      c.collection,
    )
  }
  // 601 known upstream only, the first LIST_LIMIT of them drawn.
  assert.equal(
    rows.get('zlib3_records')!.release_list.filter((r) => r.state === 'upstream').length,
    Math.min(601, LIST_LIMIT),
  )

  const zipped = await app.inject({
    url: '/api/timeline',
    headers: { 'accept-encoding': 'gzip, deflate, br' },
  })
  assert.equal(zipped.headers['content-encoding'], 'gzip')
  assert.ok(zipped.rawPayload.length < plain.rawPayload.length / 4)
  assert.equal(gunzipSync(zipped.rawPayload).toString(), plain.body)
  const one = (await app.inject('/api/timeline?collection=duxiu_records')).json<{
    collections: Array<{ collection: string }>
  }>()
  assert.deepEqual(
    one.collections.map((c) => c.collection),
    ['duxiu_records'],
  )
  assert.equal((await app.inject('/api/timeline?collection=nope')).statusCode, 404)
  const cov = (await app.inject('/api/coverage?collection=zlib3_records')).json<{
    collections: Array<{ missing: number; missing_list: Array<{ name: string }> }>
  }>()
  assert.equal(cov.collections[0]!.missing, 601)
})

test('a long upstream list: the API counts every release and lists the first LIST_LIMIT (gaps, missing, releases)', async (t) => {
  const tree = await apiTree(t)
  const base = fakeInputs(tree.infohashes)
  // 1,500 releases known upstream only, each followed by a gap of 50 s.
  const ts = (s: number) =>
    new Date(s * 1000)
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')
      .replace(/[-:]/g, '')
  const upstream = Array.from({ length: 1500 }, (_, i) => {
    const from = T0 + 86400 * 10 + i * 100
    return {
      name: `annas_archive_meta__aacid__upstream_only__${ts(from)}--${ts(from + 49)}.jsonl.zst`,
      kind: 'meta' as const,
      collection: 'upstream_only',
      from: ts(from),
      to: ts(from + 49),
      fromS: from,
      toS: from + 49,
      bytes: 1000,
    }
  })
  const { app } = apiServer(t, tree, { inputs: { read: () => ({ ...base.figures, upstream }) } })
  const cov = (await app.inject('/api/coverage?collection=upstream_only')).json<{
    collections: Array<{
      releases: number
      bytes: number
      missing: number
      unlisted_releases: number
      gaps: { count: number; seconds: number }
      missing_list: Array<{ name: string }>
      gap_list: Array<{ after: string; before: string }>
      release_list: Array<{ name: string; state: string }>
    }>
  }>()
  const c = cov.collections[0]!
  assert.equal(c.releases, 1500)
  assert.equal(c.bytes, 1_500_000)
  assert.equal(c.missing, 1500)
  assert.equal(c.missing_list.length, LIST_LIMIT)
  assert.equal(c.missing_list[0]!.name, upstream[0]!.name)
  assert.deepEqual(c.gaps, { count: 1499, seconds: 1499 * 50 })
  assert.equal(c.gap_list.length, LIST_LIMIT)
  assert.deepEqual(c.gap_list[0], { ...c.gap_list[0]!, after: upstream[0]!.name, before: upstream[1]!.name })
  assert.equal(c.release_list.length, LIST_LIMIT)
  assert.equal(c.unlisted_releases, 1500 - LIST_LIMIT)
  const summary = (await app.inject('/api/coverage')).json<{ totals: { missing: number; gaps: number } }>()
  assert.ok(summary.totals.missing >= 1500)
  assert.ok(summary.totals.gaps >= 1499)
  const cols = (await app.inject('/api/collections')).json<{
    collections: Array<{ collection: string; missing: number; gaps: number }>
  }>()
  assert.deepEqual(
    cols.collections.filter((x) => x.collection === 'upstream_only').map((x) => [x.missing, x.gaps]),
    [[1500, 1499]],
  )
  const tl = (await app.inject('/api/timeline?collection=upstream_only')).json<{
    collections: Array<{
      gap_count: number
      unlisted_releases: number
      gap_list: unknown[]
      releases: unknown[]
    }>
  }>()
  assert.deepEqual(
    tl.collections.map((x) => [x.gap_count, x.unlisted_releases, x.gap_list.length, x.releases.length]),
    [[1499, 1500 - LIST_LIMIT, LIST_LIMIT, LIST_LIMIT]],
  )
  const metrics = (await app.inject('/metrics')).body
  assert.match(metrics, /aacseed_coverage_missing_releases\{collection="upstream_only"\} 1500\n/)
  assert.match(metrics, /aacseed_coverage_gaps\{collection="upstream_only"\} 1499\n/)
})

test('coverage takes the health state as it is: fleetCoverageInputs passes the figures through', () => {
  const figures = {
    copiesTarget: 3,
    fleet: new Map([['a'.repeat(40), { copies: 0, seedboxCopies: 0, target: 3, health: 'lost' as const }]]),
    swarm: new Map([
      ['a'.repeat(40), { seeders: 7, leechers: 1, completed: 2, scrapedAt: '2026-11-24T10:00:00' }],
    ]),
    seedboxes: [],
  }
  const read = fleetCoverageInputs(() => figures).read()
  assert.equal(read.copiesTarget, 3)
  assert.equal(read.fleet.get('a'.repeat(40))!.health, 'lost')
  assert.equal(read.swarm.get('a'.repeat(40))!.seeders, 7)
  assert.deepEqual(read.upstream, [])
})

test('GET /healthz stays small whatever the number of torrents: counts, the problems total and the first few', async (t) => {
  const tree = await apiTree(t)
  const real = apiServer(t, tree).coverage
  const base = real.current()
  const template = base.report.torrents[0]!
  // 10,000 torrents, one in four failing in the engine: the report every view reads, made large.
  const many = Array.from({ length: 10_000 }, (_, i) => ({
    ...template,
    name: `${template.name}-${i}`,
    infohash: i.toString(16).padStart(40, '0'),
    engineState: i % 4 === 0 ? 'error' : i % 4 === 1 ? 'missing' : 'seeding',
  }))
  const big = {
    ...base,
    generation: base.generation + 1,
    report: {
      ...base.report,
      torrents: many,
      engine: { torrents: 10_000, states: { seeding: 5000, error: 2500, missing: 2500 } },
    },
  }
  const coverage = new Proxy(real, {
    get(target, key) {
      if (key === 'current') return () => big
      if (key === 'last') return big
      const v: unknown = Reflect.get(target, key, target)
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v
    },
  })
  const { app } = apiServer(t, tree, {
    coverage,
    engine: { kind: 'webtorrent', check: async () => undefined },
  })
  const r = await app.inject('/healthz')
  assert.equal(r.statusCode, 200, 'torrents in trouble do not make serve unhealthy')
  const body = r.json<HealthzResponse>()
  assert.equal(body.torrents?.total, 10_000)
  assert.equal(body.torrents?.computed_at, big.computedAt)
  assert.deepEqual(body.torrents?.states, { seeding: 5000, error: 2500, missing: 2500 })
  assert.equal(body.torrents?.problems, 5000)
  assert.equal(body.torrents?.first_problems.length, HEALTHZ_PROBLEMS)
  assert.deepEqual(body.torrents?.first_problems[1], {
    name: `${template.name}-1`,
    infohash: (1).toString(16).padStart(40, '0'),
    engine_state: 'missing',
  })
  assert.ok(r.body.length < 4096, `a probe's answer of ${r.body.length} bytes`)
})

test('GET /healthz reads the last coverage report as it is: a probe never starts a recomputation', async (t) => {
  const tree = await apiTree(t)
  const { app, coverage } = apiServer(t, tree)
  // The server's first report is in (it asks for it as it starts).
  assert.equal((await app.inject('/healthz')).statusCode, 200)
  const first = coverage.last!
  let asked = 0
  const compute = coverage.current.bind(coverage)
  coverage.current = () => {
    asked++
    return compute()
  }
  // The database changes (as a job writing a large upstream list does): the next current()
  // would recompute over it; the probes must not be the ones to ask.
  coverage.invalidateNow()
  for (let i = 0; i < 5; i++) {
    const r = await app.inject('/healthz')
    assert.equal(r.statusCode, 200)
    assert.equal(r.json<HealthzResponse>().torrents?.computed_at, first.computedAt)
  }
  assert.equal(asked, 0, 'no probe called current()')
  assert.equal(coverage.last, first, 'no report was recomputed for the probes')
  // The first request that needs the report is the one that asks.
  assert.equal((await app.inject('/api/coverage')).statusCode, 200)
  assert.equal(asked, 1)
  assert.equal(coverage.last?.generation, first.generation + 1)
})

test("serve's /healthz asks the engine whether it works, never for its list of torrents", async (t) => {
  const tree = await apiTree(t)
  const calls = { list: 0, ping: 0 }
  const engine = new (class extends FakeEngine {
    override async list() {
      calls.list++
      return super.list()
    }
    override async ping() {
      calls.ping++
    }
  })()
  const jobs: JobsApi = {
    schedules: () => ({}),
    running: () => [],
    recentRuns: () => [],
    start: () => Promise.reject(new Error('no jobs here')),
  }
  const server = await startServeHttp({
    config: { ...tree.config, http: { ...tree.config.http, host: '127.0.0.1', port: 0 } },
    engine,
    jobs,
    logger: pino({ level: 'silent' }),
    env: {},
    inputs: fakeInputs(tree.infohashes),
  })
  t.after(() => server.close())
  for (let i = 0; i < 3; i++) {
    const r = await fetch(`${server.url}healthz`)
    assert.equal(r.status, 200)
  }
  assert.deepEqual(calls, { list: 0, ping: 3 })
})
