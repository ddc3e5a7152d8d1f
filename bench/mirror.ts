/**
 * npm run bench:mirror — mirroring a release against aria2c downloading it, in one run.
 *
 * Upstream: `aacseed serve` seeds the 2 GiB data folder the seed benchmark uses, announcing to
 * a local tracker; its torrent list and .torrent files are on a local HTTP server.
 * 1. Reference: aria2c downloads the .torrent from that seeder (every piece checked).
 * 2. Ours: `aacseed mirror sync` into an empty release root: the list and the .torrent fetched
 *    and checked, the download, the release checked against the AAC standard and torrented
 *    again by the naming rules, renamed into the root, scanned, its torrent made and published.
 * Prints both times, the ratio ours / aria2c and our peak RSS. No bar is set by the issue;
 * the ratio shows what the checks cost on top of the download itself.
 */
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { TestContext } from 'node:test'
import { spawn, type ChildProcess } from 'node:child_process'
import { aria2cDownload, startTracker } from '../test/engines/fixtures.js'
import { freePort, waitFor } from '../test/helpers.js'
import { startStaticServer } from '../test/mirror/fixtures.js'
import { ensureData, FOLDER, SEED_CACHE, TOTAL } from './data.js'
import { measure } from './measure.js'

const repo = resolve(import.meta.dirname, '..', '..')
const cli = join(repo, 'bin', 'aacseed.js')
const cleanups: Array<() => unknown> = []
const ctx = {
  after: (fn: () => unknown) => cleanups.push(fn),
  diagnostic: () => {},
  skip: () => {},
} as unknown as TestContext

function run(args: string[], cwd: string): Promise<void> {
  return new Promise((res, rej) => {
    const child = spawn(process.execPath, [cli, ...args, '--config', join(cwd, 'aacseed.toml')], {
      cwd,
      stdio: 'inherit',
    })
    child.on('exit', (c) => (c === 0 ? res() : rej(new Error(`aacseed ${args.join(' ')} exited ${c}`))))
  })
}

function folderBytes(dir: string): number {
  return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size, 0)
}

async function main(): Promise<void> {
  const root = ensureData()
  const dir = join(SEED_CACHE, 'mirror-run')
  rmSync(dir, { recursive: true, force: true })
  const up = join(dir, 'up')
  mkdirSync(join(up, 'site'), { recursive: true })
  const tracker = await startTracker(ctx)
  const site = await startStaticServer(ctx, join(up, 'site'))
  writeFileSync(
    join(up, 'aacseed.toml'),
    `[catalog]\nroots = [${JSON.stringify(root)}]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "site/torrents"\nlist_path = "site/torrents.json"\nurl_base = "${site.url}/torrents/"\nannounce = [["${tracker.announce}"]]\n` +
      `[engine.webtorrent]\nhost = "127.0.0.1"\nport = ${await freePort()}\ndht = false\nlsd = false\n[http]\nenabled = false\n`,
  )
  console.log('upstream: cataloging and torrenting the 2 GiB release…')
  await run(['scan'], up)
  await run(['torrents', 'make'], up)
  const seeder: ChildProcess = spawn(process.execPath, [cli, 'serve', '--config', join(up, 'aacseed.toml')], {
    cwd: up,
    stdio: 'ignore',
  })
  cleanups.push(() => seeder.kill('SIGKILL'))
  const list = (await (await fetch(`${site.url}/torrents.json`)).json()) as Array<{ btih: string }>
  await waitFor('upstream seeding', () => tracker.seeders(list[0]!.btih) > 0, 300_000, 200)

  // 1. aria2c.
  const ariaOut = join(dir, 'aria2c')
  mkdirSync(ariaOut)
  const ariaStarted = process.hrtime.bigint()
  await aria2cDownload(ctx, join(up, 'site', 'torrents', `${FOLDER}.torrent`), ariaOut, 900_000)
  const aria = Number(process.hrtime.bigint() - ariaStarted) / 1e9
  if (folderBytes(join(ariaOut, FOLDER)) !== TOTAL) throw new Error('aria2c did not download everything')
  rmSync(ariaOut, { recursive: true, force: true })

  // 2. aacseed mirror sync.
  const m = join(dir, 'mirror')
  mkdirSync(join(m, 'releases'), { recursive: true })
  writeFileSync(
    join(m, 'aacseed.toml'),
    `[catalog]\nroots = ["releases"]\ndatabase = "aacseed.db"\n[torrents]\nout_dir = "torrents"\nlist_path = "torrents.json"\n` +
      `[engine.webtorrent]\nhost = "127.0.0.1"\nport = ${await freePort()}\ndht = false\nlsd = false\n[mirror]\nreserve_bytes = 0\n[[mirror.sources]]\nname = "upstream"\nlist = "${site.url}/torrents.json"\n`,
  )
  const ours = await measure(
    process.execPath,
    [cli, 'mirror', 'sync', '--json', '--config', join(m, 'aacseed.toml')],
    { cwd: m },
  )
  if (ours.code !== 0) throw new Error(`mirror sync exited ${ours.code}: ${ours.stderr}`)
  const report = JSON.parse(ours.stdout) as { done: string[] }
  if (report.done.length !== 1 || folderBytes(join(m, 'releases', FOLDER)) !== TOTAL)
    throw new Error(`mirror sync did not bring the release: ${ours.stdout}`)

  console.log(
    `data:                                 ${FOLDER} (${(TOTAL / 2 ** 30).toFixed(0)} GiB, ${readdirSync(join(root, FOLDER)).length} files)`,
  )
  console.log(`aria2c download:                      ${aria.toFixed(2)} s`)
  console.log(
    `aacseed mirror sync (download, check, re-torrent, scan, publish): ${ours.seconds.toFixed(2)} s`,
  )
  console.log(`ratio ours / aria2c:                  ${(ours.seconds / aria).toFixed(2)}`)
  console.log(`aacseed peak RSS:                     ${ours.peakRssMb?.toFixed(0) ?? '?'} MB`)
  rmSync(dir, { recursive: true, force: true })
}

try {
  await main()
} finally {
  for (const c of cleanups.reverse()) await c()
}
process.exit()
