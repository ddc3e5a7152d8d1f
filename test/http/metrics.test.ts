/**
 * GET /metrics: valid Prometheus text exposition (checked by a strict parser written from the
 * format's specification), the series the README documents, and values equal to the API's.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { METRIC_NAMES, PER_TORRENT_METRIC_NAMES, runnerJobs } from '../../src/http/index.js'
import { JobRunner } from '../../src/jobs/index.js'
import { REPO_ROOT, waitFor } from '../helpers.js'
import { apiServer, apiTree, silentLogger } from './fixtures.js'

// ---- a strict parser of the text format, version 0.0.4 -----------------------------------------

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}
interface Family {
  name: string
  type: string
  help: string
  samples: Sample[]
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]?Inf|NaN)$/
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped'])

function parseFloatStrict(s: string, where: string): number {
  if (!FLOAT.test(s)) throw new Error(`${where}: bad value ${JSON.stringify(s)}`)
  return s.endsWith('Inf') ? (s.startsWith('-') ? -Infinity : Infinity) : Number(s)
}

/** The family a sample belongs to: histogram and summary samples carry suffixes. */
function familyOf(sample: string, families: Map<string, Family>): Family | undefined {
  for (const suffix of ['', '_bucket', '_sum', '_count']) {
    if (!sample.endsWith(suffix)) continue
    const f = families.get(sample.slice(0, sample.length - suffix.length))
    if (f && (suffix === '' || f.type === 'histogram' || (f.type === 'summary' && suffix !== '_bucket')))
      return f
  }
  return undefined
}

function parseLabels(text: string, where: string): Record<string, string> {
  const labels: Record<string, string> = {}
  let i = 0
  while (i < text.length) {
    const eq = text.indexOf('=', i)
    if (eq < 0) throw new Error(`${where}: label without =`)
    const name = text.slice(i, eq)
    if (!LABEL_NAME.test(name)) throw new Error(`${where}: bad label name ${JSON.stringify(name)}`)
    if (name in labels) throw new Error(`${where}: label ${name} twice`)
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`)
    let value = ''
    let j = eq + 2
    for (;;) {
      const c = text[j]
      if (c === undefined) throw new Error(`${where}: unterminated label value`)
      if (c === '"') break
      if (c === '\\') {
        const n = text[j + 1]
        if (n === '\\') value += '\\'
        else if (n === '"') value += '"'
        else if (n === 'n') value += '\n'
        else throw new Error(`${where}: bad escape \\${n}`)
        j += 2
      } else if (c === '\n') {
        throw new Error(`${where}: raw newline in a label value`)
      } else {
        value += c
        j++
      }
    }
    labels[name] = value
    i = j + 1
    if (i < text.length) {
      if (text[i] !== ',') throw new Error(`${where}: expected , between labels`)
      i++
    }
  }
  return labels
}

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline')
  const families = new Map<string, Family>()
  const closed = new Set<string>()
  const series = new Set<string>()
  let current: Family | undefined
  text
    .slice(0, -1)
    .split('\n')
    .forEach((line, n) => {
      const where = `line ${n + 1}`
      if (line === '') return // empty lines are ignored (the format says so)
      if (line.startsWith('#')) {
        const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line)
        if (!m) return // a plain comment
        const [, kind, name, rest] = m as unknown as [string, string, string, string]
        if (!METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name ${name}`)
        let f = families.get(name)
        if (f && closed.has(name)) throw new Error(`${where}: ${name} declared again after its samples`)
        if (!f) {
          if (current) closed.add(current.name)
          f = { name, type: 'untyped', help: '', samples: [] }
          families.set(name, f)
          current = f
        }
        if (kind === 'TYPE') {
          if (!TYPES.has(rest)) throw new Error(`${where}: bad type ${rest}`)
          if (f.samples.length > 0) throw new Error(`${where}: TYPE after samples of ${name}`)
          f.type = rest
        } else {
          if (/\\[^\\n]/.test(rest)) throw new Error(`${where}: bad escape in HELP`)
          f.help = rest
        }
        return
      }
      const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: (-?\d+))?$/.exec(line)
      if (!m) throw new Error(`${where}: not a sample: ${JSON.stringify(line)}`)
      const [, name, labelText, value] = m as unknown as [string, string, string | undefined, string]
      const f = familyOf(name, families)
      if (!f) throw new Error(`${where}: sample ${name} has no TYPE or HELP before it`)
      if (f !== current || closed.has(f.name))
        throw new Error(`${where}: samples of ${f.name} are not together`)
      const labels = parseLabels(labelText ?? '', where)
      const key = `${name}{${Object.entries(labels)
        .sort()
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(',')}}`
      if (series.has(key)) throw new Error(`${where}: duplicate series ${key}`)
      series.add(key)
      f.samples.push({ name, labels, value: parseFloatStrict(value, where) })
    })
  for (const f of families.values()) {
    if (f.type === 'counter' && f.samples.some((s) => s.value < 0 || Number.isNaN(s.value)))
      throw new Error(`${f.name}: a counter below 0`)
    if (f.type === 'histogram') checkHistogram(f)
  }
  return families
}

function checkHistogram(f: Family): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>()
  for (const s of f.samples) {
    const { le, ...rest } = s.labels
    const key = JSON.stringify(Object.entries(rest).sort())
    const g = groups.get(key) ?? { buckets: [] }
    groups.set(key, g)
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: bucket without le`)
      g.buckets.push([parseFloatStrict(le, f.name), s.value])
    } else if (s.name === `${f.name}_sum`) g.sum = s.value
    else if (s.name === `${f.name}_count`) g.count = s.value
    else throw new Error(`${f.name}: unexpected sample ${s.name}`)
  }
  for (const g of groups.values()) {
    const last = g.buckets[g.buckets.length - 1]
    if (!last || last[0] !== Infinity) throw new Error(`${f.name}: no +Inf bucket`)
    if (g.count !== last[1] || g.sum === undefined)
      throw new Error(`${f.name}: _count differs from the +Inf bucket, or _sum missing`)
    for (let i = 1; i < g.buckets.length; i++)
      if (g.buckets[i]![0] <= g.buckets[i - 1]![0] || g.buckets[i]![1] < g.buckets[i - 1]![1])
        throw new Error(`${f.name}: buckets not cumulative`)
  }
}

const value = (
  f: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined =>
  familyOf(name, f)?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value

test('the strict parser accepts the format and refuses what it forbids', () => {
  const ok =
    '# HELP a_total Things.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 3\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 3.5\nh_count 2\n'
  const f = parseExposition(ok)
  assert.equal(f.get('a_total')!.samples[0]!.labels.x, 'q"\\\n')
  for (const bad of [
    'a 1',
    '# TYPE a gauge\na  1\n',
    'a 1\n',
    '# TYPE a gauge\na{x="1"} one\n',
    '# TYPE a gauge\na{x=1} 1\n',
    '# TYPE a gauge\na{x="\\t"} 1\n',
    '# TYPE a gauge\na 1\na 2\n',
    '# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n',
    '# TYPE a thing\na 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
  ]) {
    assert.throws(() => parseExposition(bad), Error, JSON.stringify(bad))
  }
})

test('GET /metrics: valid exposition with every documented series, equal to the API', async (t) => {
  const tree = await apiTree(t, { hostile: true })
  const runner = new JobRunner({
    db: tree.writer,
    logger: silentLogger,
    jobs: [
      { name: 'scan', schedule: '0 0 1 1 *', run: async () => ({ entries_read: 1 }) },
      { name: 'broken', schedule: '0 0 1 1 *', run: async () => Promise.reject(new Error('no')) },
    ],
  })
  t.after(() => runner.stop(1000))
  const { app } = apiServer(t, tree, { jobs: runnerJobs(runner, { scan: '0 0 1 1 *', broken: '0 0 1 1 *' }) })
  const r = await app.inject('/metrics')
  assert.equal(r.statusCode, 200)
  assert.match(r.headers['content-type'] as string, /^text\/plain; version=0\.0\.4; charset=utf-8/)
  let f = parseExposition(r.body)
  // Prometheus asks for gzip: the same text, compressed.
  const zipped = await app.inject({ url: '/metrics', headers: { 'accept-encoding': 'gzip' } })
  assert.equal(zipped.headers['content-encoding'], 'gzip')
  assert.equal(gunzipSync(zipped.rawPayload).toString(), r.body)

  for (const name of METRIC_NAMES) assert.ok(f.has(name), `${name} is exported`)
  for (const name of PER_TORRENT_METRIC_NAMES) assert.ok(!f.has(name), `${name} is off by default`)
  for (const fam of f.values()) {
    assert.ok(fam.help.length > 0, `${fam.name} has HELP`)
    if (fam.type === 'counter') assert.match(fam.name, /_total$/)
    if (fam.name.startsWith('aacseed_')) assert.ok(fam.type !== 'counter' || fam.name.endsWith('_total'))
    else assert.match(fam.name, /^(process|nodejs)_/, 'only prom-client defaults are unprefixed')
  }
  assert.equal(f.get('aacseed_job_duration_seconds')!.type, 'histogram')
  assert.equal(f.get('aacseed_coverage_ratio')!.type, 'gauge')

  const cov = (await app.inject('/api/coverage')).json<{
    collections: Array<{
      collection: string
      bytes: number
      levels: Record<
        string,
        { ratio: number; bytes: number; records: number; ranges: number; seconds: number }
      >
      gaps: { count: number; seconds: number }
      swarm: Record<string, { torrents: number; bytes: number }>
    }>
    totals: { health: Record<string, number>; at_risk: number }
  }>()
  for (const c of cov.collections) {
    assert.equal(value(f, 'aacseed_collection_bytes', { collection: c.collection }), c.bytes)
    for (const [level, l] of Object.entries(c.levels)) {
      assert.equal(
        value(f, 'aacseed_coverage_ratio', { collection: c.collection, level }),
        l.ratio,
        `${c.collection} ${level}`,
      )
      assert.equal(value(f, 'aacseed_coverage_bytes', { collection: c.collection, level }), l.bytes)
    }
    assert.equal(value(f, 'aacseed_coverage_gaps', { collection: c.collection }), c.gaps.count)
    for (const [bucket, b] of Object.entries(c.swarm))
      assert.equal(value(f, 'aacseed_swarm_bytes', { collection: c.collection, bucket }), b.bytes)
  }
  for (const [health, n] of Object.entries(cov.totals.health))
    assert.equal(value(f, 'aacseed_torrents', { health }), n)
  assert.equal(value(f, 'aacseed_torrents_at_risk'), cov.totals.at_risk)
  assert.equal(value(f, 'aacseed_seedbox_up', { seedbox: 'box-1' }), 1)
  assert.equal(value(f, 'aacseed_seedbox_up', { seedbox: 'box-2' }), 0)
  assert.equal(value(f, 'aacseed_seedbox_free_bytes', { seedbox: 'box-1' }), 5e12)
  assert.equal(
    value(f, 'aacseed_seedbox_free_bytes', { seedbox: 'box-2' }),
    undefined,
    'unknown free space is absent, not 0',
  )
  assert.equal(value(f, 'aacseed_problems', { scope: 'root', code: 'invalid-meta-file-name' }), 2)
  assert.equal(value(f, 'aacseed_problems', { scope: 'meta', code: 'unexpected-key' }), 1)
  assert.equal(value(f, 'aacseed_engine_torrents', { state: 'seeding' }), 5)
  assert.equal(value(f, 'aacseed_copies_target'), 2)
  assert.equal(value(f, 'aacseed_build_info', { version: '9.9.9-test' }), 1)

  // Job runs finishing while the server runs are counted, once each.
  await runner.runNow('scan', 'manual')
  await runner.runNow('scan', 'manual')
  await runner.runNow('broken', 'manual')
  await waitFor('the job series', async () => {
    f = parseExposition((await app.inject('/metrics')).body)
    return value(f, 'aacseed_job_failures_total', { job: 'broken' }) === 1
  })
  assert.equal(value(f, 'aacseed_job_runs_total', { job: 'scan', outcome: 'ok' }), 2)
  assert.equal(value(f, 'aacseed_job_runs_total', { job: 'broken', outcome: 'failed' }), 1)
  assert.equal(value(f, 'aacseed_job_duration_seconds_count', { job: 'scan' }), 2)
  assert.equal(value(f, 'aacseed_job_duration_seconds_bucket', { job: 'scan', le: '+Inf' }), 2)
  assert.ok(
    (value(f, 'aacseed_job_last_success_timestamp_seconds', { job: 'scan' }) ?? 0) > Date.now() / 1000 - 60,
  )
  assert.equal(value(f, 'aacseed_job_last_success_timestamp_seconds', { job: 'broken' }), undefined)
  assert.equal(value(f, 'aacseed_job_running', { job: 'scan' }), 0)
  // Scraped again with nothing new: the counters stay.
  f = parseExposition((await app.inject('/metrics')).body)
  assert.equal(value(f, 'aacseed_job_runs_total', { job: 'scan', outcome: 'ok' }), 2)
})

test('per-torrent series only when enabled', async (t) => {
  const tree = await apiTree(t)
  const { app } = apiServer(t, tree, { perTorrentMetrics: true })
  const f = parseExposition((await app.inject('/metrics')).body)
  assert.equal(f.get('aacseed_torrent_copies')!.samples.length, 10)
  assert.equal(f.get('aacseed_torrent_size_bytes')!.samples.length, 10)
  // Never-scraped torrents have no seeders series (absent, not 0).
  assert.equal(f.get('aacseed_torrent_swarm_seeders')!.samples.length, 10 - Math.floor(10 / 4))
  const s = f.get('aacseed_torrent_copies')!.samples[0]!
  assert.match(s.labels.infohash!, /^[0-9a-f]{40}$/)
  assert.ok(s.labels.collection && s.labels.name)
})

test('the README documents exactly the series /metrics exports', () => {
  const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8')
  const start = readme.indexOf('## Metrics')
  assert.ok(start >= 0, 'README has a Metrics section')
  const section = readme.slice(start, readme.indexOf('\n## ', start + 1))
  const documented = new Set(section.match(/\baacseed_[a-z0-9_]+/g) ?? [])
  assert.deepEqual([...documented].sort(), [...METRIC_NAMES, ...PER_TORRENT_METRIC_NAMES].sort())
})
