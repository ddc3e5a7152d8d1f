/**
 * npm run bench:mirror-list — the issue #12 case: a 1,000,000-entry upstream list (about
 * 200 MB, inside the default limits), read
 * 1. by `aacseed mirror sources` (fetch, parse, store, and the text report), and
 * 2. by the `mirror_sync` job inside `aacseed serve` (its start-up run), while /healthz is
 *    asked every 100 ms, and `GET /api/coverage` and `GET /metrics` (the views that read coverage,
 *    so recompute it over the stored list) every 500 ms, during the job and after it until the
 *    coverage report holds the list and has been recomputed once more: the slowest answers and
 *    serve's peak RSS over all of it are printed.
 * Prints time and peak RSS of each; the bar is 30 s and 400 MB, and /healthz within 1 s
 * throughout (the coverage probes are held to the 400 MB too; their latency is reported). The list is served over HTTP from 127.0.0.1, fetched and parsed in a worker
 * thread as any remote list. ENTRIES=N sets the size (e.g. ENTRIES=100000 for a quick try).
 * `npm run bench:mirror` runs this too.
 */
import { spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { TestContext } from 'node:test'
import { freePort } from '../test/helpers.js'
import { startStaticServer } from '../test/mirror/fixtures.js'
import { SEED_CACHE } from './data.js'
import { measure, vmHwmKb } from './measure.js'

const repo = resolve(import.meta.dirname, '..', '..')
const cli = join(repo, 'bin', 'aacseed.js')

function ts(sec: number): string {
  return new Date(Date.UTC(2024, 0, 1) + sec * 1000).toISOString().replace(/[-:]|\.\d+/g, '')
}

/** The list, written once per size and kept in the bench cache. */
function writeList(dir: string, n: number): { bytes: number } {
  const path = join(dir, `torrents-${n}.json`)
  const done = `${path}.done`
  if (existsSync(done)) return { bytes: Number(readFileSync(done, 'utf8')) }
  const tmp = `${path}.tmp`
  const fd = openSync(tmp, 'w')
  writeSync(fd, '[')
  let bytes = 1
  let buf: string[] = []
  for (let i = 0; i < n; i++) {
    const name = `annas_archive_meta__aacid__coll${i % 50}__${ts(i * 10)}--${ts(i * 10 + 9)}.jsonl.seekable.zst`
    const btih = createHash('sha1').update(name).digest('hex')
    buf.push(
      (i ? ',' : '') +
        JSON.stringify({
          display_name: `${name}.torrent`,
          btih,
          data_size: 1000 + i,
          added_to_torrents_list_at: '2024-01-02',
        }),
    )
    if (buf.length === 10_000) {
      const s = buf.join('')
      bytes += Buffer.byteLength(s)
      writeSync(fd, s)
      buf = []
    }
  }
  const s = buf.join('') + ']'
  bytes += Buffer.byteLength(s)
  writeSync(fd, s)
  closeSync(fd)
  renameSync(tmp, path)
  writeFileSync(done, String(bytes))
  return { bytes }
}

async function probe(url: string): Promise<{ ms: number; body: ArrayBuffer | null }> {
  const started = performance.now()
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(10_000) })
    const body = await r.arrayBuffer()
    return { ms: performance.now() - started, body: r.ok ? body : null }
  } catch {
    return { ms: 10_000, body: null }
  }
}

async function healthLatency(url: string): Promise<number> {
  return (await probe(url)).ms
}

/** The slowest and the count of a probe's answers. */
class Probes {
  count = 0
  maxMs = 0
  maxAt = 0
  slow = 0
  readonly #all: number[] = []
  add(ms: number, at: number): void {
    this.count++
    this.#all.push(ms)
    if (ms > this.maxMs) [this.maxMs, this.maxAt] = [ms, at]
    if (ms > 1000) this.slow++
  }
  text(): string {
    const sorted = [...this.#all].sort((a, b) => a - b)
    const p50 = sorted[Math.floor(sorted.length / 2)] ?? NaN
    return `${this.count} probes, median ${p50.toFixed(0)} ms, slowest ${this.maxMs.toFixed(0)} ms (sent ${this.maxAt.toFixed(1)} s after serve was started), ${this.slow} over 1 s`
  }
}

interface JobRun {
  job: string
  duration_ms: number | null
  outcome: string
  finished_at: string | null
  counts: Record<string, number> | null
  error: string | null
}

async function serveCase(dir: string, listUrl: string, entries: number): Promise<void> {
  const work = join(dir, 'serve')
  rmSync(work, { recursive: true, force: true })
  mkdirSync(join(work, 'releases'), { recursive: true })
  const port = await freePort()
  writeFileSync(
    join(work, 'aacseed.toml'),
    `[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = "torrents.json"\n` +
      `[engine.webtorrent]\nhost = "127.0.0.1"\nport = ${await freePort()}\ndht = false\nlsd = false\n` +
      `[http]\nenabled = true\nhost = "127.0.0.1"\nport = ${port}\n` +
      `[[mirror.sources]]\nname = "big"\nlist = ${JSON.stringify(listUrl)}\ncollections = ["none-followed"]\n`,
  )
  const child = spawn(process.execPath, [cli, 'serve', '--config', join(work, 'aacseed.toml')], {
    cwd: work,
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
  let peakKb = 0
  const rss = setInterval(() => (peakKb = Math.max(peakKb, (child.pid && vmHwmKb(child.pid)) || 0)), 20)
  const base = `http://127.0.0.1:${port}`
  try {
    const deadline = Date.now() + 600_000
    let maxMs = 0
    let maxAt = 0
    let slow = 0
    let probes = 0
    const coverage = new Probes()
    const metrics = new Probes()
    const spawnedAt = performance.now()
    let run: JobRun | undefined
    let jobPeakKb = 0
    let tick = 0
    // After the job: the report that holds the list, and one generation after it.
    let holdsAt: number | undefined
    let generation: number | undefined
    let afterJob = 0
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`serve exited ${child.exitCode}: ${stderr}`)
      const sentAt = performance.now()
      const at = (sentAt - spawnedAt) / 1000
      const ms = await healthLatency(`${base}/healthz`)
      // Probes count from the first answer: before it, serve is still starting.
      if (ms < 10_000 || probes > 0) {
        probes++
        if (ms > maxMs) [maxMs, maxAt] = [ms, at]
        if (ms > 1000) slow++
        if (tick++ % 5 === 0) {
          const c = await probe(`${base}/api/coverage`)
          coverage.add(c.ms, (performance.now() - spawnedAt) / 1000 - c.ms / 1000)
          const m = await probe(`${base}/metrics`)
          metrics.add(m.ms, (performance.now() - spawnedAt) / 1000 - m.ms / 1000)
          if (run && c.body) {
            const body = JSON.parse(Buffer.from(c.body).toString()) as {
              generation: number
              totals: { releases: number }
            }
            if (holdsAt === undefined && body.totals.releases >= entries) {
              holdsAt = at
              generation = body.generation
            }
            if (holdsAt !== undefined && body.generation !== generation) afterJob++
          }
        }
      }
      if (!run) {
        try {
          const jobs = (await (await fetch(`${base}/api/jobs?job=mirror_sync`)).json()) as {
            runs: JobRun[]
          }
          // A scheduled run that found the start-up run still going is recorded `skipped`: not the one measured.
          run = jobs.runs.find(
            (r) => r.job === 'mirror_sync' && r.finished_at !== null && r.outcome !== 'skipped',
          )
          if (run) jobPeakKb = peakKb
        } catch {
          // not listening yet
        }
      }
      // Done once a report over the list was answered and a later generation too (or 60 s after).
      if (run && (afterJob > 0 || (holdsAt !== undefined && at - holdsAt > 60))) break
      await new Promise((r) => setTimeout(r, 100))
    }
    if (!run) throw new Error(`the mirror_sync job did not finish in 600 s: ${stderr}`)
    if (holdsAt === undefined)
      throw new Error(`/api/coverage never reported the ${entries} releases: ${stderr}`)
    console.log(
      `the mirror_sync job inside serve (${entries} entries): ${((run.duration_ms ?? NaN) / 1000).toFixed(1)} s, outcome ${run.outcome}${run.error ? ` (${run.error})` : ''}, ` +
        `serve's peak RSS ${(jobPeakKb / 1024).toFixed(0)} MB by its end; /healthz: ${probes} probes, slowest ${maxMs.toFixed(0)} ms (sent ${maxAt.toFixed(1)} s after serve was started), ${slow} over 1 s (bar: 30 s, 400 MB, 1 s)`,
    )
    console.log(
      `coverage over the list in serve (reported from ${holdsAt.toFixed(1)} s after start): serve's peak RSS ${(peakKb / 1024).toFixed(0)} MB over the job and the coverage probes (bar: 400 MB); ` +
        `GET /api/coverage: ${coverage.text()}; GET /metrics: ${metrics.text()}`,
    )
  } finally {
    clearInterval(rss)
    const exited = new Promise((r) => child.once('exit', r))
    child.kill('SIGTERM')
    await exited
  }
}

export async function mirrorListBench(n = Number(process.env.ENTRIES ?? 1_000_000)): Promise<void> {
  const dir = join(SEED_CACHE, 'mirror-list-run')
  mkdirSync(dir, { recursive: true })
  const { bytes } = writeList(dir, n)
  const cleanups: Array<() => unknown> = []
  const ctx = { after: (fn: () => unknown) => cleanups.push(fn) } as unknown as TestContext
  try {
    const site = await startStaticServer(ctx, dir)
    const listUrl = `${site.url}/torrents-${n}.json`
    console.log(
      `list: ${n} entries, ${(bytes / 1e6).toFixed(0)} MB, served from 127.0.0.1 (the machine may be shared)`,
    )

    const cliDir = join(dir, 'cli')
    rmSync(cliDir, { recursive: true, force: true })
    mkdirSync(join(cliDir, 'root'), { recursive: true })
    writeFileSync(
      join(cliDir, 'aacseed.toml'),
      `[catalog]\nroots = [${JSON.stringify(join(cliDir, 'root'))}]\ndatabase = ${JSON.stringify(join(cliDir, 'aacseed.db'))}\n[http]\nenabled = false\n` +
        `[[mirror.sources]]\nname = "big"\nlist = ${JSON.stringify(listUrl)}\ncollections = ["none-followed"]\n`,
    )
    const r = await measure(process.execPath, [
      cli,
      'mirror',
      'sources',
      '--config',
      join(cliDir, 'aacseed.toml'),
    ])
    console.log(
      `aacseed mirror sources (${n} entries): ${r.seconds.toFixed(1)} s, peak RSS ${r.peakRssMb?.toFixed(0) ?? '?'} MB, exit ${r.code} (bar: 30 s, 400 MB)`,
    )
    if (r.code > 1) console.log(r.stderr.slice(-2000))
    else if (!r.stdout.includes(`${n} AAC releases`))
      console.log(`unexpected report:\n${r.stdout.slice(0, 2000)}`)

    await serveCase(dir, listUrl, n)
  } finally {
    for (const c of cleanups.reverse()) await c()
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  await mirrorListBench()
  process.exit()
}
