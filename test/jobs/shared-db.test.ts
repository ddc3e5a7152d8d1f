/**
 * The CLI and a running `serve` on one database (issue #11 §3): serve runs on a generated
 * tree with its jobs on a seconds schedule, while every CLI command runs against the same
 * config, as separate processes, in a loop. Coverage figures never regress, the record count
 * stays exact, what needs the engine is answered by serve's engine (never a second, empty
 * one), and nothing fails except with the documented "is running in ... wait, or stop" message.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { test } from 'node:test'
import { writeSampleRelease } from '../../src/catalog/index.js'
import { openDatabase } from '../../src/db/index.js'
import { Leases } from '../../src/jobs/leases.js'
import { killChild } from '../engines/fixtures.js'
import { recordsOf } from '../fixtures.js'
import { freePort, runCli, runCliProcess, spawnCli, tempDir, waitFor, type CliResult } from '../helpers.js'

const HELD = /is running in (serve|aacseed) \(pid \d+\) since \d\d:\d\d UTC; wait, or stop (serve|it)/

interface Levels {
  [level: string]: { bytes: number; records: number }
}

test('CLI commands in a loop while serve runs its jobs: no regression, exact counts, only "held" refusals', async (t) => {
  const dir = tempDir(t)
  const root = join(dir, 'releases')
  const sample = writeSampleRelease({
    root,
    seed: 17,
    collections: [
      { name: 'zlib3_records', kind: 'records', ranges: 3, recordsPerRange: 300 },
      { name: 'zlib3_files', kind: 'files', ranges: 1, recordsPerRange: 12, blobBytes: [50_000, 400_000] },
    ],
  })
  const httpPort = await freePort()
  const config = join(dir, 'aacseed.toml')
  writeFileSync(
    config,
    `[catalog]
roots = ["releases"]
database = "aacseed.db"
[torrents]
out_dir = "torrents"
list_path = "torrents.json"
[engine.webtorrent]
host = "127.0.0.1"
port = ${await freePort()}
dht = false
lsd = false
[jobs]
scan = "*/2 * * * * *"
make_torrents = "*/3 * * * * *"
seed = "*/4 * * * * *"
engine_status = "*/2 * * * * *"
[http]
host = "127.0.0.1"
port = ${httpPort}
`,
  )
  const env = { ...process.env, AACSEED_CONFIG: config, AACSEED_HTTP_TOKEN: 'shared-db-test-token' }
  const serve = spawnCli(['serve'], { env, cwd: dir })
  let out = ''
  serve.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  serve.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  t.after(() => killChild(serve))

  const coverage = async (): Promise<{ records: number; levels: Levels }> => {
    const r = await runCli(['coverage', '--json'], { env, cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    const j = JSON.parse(r.stdout) as { totals: { records: number; levels: Levels } }
    return { records: j.totals.records, levels: j.totals.levels }
  }
  // Up to date: everything cataloged, torrented and seeding in serve's engine.
  const ready = await waitFor(
    'serve up to date',
    async () => {
      if (serve.exitCode !== null) throw new Error(`serve exited ${serve.exitCode}:\n${out}`)
      const r = await runCli(['coverage', '--json'], { env, cwd: dir })
      if (r.code !== 0) return false
      const c = JSON.parse(r.stdout) as { totals: { records: number; bytes: number; levels: Levels } }
      const l = c.totals.levels
      return c.totals.records === sample.records &&
        l.torrented!.bytes === c.totals.bytes &&
        l.seeded!.bytes === c.totals.bytes
        ? c
        : false
    },
    90_000,
    500,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${out.slice(-3000)}`)
  })
  const torrents = (JSON.parse((await runCli(['torrents', 'list'], { env, cwd: dir })).stdout) as unknown[])
    .length
  assert.equal(torrents, sample.metaFiles.length + sample.dataFolders.length)
  const db = openDatabase(join(dir, 'aacseed.db'), { readonly: true })
  const aacid = recordsOf(db, sample.metaFiles[0]!)[0]!.aacid
  db.close()

  const ok = (r: CliResult, args: string[], allowed: number[] = [0]): 'ok' | 'held' => {
    if (allowed.includes(r.code)) return 'ok'
    assert.equal(r.code, 2, `aacseed ${args.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`)
    assert.match(r.stderr, HELD, `aacseed ${args.join(' ')}: ${r.stderr}`)
    return 'held'
  }
  const commands: Array<{ args: string[]; allowed?: number[]; check?: (r: CliResult) => void }> = [
    { args: ['scan'] },
    { args: ['torrents', 'make'] },
    { args: ['torrents', 'list'] },
    { args: ['jobs'] },
    { args: ['health'], allowed: [0, 1] },
    { args: ['get', aacid] },
    { args: ['fleet', 'status'] },
    { args: ['mirror', 'status'] },
    { args: ['config'] },
    { args: ['validate', root] },
    {
      // Forwarded to serve: its engine answers, with every torrent (never a second, empty engine).
      args: ['run', 'engine_status', '--json'],
      check: (r) => {
        const run = JSON.parse(r.stdout) as { outcome: string; counts: Record<string, number> }
        assert.equal(run.outcome, 'ok')
        assert.equal(run.counts.torrents, torrents)
        assert.equal(run.counts.seeding, torrents)
      },
    },
    { args: ['run', 'scan'] },
    { args: ['run', 'make_torrents'] },
    { args: ['seed'] },
  ]
  let last = ready.totals.levels
  const tally: Record<string, number> = { ok: 0, held: 0 }
  // In this test's process (one pid, not serve's: to the leases it is another process), which
  // keeps the loop fast; `serve` itself runs as a child.
  for (let round = 0; round < 2; round++) {
    for (const c of commands) {
      const r = await runCli(c.args, { env, cwd: dir })
      const got = ok(r, c.args, c.allowed)
      tally[got]!++
      if (got === 'ok') c.check?.(r)
      const now = await coverage()
      assert.equal(now.records, sample.records, `records after aacseed ${c.args.join(' ')}`)
      for (const [level, f] of Object.entries(last))
        assert.ok(
          now.levels[level]!.bytes >= f.bytes,
          `${level} regressed after aacseed ${c.args.join(' ')}: ${now.levels[level]!.bytes} < ${f.bytes}`,
        )
      last = now.levels
    }
  }
  assert.ok(tally.ok! > 0)
  t.diagnostic(`commands: ${tally.ok} ran, ${tally.held} refused as held`)

  // serve's own runs: none failed; a run skipped for a lease names its holder.
  const runs = JSON.parse(
    runCliProcess(['jobs', '--json', '--limit', '500'], { env, cwd: dir }).stdout,
  ) as Array<{
    job: string
    outcome: string
    error: string | null
  }>
  assert.deepEqual(
    runs.filter((r) => r.outcome === 'failed'),
    [],
  )
  for (const r of runs.filter((x) => x.outcome === 'skipped'))
    assert.ok(r.error === 'previous run still running' || HELD.test(r.error ?? ''), r.error ?? '')

  // Another process holding the catalog: serve's scans are skipped naming it, the CLI is refused.
  const ldb = openDatabase(join(dir, 'aacseed.db'))
  const hold = new Leases(ldb, { holder: 'cli' }).acquire('catalog', 'scan')
  const refused = await runCli(['torrents', 'make'], { env, cwd: dir })
  assert.equal(refused.code, 2, refused.stderr)
  assert.match(refused.stderr, HELD)
  const since = new Date().toISOString()
  await waitFor('serve skipping a scan for the held catalog', async () => {
    const r = JSON.parse(
      (await runCli(['jobs', '--json', '--job', 'scan'], { env, cwd: dir })).stdout,
    ) as Array<{
      outcome: string
      error: string | null
      startedAt: string
    }>
    return r.some(
      (x) =>
        x.startedAt > since &&
        x.outcome === 'skipped' &&
        /scan is running in aacseed \(pid/.test(x.error ?? ''),
    )
  })
  hold.release()
  ldb.close()
  assert.equal((await coverage()).records, sample.records)

  // A second serve on the same database is refused, naming the first.
  const second = runCliProcess(['serve'], { env, cwd: dir, timeout: 30_000 })
  assert.equal(second.code, 2, second.stdout + second.stderr)
  assert.match(second.stderr, /serve is already running on this database \(pid \d+\)/)

  const exited = new Promise<number | null>((res) => serve.once('exit', (c) => res(c)))
  serve.kill('SIGTERM')
  assert.equal(await exited, 0, out.slice(-2000))
  // With serve gone, what needs the embedded engine is refused, not run on an empty engine.
  const status = await runCli(['run', 'engine_status'], { env, cwd: dir })
  assert.equal(status.code, 2)
  assert.match(status.stderr, /needs the running engine.*start aacseed serve/)
})
