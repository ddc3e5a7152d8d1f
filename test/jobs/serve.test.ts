/**
 * `aacseed serve` as an operator runs it: a child process on a generated release tree, the
 * embedded WebTorrent engine, a local tracker, and aria2c downloading every release from it.
 */
import assert from 'node:assert/strict'
import { type ChildProcess } from 'node:child_process'
import { readdirSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { test, type TestContext } from 'node:test'
import { writeSampleRelease } from '../../src/catalog/index.js'
import { aria2cDownload, killChild, readTree, startTracker, startTransmission } from '../engines/fixtures.js'
import { freePort, requireTool, runCli, spawnCli, tempDir, waitFor } from '../helpers.js'

interface Served {
  dir: string
  root: string
  config: string
  env: NodeJS.ProcessEnv
  child: ChildProcess
  output: () => string
}

interface Run {
  id: number
  job: string
  trigger: string
  outcome: string
  counts: Record<string, number> | null
  error: string | null
}

function writeConfig(dir: string, toml: string): string {
  const config = join(dir, 'aacseed.toml')
  writeFileSync(config, toml)
  return config
}

function baseToml(announce: string, port: number, extra = ''): string {
  return `[catalog]
roots = ["releases"]
database = "aacseed.db"
[torrents]
out_dir = "torrents"
list_path = "torrents.json"
announce = [["${announce}"]]
[engine.webtorrent]
host = "127.0.0.1"
port = ${port}
dht = false
lsd = false
[http]
enabled = false
${extra}`
}

function start(t: TestContext, dir: string, config: string): Served {
  const env = { ...process.env, AACSEED_CONFIG: config }
  const child = spawnCli(['serve'], { env, cwd: dir })
  let out = ''
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
  t.after(() => killChild(child))
  return { dir, root: join(dir, 'releases'), config, env, child, output: () => out }
}

async function runs(s: { env: NodeJS.ProcessEnv; dir: string }): Promise<Run[]> {
  const r = await runCli(['jobs', '--json', '--limit', '200'], { env: s.env, cwd: s.dir })
  return r.code === 0 ? (JSON.parse(r.stdout) as Run[]) : []
}

async function stop(s: Served): Promise<{ code: number | null; ms: number }> {
  const started = Date.now()
  const exited = new Promise<number | null>((res) => s.child.once('exit', (c) => res(c)))
  s.child.kill('SIGTERM')
  const code = await exited
  return { code, ms: Date.now() - started }
}

test('serve catalogs, torrents and seeds a release tree; aria2c downloads every release; a restart re-hashes nothing', async (t) => {
  if (!requireTool(t, 'aria2c')) return
  const dir = tempDir(t)
  writeSampleRelease({
    root: join(dir, 'releases'),
    seed: 11,
    collections: [
      { name: 'zlib3_records', kind: 'records', ranges: 2, recordsPerRange: 200 },
      { name: 'zlib3_files', kind: 'files', ranges: 1, recordsPerRange: 16, blobBytes: [500_000, 1_500_000] },
    ],
  })
  const tracker = await startTracker(t)
  const config = writeConfig(dir, baseToml(tracker.announce, await freePort()))
  const s = start(t, dir, config)
  const releases = readdirSync(s.root)
  // Up to date: every release torrented and seeding.
  await waitFor(
    'all releases seeding',
    async () => {
      if (s.child.exitCode !== null) throw new Error(`serve exited ${s.child.exitCode}:\n${s.output()}`)
      const seeds = (await runs(s)).filter((r) => r.job === 'engine_status' && r.outcome === 'ok')
      return seeds.some((r) => r.counts?.seeding === releases.length)
    },
    60_000,
    300,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${s.output().slice(-3000)}`)
  })
  assert.deepEqual(readdirSync(join(dir, 'torrents')).sort(), releases.map((n) => `${n}.torrent`).sort())

  for (const name of releases) {
    const out = tempDir(t)
    await aria2cDownload(t, join(dir, 'torrents', `${name}.torrent`), out)
    const got = readTree(out)
    const want = readTree(s.root)
    for (const [p, bytes] of got) assert.ok(bytes.equals(want.get(p)!), `${p} downloaded intact`)
    assert.ok(
      got.size > 0 &&
        [...want.keys()].filter((p) => p === name || p.startsWith(`${name}/`)).every((p) => got.has(p)),
      `all of ${name} downloaded`,
    )
  }

  const stopped = await stop(s)
  assert.equal(stopped.code, 0, s.output())
  assert.ok(stopped.ms < 10_000, `stopped in ${stopped.ms} ms`)

  // Restart: the startup seed job adds everything again without verifying (data unchanged since hashed).
  const lastRun = Math.max(...(await runs(s)).map((r) => r.id))
  const again = start(t, dir, config)
  const startedAt = Date.now()
  const seedRun = await waitFor(
    'startup seed run',
    async () =>
      (await runs(again)).find(
        (r) =>
          r.id > lastRun &&
          r.job === 'seed' &&
          r.trigger === 'startup' &&
          r.outcome === 'ok' &&
          (r.counts?.added ?? 0) > 0 &&
          r.counts?.already === 0,
      ),
    30_000,
    100,
  )
  t.diagnostic(`time to seeding after restart: ${Date.now() - startedAt} ms`)
  assert.equal(seedRun.counts?.added, releases.length)
  assert.equal(seedRun.counts?.verified, 0)
  const seeding = await waitFor(
    'seeding after restart',
    async () => {
      const st = (await runs(again)).filter(
        (r) => r.id > lastRun && r.job === 'engine_status' && r.outcome === 'ok',
      )
      return st.find((r) => r.counts?.seeding === releases.length)
    },
    30_000,
    200,
  )
  assert.ok(seeding)
  // The data was not read again: aria2c still gets every byte, from pieces WebTorrent never re-hashed.
  const out = tempDir(t)
  const folder = releases.find((n) => n.includes('_data__'))!
  await aria2cDownload(t, join(dir, 'torrents', `${folder}.torrent`), out)
  assert.equal(readTree(out).size, readdirSync(join(s.root, folder)).length)
  assert.equal((await stop(again)).code, 0)
})

test('bad input: missing root, bad cron and a port in use are clear errors with exit code 2', async (t) => {
  const dir = tempDir(t)
  writeSampleRelease({
    root: join(dir, 'releases'),
    seed: 2,
    collections: [{ name: 'zlib3_records', kind: 'records', ranges: 1, recordsPerRange: 10 }],
  })
  const port = await freePort()

  const missing = writeConfig(
    dir,
    baseToml('http://127.0.0.1:1/announce', port).replace(
      'roots = ["releases"]',
      'roots = ["releases", "nowhere"]',
    ),
  )
  let r = await runCli(['serve'], { env: { ...process.env, AACSEED_CONFIG: missing }, cwd: dir })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /catalog\.roots\[1\]: path does not exist/)

  const badCron = writeConfig(
    dir,
    baseToml('http://127.0.0.1:1/announce', port, '[jobs]\nscan = "every minute"\n'),
  )
  r = await runCli(['serve'], { env: { ...process.env, AACSEED_CONFIG: badCron }, cwd: dir })
  assert.equal(r.code, 2)
  assert.match(r.stderr, /jobs\.scan/)
  assert.match(r.stderr, /every minute/)

  const blocker = createServer()
  await new Promise<void>((res) => blocker.listen(port, '127.0.0.1', res))
  t.after(() => new Promise<void>((res) => blocker.close(() => res())))
  const taken = writeConfig(dir, baseToml('http://127.0.0.1:1/announce', port))
  const s = start(t, dir, taken)
  const code = await new Promise<number | null>((res) => s.child.once('exit', (c) => res(c)))
  assert.equal(code, 2, s.output())
  assert.match(s.output(), /port/i)
  assert.match(s.output(), new RegExp(String(port)))
})

test('with Transmission unreachable or refusing the credentials, serve keeps running and records failed seed runs', async (t) => {
  if (!requireTool(t, 'transmission-daemon')) return
  const dir = tempDir(t)
  writeSampleRelease({
    root: join(dir, 'releases'),
    seed: 5,
    collections: [{ name: 'zlib3_records', kind: 'records', ranges: 1, recordsPerRange: 20 }],
  })
  const daemon = await startTransmission(t, dir, { auth: { user: 'seeder', pass: 'right-password' } })
  const deadPort = await freePort()
  for (const [label, url, password] of [
    ['unreachable', `http://127.0.0.1:${deadPort}/transmission/rpc`, 'unreachable-secret-pw-77'],
    ['wrong credentials', daemon.url, 'wrong-password-123'],
  ] as const) {
    const config = writeConfig(
      dir,
      baseToml(
        'http://127.0.0.1:1/announce',
        await freePort(),
        `[engine]\nkind = "transmission"\n[engine.transmission]\nurl = "${url}"\nusername = "seeder"\ntimeout_ms = 2000\n`,
      ),
    )
    const env = { ...process.env, AACSEED_CONFIG: config, AACSEED_TRANSMISSION_PASSWORD: password }
    const before = Math.max(0, ...(await runs({ env, dir })).map((r) => r.id))
    const child = spawnCli(['serve'], { env, cwd: dir })
    let out = ''
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()))
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()))
    t.after(() => killChild(child))
    const failed = await waitFor(
      `${label}: a failed seed run`,
      async () =>
        (await runs({ env, dir })).find(
          (r) => r.id > before && r.job === 'seed' && r.outcome === 'failed' && r.trigger === 'startup',
        ),
      60_000,
      200,
    )
    assert.match(
      failed.error ?? '',
      label === 'unreachable' ? /unreachable|refused|ECONNREFUSED/i : /auth|401|credential/i,
    )
    assert.ok(!(failed.error ?? '').includes(password), 'the password is not in the recorded error')
    assert.ok(!out.includes(password), 'the password is not logged')
    assert.equal(child.exitCode, null, `${label}: serve is still running\n${out}`)
    const exited = new Promise<number | null>((res) => child.once('exit', (c) => res(c)))
    child.kill('SIGTERM')
    assert.equal(await exited, 0)
  }
})

test('serve over many torrents logs one start-up summary, not a line per torrent; a torrent failing still has its own warning', async (t) => {
  const dir = tempDir(t)
  const ranges = 60
  writeSampleRelease({
    root: join(dir, 'releases'),
    seed: 5,
    collections: [{ name: 'zlib3_records', kind: 'records', ranges, recordsPerRange: 5 }],
  })
  const tracker = await startTracker(t)
  const config = writeConfig(dir, baseToml(tracker.announce, await freePort()))
  const first = start(t, dir, config)
  await waitFor(
    'all torrents seeding',
    async () => {
      if (first.child.exitCode !== null)
        throw new Error(`serve exited ${first.child.exitCode}:\n${first.output()}`)
      const st = (await runs(first)).filter((r) => r.job === 'engine_status' && r.outcome === 'ok')
      return st.some((r) => r.counts?.seeding === ranges)
    },
    60_000,
    300,
  )
  assert.equal((await stop(first)).code, 0, first.output())

  // A restart seeds every torrent at start-up; one release's data has gone meanwhile.
  const names = readdirSync(join(dir, 'releases')).sort()
  assert.equal(names.length, ranges)
  const gone = names[0]!
  rmSync(join(dir, 'releases', gone))
  const again = start(t, dir, config)
  await waitFor('the start-up summary', () => again.output().includes('aacseed serving after'), 30_000, 100)
  assert.equal((await stop(again)).code, 0, again.output())
  const lines = again
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { level: number; msg: string })
  // Info and below (JSON: level 30 is info): nothing that names one torrent, and far fewer lines than torrents.
  const info = lines.filter((l) => l.level <= 30)
  const perTorrent = info.filter((l) => 'infoHash' in l || 'torrent' in l || 'name' in l)
  assert.deepEqual(perTorrent, [], 'no info line per torrent')
  assert.ok(info.length < ranges / 2, `${info.length} info lines for ${ranges} torrents:\n${again.output()}`)
  const summary = lines.filter((l) => l.msg.startsWith('aacseed serving after'))
  assert.equal(summary.length, 1, again.output())
  const s = summary[0] as unknown as { msg: string; startupMs: number; seed: Record<string, number> }
  assert.ok(s.startupMs > 0)
  assert.equal(s.seed.added, ranges - 1)
  assert.equal(s.seed.failed, 1)
  assert.match(s.msg, new RegExp(`${ranges - 1} added, 0 already there, 0 verified, 1 failed`))
  // The torrent in trouble keeps its own warning line, naming it.
  assert.ok(
    lines.some((l) => l.level === 40 && typeof l.torrent === 'string' && gone.startsWith(l.torrent)),
    again.output(),
  )
})
